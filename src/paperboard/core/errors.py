"""Exceptions that carry a one-line message meant for the person running paperboard."""


class PaperboardError(Exception):
    """Base class: ``str(error)`` is a complete, one-line explanation."""


class ConfigError(PaperboardError):
    """A setting is missing or has a bad value."""


class InvalidIdError(PaperboardError, ValueError):
    """A string is not a paper identifier paperboard understands."""


class SourceError(PaperboardError):
    """A source failed as a whole (network down, server error after retries, error response)."""


class NotFoundError(PaperboardError, LookupError):
    """The thing asked for is not in the store."""


class ConflictError(PaperboardError):
    """The change clashes with what is stored (an e-mail address already signed up)."""


class ForbiddenError(PaperboardError, PermissionError):
    """The member may not do this (another member's comment, an admin-only action)."""


class LimitError(PaperboardError):
    """A quota or rate limit is reached; the message says when to try again."""
