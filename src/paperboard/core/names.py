"""Members' display names and e-mail addresses: what one may be, so that it shows (or is mailed)
as what it is.

A name is shown beside comments and submissions, so it must not be blank (it would read as a
deleted member) or carry characters that change how text around it is shown: control codes,
direction overrides and isolates (U+202E turns the rest of a line around), invisible formatting
and line separators. Zero-width (non-)joiners stay: Persian, Indic scripts and emoji need them.
"""

from __future__ import annotations

import re
import unicodedata

from paperboard.core.errors import PaperboardError

MAX_LENGTH = 80
MAX_ADDRESS_LENGTH = 320
_ADDRESS = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")  # the shape the sign-up form asks for
_ALLOWED_FORMAT = {"\u200c", "\u200d"}  # zero-width non-joiner and joiner
_HIDDEN = {"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"}


def check_display_name(name: str) -> str:
    """``name`` without surrounding white space; a one-line PaperboardError unless it is one
    that may be shown."""
    clean = name.strip()
    if not clean:
        raise PaperboardError("the account needs a name: a blank one is not allowed")
    if len(clean) > MAX_LENGTH:
        raise PaperboardError(f"the name may have at most {MAX_LENGTH} characters")
    for char in clean:
        if unicodedata.category(char) in _HIDDEN and char not in _ALLOWED_FORMAT:
            raise PaperboardError(
                "the name may not contain control, invisible or text-direction characters "
                f"(it has U+{ord(char):04X})"
            )
    return clean


def normalize_email(address: str) -> str:
    """The form addresses are stored and compared in: no surrounding white space, lower case."""
    return address.strip().lower()


def check_email_address(address: str) -> str:
    """:func:`normalize_email`; a one-line PaperboardError unless the address has the shape of
    an e-mail address (``name@host.domain``, no spaces or controls)."""
    clean = normalize_email(address)
    if len(clean) > MAX_ADDRESS_LENGTH or not _ADDRESS.fullmatch(clean):
        raise PaperboardError(f"not an e-mail address: {clean[:80]!r}")
    if any(unicodedata.category(char) in _HIDDEN for char in clean):
        raise PaperboardError("the e-mail address may not contain control or invisible characters")
    return clean


def author_key(name: str) -> str:
    """An author name folded for matching spellings of it: accents and punctuation gone, lower
    case, one space between words (``Jürgen  Schmidhuber`` = ``jurgen schmidhuber``)."""
    decomposed = unicodedata.normalize("NFKD", name)
    plain = "".join(char for char in decomposed if not unicodedata.combining(char))
    return " ".join(re.sub(r"[^\w]+", " ", plain.casefold()).split())
