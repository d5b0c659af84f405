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
