"""One arXiv metadata record to one :class:`~paperboard.core.records.PaperRecord`.

arXiv's bulk snapshot (JSON lines) and OAI-PMH ``arXivRaw`` (XML) carry the same fields under the
same names: ``id``, ``submitter``, ``version`` entries, ``title``, ``authors``, ``categories``,
``comments``, ``journal-ref``, ``doi``, ``report-no``, ``license``, ``abstract``. Each format
module says how it reads a field from its own record (an :class:`ArxivFormat`), and
:func:`build_record` maps the fields onto a record, so the mapping rules live here once.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Generic, TypeVar

from paperboard.core.ids import parse_arxiv_id
from paperboard.core.records import PaperRecord

Raw = TypeVar("Raw")
Versions = list[dict[str, object]]


@dataclass(frozen=True, slots=True)
class ArxivFormat(Generic[Raw]):
    """How one format reads the fields of its records (``Raw``): any of these may raise
    ValueError for input it cannot use, which then becomes the record's skip reason."""

    text: Callable[[Raw, str], str | None]
    """The text of a field, by arXiv's name for it (``"journal-ref"``); ``None`` when absent."""
    versions: Callable[[Raw], Versions | None]
    """``{"version": n, "created": ISO 8601 or None}`` by increasing ``n``; ``None`` for none."""
    authors: Callable[[Raw], list[str] | None]
    """The author names in order."""
    categories: Callable[[Raw], list[str] | None]
    """The categories, primary first."""


def _moment(value: object) -> datetime | None:
    return datetime.fromisoformat(value) if isinstance(value, str) else None


def build_record(raw: Raw, raw_id: str, form: ArxivFormat[Raw], source: str) -> PaperRecord:
    """The record of ``raw``, whose id (in any form arXiv writes one) is ``raw_id``.

    Raises ValueError (or :class:`~paperboard.core.errors.InvalidIdError`) when it is unusable: no
    valid id, no title, or a field the format cannot read. Fields are read in the order of the
    record, so of several faults the first is reported.
    """
    arxiv = parse_arxiv_id(raw_id)
    text = form.text
    title = text(raw, "title")
    if not title or not title.strip():
        raise ValueError("no title")
    versions = form.versions(raw)
    categories = form.categories(raw)
    abstract = text(raw, "abstract")
    authors = form.authors(raw)
    return PaperRecord(
        id=arxiv.id,
        source=source,
        version=(versions[-1]["version"] if versions else None) or arxiv.version,  # type: ignore[arg-type]
        title=title,
        abstract=abstract,
        authors=authors,
        categories=categories,
        published_at=_moment(versions[0]["created"]) if versions else None,
        updated_at=_moment(versions[-1]["created"]) if versions else None,
        versions=versions,
        comments=text(raw, "comments"),
        doi=text(raw, "doi"),
        journal_ref=text(raw, "journal-ref"),
        report_no=text(raw, "report-no"),
        license=text(raw, "license"),
        submitter=text(raw, "submitter"),
    )
