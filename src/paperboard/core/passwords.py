"""Password hashing with argon2id (argon2-cffi's defaults), and the rules a new password meets."""

from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from paperboard.core.errors import PaperboardError

MIN_LENGTH = 10
MAX_LENGTH = 1024  # argon2 takes any length; this only stops absurd inputs

_hasher = PasswordHasher()
# Verified against when the e-mail is unknown, so both failures cost the same time.
_DUMMY = _hasher.hash("paperboard-dummy-password")


def check_new_password(password: str) -> None:
    """Raise a one-line PaperboardError unless ``password`` is acceptable."""
    if len(password) < MIN_LENGTH:
        raise PaperboardError(f"the password needs at least {MIN_LENGTH} characters")
    if len(password) > MAX_LENGTH:
        raise PaperboardError(f"the password may have at most {MAX_LENGTH} characters")


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    """True if ``password`` matches; with ``None`` (no such member) it still spends the time."""
    try:
        return (
            _hasher.verify(password_hash or _DUMMY, password[:MAX_LENGTH])
            and password_hash is not None
        )
    except (VerificationError, InvalidHashError):
        return False
