"""Members' display names: what one may be, so that it shows as what it is.

A name is shown beside comments and submissions, so it must not be blank (it would read as a
deleted member) or carry characters that change how text around it is shown: control codes,
direction overrides and isolates (U+202E turns the rest of a line around), invisible formatting
and line separators. Zero-width (non-)joiners stay: Persian, Indic scripts and emoji need them.
"""

from __future__ import annotations

import unicodedata

from paperboard.core.errors import PaperboardError

MAX_LENGTH = 80
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
