"""One arXiv metadata record to one :class:`~paperboard.core.records.PaperRecord`.

arXiv's bulk snapshot (JSON lines) and OAI-PMH ``arXivRaw`` (XML) carry the same fields under the
same names: ``id``, ``submitter``, ``version`` entries (a label ``v1`` and a date), ``title``,
``authors``, ``categories``, ``comments``, ``journal-ref``, ``doi``, ``report-no``, ``license``,
``abstract``. Each format module says how it reads a field from its own record (an
:class:`ArxivFormat`), and :func:`build_record` turns the fields into a record, so these rules live
here once:

* the title must hold more than white space;
* version labels are ``v1`` to ``v999`` (the ``v`` optional); a repeated label keeps its first
  date; dates are ISO 8601 or RFC 2822 (as arXiv writes them), in UTC; the paper's version is the
  highest, else the one its id names; it was published at the first version and updated at the
  last;
* authors are the names the format parsed itself, else those of the one-string list
  (``A, B and C``); categories are space separated, primary first; empty text in either means
  the record does not say;
* every other field is copied as it is (``prepare`` in ``normalize`` cleans them up later).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import Generic, TypeVar

from paperboard.core.ids import parse_arxiv_id
from paperboard.core.records import PaperRecord
from paperboard.sources.normalize import one_line, parse_datetime, split_authors

Raw = TypeVar("Raw")

_VERSION_LABEL = re.compile(r"v?([1-9][0-9]{0,2})", re.ASCII)
_SHOWN = 40  # characters of a bad label quoted in its message


@dataclass(frozen=True, slots=True)
class ArxivFormat(Generic[Raw]):
    """How one format reads the fields of its records (``Raw``). Any of these may raise
    ValueError for input it cannot use, which then becomes the record's skip reason."""

    text: Callable[[Raw, str], str | None]
    """The text of a field, by arXiv's name for it (``"journal-ref"``); ``None`` when absent."""
    versions: Callable[[Raw], Iterable[tuple[str, str | None]]]
    """The ``(label, date)`` of each version, in the record's order; the date ``None`` if absent."""
    authors: Callable[[Raw], list[str] | None]
    """Author names the format parsed itself (the snapshot's ``authors_parsed``), else ``None``:
    the ``authors`` text is then split."""


@lru_cache(maxsize=65536)
def _version_time(text: str) -> tuple[datetime | None, str | None]:
    # Many papers share a submission time string; parsing RFC 2822 dates is the slow part.
    when = parse_datetime(text)
    return when, when.isoformat() if when else None


def _versions(
    entries: Iterable[tuple[str, str | None]],
) -> tuple[list[dict[str, object]] | None, int | None, datetime | None, datetime | None]:
    """The versions in order (``{"version": 2, "created": ISO 8601 or None}``), the highest
    version, and the dates of the first and the last."""
    seen: dict[int, tuple[datetime | None, str | None]] = {}
    for label, created in entries:
        match = _VERSION_LABEL.fullmatch(label.strip())
        if match is None:
            raise ValueError(f"bad version label {one_line(label, _SHOWN)!r}")
        number = int(match[1])
        try:
            when = _version_time(created) if created is not None else (None, None)
        except (ValueError, OverflowError) as error:
            raise ValueError(f"bad date of version v{number}: {error}") from None
        seen.setdefault(number, when)
    if not seen:
        return None, None, None, None
    numbers = sorted(seen)
    versions: list[dict[str, object]] = [
        {"version": number, "created": seen[number][1]} for number in numbers
    ]
    return versions, numbers[-1], seen[numbers[0]][0], seen[numbers[-1]][0]


def build_record(raw: Raw, raw_id: str, form: ArxivFormat[Raw], source: str) -> PaperRecord:
    """The record of ``raw``, whose id (in any form arXiv writes one) is ``raw_id``.

    Raises ValueError (or :class:`~paperboard.core.errors.InvalidIdError`) when it is unusable: no
    valid id, no title, a bad version, or a field the format cannot read. Fields are read in the
    order of the record, so of several faults the first is reported.
    """
    arxiv = parse_arxiv_id(raw_id)
    text = form.text
    title = text(raw, "title")
    if not title or not title.strip():
        raise ValueError("no title")
    versions, version, published, updated = _versions(form.versions(raw))
    categories = text(raw, "categories")
    abstract = text(raw, "abstract")
    authors = form.authors(raw)
    if authors is None:
        names = text(raw, "authors")
        authors = split_authors(names) if names and not names.isspace() else None
    return PaperRecord(
        id=arxiv.id,
        source=source,
        version=version or arxiv.version,
        title=title,
        abstract=abstract,
        authors=authors,
        categories=(categories.split() or None) if categories else None,
        published_at=published,
        updated_at=updated,
        versions=versions,
        comments=text(raw, "comments"),
        doi=text(raw, "doi"),
        journal_ref=text(raw, "journal-ref"),
        report_no=text(raw, "report-no"),
        license=text(raw, "license"),
        submitter=text(raw, "submitter"),
    )
