"""The records every stage shares: what a source yields and the store writes.

A source's ``records()`` generator yields :class:`PaperRecord` for each paper it read,
:class:`Skip` for input it could not use and :class:`Checkpoint` after a unit of work whose
records must be stored together with the state to resume from. They live in ``core`` because
both ``sources`` (which make them) and ``store`` (which writes them) need them, and neither may
import the other's internals the wrong way round.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime


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
