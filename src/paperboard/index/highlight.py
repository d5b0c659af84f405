"""Mark a query's words in a paper's title and in a snippet of its abstract, as safe HTML.

Used for every search hit, whichever ranking found it, so lexical and semantic hits look the same.
Matching is by word prefix after light stemming (``network`` marks "networks"); everything else
is escaped, so a title holding ``<script>`` shows as text.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import lru_cache
from html import escape

_WORD = re.compile(r"\w+", re.UNICODE)
_SUFFIXES = ("ations", "ation", "ings", "ing", "ies", "ied", "es", "ed", "ly", "s")


def stem(word: str) -> str:
    """A crude English stem, only used to decide what to mark."""
    word = word.lower()
    for suffix in _SUFFIXES:
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            return word[: -len(suffix)]
    return word


def _pattern(terms: Iterable[str]) -> re.Pattern[str] | None:
    return _compiled(tuple(terms))


@lru_cache(maxsize=256)  # a page of hits marks the same query's words some 20 times
def _compiled(terms: tuple[str, ...]) -> re.Pattern[str] | None:
    stems = sorted(
        {stem(t) for term in terms for t in _WORD.findall(term) if len(t) > 1},
        key=len,
        reverse=True,
    )
    if not stems:
        return None
    return re.compile(r"\b(?:" + "|".join(re.escape(s) for s in stems) + r")\w*", re.IGNORECASE)


def mark(text: str, terms: Iterable[str]) -> str:
    """``text`` escaped, with the words matching ``terms`` wrapped in ``<mark>``."""
    pattern = _pattern(terms)
    if pattern is None:
        return escape(text)
    out: list[str] = []
    last = 0
    for match in pattern.finditer(text):
        out.append(escape(text[last : match.start()]))
        out.append(f"<mark>{escape(match.group(0))}</mark>")
        last = match.end()
    out.append(escape(text[last:]))
    return "".join(out)


def snippet(text: str, terms: Iterable[str], width: int = 240) -> str:
    """About ``width`` characters of ``text`` around its densest run of matches, marked."""
    terms = list(terms)
    if len(text) <= width:
        return mark(text, terms)
    pattern = _pattern(terms)
    start = 0
    if pattern is not None:
        hits = [m.start() for m in pattern.finditer(text)]
        if hits:
            best = max(hits, key=lambda h: sum(1 for other in hits if h <= other < h + width))
            start = max(0, best - width // 4)
    end = min(len(text), start + width)
    if end == len(text):
        start = max(0, end - width)
    if start > 0:  # begin and end on word boundaries
        space = text.find(" ", start)
        start = space + 1 if 0 <= space < start + 30 else start
    if end < len(text):
        space = text.rfind(" ", start, end)
        end = space if space > start + width // 2 else end
    body = mark(text[start:end], terms)
    return ("… " if start > 0 else "") + body + (" …" if end < len(text) else "")
