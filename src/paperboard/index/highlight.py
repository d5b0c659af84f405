"""Every snippet, highlight and excerpt of a paper's text: the one place that cuts text short
and marks words in it.

* :func:`mark` and :func:`snippet` mark a query's words in a title and in a window of an abstract,
  as safe HTML. Used for every search hit, whichever ranking found it, so lexical and semantic hits
  look the same. Matching is by word prefix after light stemming (``network`` marks "networks").
* :func:`mark_spans`, :func:`fragment` and :func:`lead` do the same for spans found elsewhere (the
  lexical index's own highlighter).
* :func:`excerpt` is the plain-text start of an abstract that cards, feeds and e-mails show.

In HTML everything but the ``<mark>`` tags is escaped, so a title holding ``<script>`` shows as
text. A cut is made at a space, and shown as "…".
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


def _word_cut(text: str, stop: int, *, floor: int, start: int = 0) -> int | None:
    """Where to end ``text[start:stop]`` so that no word is split: its last space, if that lies
    after ``floor``; otherwise ``None`` (the text is cut at ``stop``, inside a word)."""
    space = text.rfind(" ", start, stop)
    return space if space > floor else None


def _framed(body: str, *, cut_before: bool, cut_after: bool) -> str:
    return ("… " if cut_before else "") + body + (" …" if cut_after else "")


def mark_spans(
    text: str, spans: Iterable[tuple[int, int]], start: int = 0, end: int | None = None
) -> str:
    """``text[start:end]`` escaped, with ``<mark>`` around the character ``spans`` (the parts of
    them inside the window that no earlier span covered)."""
    end = len(text) if end is None else end
    out: list[str] = []
    at = start
    for first, last in sorted(spans):
        first, last = max(first, at), min(last, end)
        if last <= first:
            continue
        out.append(escape(text[at:first]))
        out.append(f"<mark>{escape(text[first:last])}</mark>")
        at = last
    out.append(escape(text[at:end]))
    return "".join(out)


def mark(text: str, terms: Iterable[str]) -> str:
    """``text`` escaped, with the words matching ``terms`` wrapped in ``<mark>``."""
    pattern = _pattern(terms)
    if pattern is None:
        return escape(text)
    return mark_spans(text, [match.span() for match in pattern.finditer(text)])


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
        end = _word_cut(text, end, start=start, floor=start + width // 2) or end
    body = mark(text[start:end], terms)
    return _framed(body, cut_before=start > 0, cut_after=end < len(text))


def fragment(text: str, spans: Iterable[tuple[int, int]], start: int, end: int) -> str:
    """``text[start:end]`` with ``<mark>`` around the character ``spans``, and "…" where text was
    cut off; a cut that would only leave out spaces and punctuation is not made (the final full
    stop stays)."""
    if not any(char.isalnum() for char in text[:start]):
        start = 0
    if not any(char.isalnum() for char in text[end:]):
        end = len(text)
    body = mark_spans(text, spans, start, end)
    return _framed(body, cut_before=start > 0, cut_after=end < len(text))


def lead(text: str, width: int) -> str:
    """The start of ``text``, at most ``width`` characters cut at a space, escaped: the snippet
    when no word matched."""
    if len(text) <= width:
        return escape(text)
    cut = _word_cut(text, width + 1, floor=width // 2) or width
    return escape(text[:cut].rstrip()) + " …"


def excerpt(text: str | None, width: int = 320) -> str:
    """``text`` on one line, cut at a space before ``width`` characters, with an ellipsis: plain
    text (templates escape it), for paper cards, feed entries and e-mails."""
    text = " ".join((text or "").split())
    if len(text) <= width:
        return text
    cut = _word_cut(text, width, floor=width // 2) or width
    return text[:cut].rstrip(",;:.") + "…"
