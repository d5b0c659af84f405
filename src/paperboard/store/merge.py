"""How a record from a source combines with what the store already holds.

The rules that make "one record per paper, whatever the source" hold:

* Bibliographic fields (title, abstract, authors, dates, ...) follow the newest arXiv version.
  A record with a *newer* version replaces every field it states; one with the *same* version only
  fills fields still empty; an *older* one changes none of them. A source that knows no version
  (Hugging Face, a demo file) counts as version 0.
* Links and source names accumulate (union, first seen first).
* Community fields: upvotes keep the highest count seen (so importing an old file never lowers
  them); the first Daily Papers submission day and submitter stay.
* ``feed_date`` is the submission day when there is one, else the day of first publication.

``merge`` is a pure function: the same inputs give the same row, which is how a rerun of any import
changes nothing.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from paperboard.core.records import PaperRecord

BIBLIOGRAPHIC = (
    "title",
    "abstract",
    "authors",
    "author_count",
    "categories",
    "published_at",
    "updated_at",
    "versions",
    "comments",
    "doi",
    "journal_ref",
    "report_no",
    "license",
    "submitter",
)
CONTENT_COLUMNS = (
    "id",
    "version",
    *BIBLIOGRAPHIC,
    "primary_category",
    "code_urls",
    "project_urls",
    "sources",
    "upvotes",
    "submitted_on_daily",
    "submitted_by",
    "feed_date",
)


def _empty(value: Any) -> bool:
    return value is None or value == [] or value == ""


def _union(first: list[str] | None, second: list[str] | None) -> list[str]:
    out = list(first or ())
    for item in second or ():
        if item not in out:
            out.append(item)
    return out


def merge(existing: dict[str, Any] | None, record: PaperRecord, now: datetime) -> dict[str, Any]:
    """The row to store for ``record`` given the stored row ``existing`` (or ``None``).

    ``changed_at`` is left as it was; the caller sets it when :func:`is_changed` says so.
    """
    if existing is None:
        return _first_row(record, now)
    else:
        row = dict(existing)
        stored_version = existing.get("version") or 0

    incoming_version = record.version or 0
    if incoming_version > stored_version:
        row["version"] = record.version
        for name in BIBLIOGRAPHIC:
            value = getattr(record, name)
            if not _empty(value):
                row[name] = value
    elif incoming_version == stored_version:
        for name in BIBLIOGRAPHIC:
            value = getattr(record, name)
            if _empty(row.get(name)) and not _empty(value):
                row[name] = value

    if row["authors"]:
        row["author_count"] = len(row["authors"])
    row["primary_category"] = row["categories"][0] if row["categories"] else None
    row["code_urls"] = _union(row.get("code_urls"), record.code_urls)
    row["project_urls"] = _union(row.get("project_urls"), record.project_urls)
    row["sources"] = _union(row.get("sources"), [record.source])
    if record.upvotes is not None:
        row["upvotes"] = max(record.upvotes, row.get("upvotes") or 0)
    if row.get("submitted_on_daily") is None and record.submitted_on_daily is not None:
        row["submitted_on_daily"] = record.submitted_on_daily
    if row.get("submitted_by") is None and record.submitted_by is not None:
        row["submitted_by"] = record.submitted_by
    published = row.get("published_at")
    row["feed_date"] = row.get("submitted_on_daily") or (published.date() if published else None)
    return row


def first_values(record: PaperRecord) -> tuple[Any, ...]:
    """``merge(None, record)`` as values in the order of :data:`CONTENT_COLUMNS` (``added_at``
    and ``changed_at`` are the store's to add). Written out because bulk imports are mostly new
    papers, and a tuple because that is what the store binds; it needs no stored row, so the store
    can compute it before it takes the write lock."""
    authors = record.authors or []
    categories = record.categories or []
    published = record.published_at
    submitted = record.submitted_on_daily
    return (
        record.id,
        record.version,
        record.title,
        record.abstract,
        authors,
        len(authors) if authors else record.author_count,
        categories,
        published,
        record.updated_at,
        record.versions,
        record.comments,
        record.doi,
        record.journal_ref,
        record.report_no,
        record.license,
        record.submitter,
        categories[0] if categories else None,
        list(dict.fromkeys(record.code_urls)),
        list(dict.fromkeys(record.project_urls)),
        [record.source],
        record.upvotes,
        submitted,
        record.submitted_by,
        submitted or (published.date() if published else None),
    )


def _first_row(record: PaperRecord, now: datetime) -> dict[str, Any]:
    row = dict(zip(CONTENT_COLUMNS, first_values(record), strict=True))
    row["added_at"] = now
    return row


def is_changed(existing: dict[str, Any], merged: dict[str, Any]) -> bool:
    """True when ``merged`` differs from ``existing`` in any stored content column."""
    return any(merged[name] != existing.get(name) for name in CONTENT_COLUMNS)
