"""The one interface every paper source implements, and the items it yields.

A source is an object with a ``name`` and a ``records()`` generator. The generator yields:

* :class:`PaperRecord` for each paper it read (fields it does not know stay ``None``),
* :class:`Skip` for each line, entry or record it could not use (the import goes on),
* :class:`Checkpoint` after a unit of work whose records must be stored together with the state
  needed to resume after it (an OAI-PMH resumption token, say).

A source raises :class:`~paperboard.core.errors.SourceError` when it fails as a whole (network down,
server error after retries). ``progress()`` reports ``(done, total)`` in whatever unit suits it
(bytes, records); ``total`` may be ``None``. The importer (``sources/importer.py``) drives a source
into the store; sources never touch storage themselves.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Protocol, runtime_checkable


@dataclass(slots=True)
class PaperRecord:
    """One paper as one source saw it. ``None`` means "this source does not say"."""

    id: str
    source: str
    version: int | None = None
    title: str | None = None
    abstract: str | None = None
    authors: list[str] | None = None
    author_count: int | None = None
    categories: list[str] | None = None
    published_at: datetime | None = None
    updated_at: datetime | None = None
    versions: list[dict[str, object]] | None = None
    comments: str | None = None
    doi: str | None = None
    journal_ref: str | None = None
    report_no: str | None = None
    license: str | None = None
    submitter: str | None = None
    code_urls: list[str] = field(default_factory=list)
    project_urls: list[str] = field(default_factory=list)
    upvotes: int | None = None
    submitted_on_daily: date | None = None
    submitted_by: str | None = None


@dataclass(slots=True, frozen=True)
class Skip:
    """Something a source could not use: where it was and why.

    ``expected`` marks what the source itself says to leave out (a record deleted at arXiv), as
    opposed to bad input; only bad input counts toward "nothing could be read".
    """

    where: str
    reason: str
    expected: bool = False

    def __str__(self) -> str:
        return f"{self.where}: {self.reason}"


@dataclass(slots=True, frozen=True)
class Checkpoint:
    """Resume state to store atomically with every record yielded before it.

    ``state`` ``None`` means the work under ``key`` is complete and its saved state can go.
    """

    key: str
    state: str | None


Item = PaperRecord | Skip | Checkpoint


@runtime_checkable
class Source(Protocol):
    """A stream of papers from somewhere."""

    name: str

    def records(self) -> Iterator[Item]: ...

    def progress(self) -> tuple[float, float | None]: ...
