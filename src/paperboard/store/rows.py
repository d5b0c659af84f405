"""The shapes of the rows the store hands to other layers.

Rows stay plain dictionaries (cheap to build from SQLAlchemy's mappings, to serialize and to
pickle across processes), but each has a ``TypedDict`` naming every key and its type, so that
mypy checks what the index, rank and present layers read from them.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, TypedDict


class PaperRow(TypedDict):
    """Every column of ``papers``: what :meth:`PaperStore.changed_since` yields."""

    id: str
    version: int | None
    title: str | None
    abstract: str | None
    authors: list[str]
    author_count: int | None
    categories: list[str]
    primary_category: str | None
    published_at: datetime | None
    updated_at: datetime | None
    versions: list[dict[str, Any]] | None
    comments: str | None
    doi: str | None
    journal_ref: str | None
    report_no: str | None
    license: str | None
    submitter: str | None
    code_urls: list[str]
    project_urls: list[str]
    sources: list[str]
    upvotes: int | None
    submitted_on_daily: date | None
    submitted_by: str | None
    feed_date: date | None
    added_at: datetime
    changed_at: datetime


class CountedPaperRow(PaperRow):
    """A paper as pages, feeds and the API show it: its row plus the community's counts."""

    member_votes: int
    comment_count: int
    total_upvotes: int


class FilterFieldsRow(TypedDict):
    """The few columns search filters look at (:meth:`PaperStore.filter_fields`)."""

    id: str
    categories: list[str]
    published_at: datetime | None
    feed_date: date | None
    code_urls: list[str]


class MemberRow(TypedDict):
    """A member account (``password_hash`` included: only the store and sign-in read it)."""

    id: int
    email: str
    name: str
    password_hash: str
    role: str
    created_at: datetime
    password_changed_at: datetime
    email_verified_at: datetime | None


class CommentRow(TypedDict):
    """A comment; ``author`` is the member's name (None once the account is deleted)."""

    id: int
    paper_id: str
    member_id: int | None
    body: str
    created_at: datetime
    edited_at: datetime | None


class AuthoredCommentRow(CommentRow):
    author: str | None


class SubscriberRow(TypedDict):
    """A digest subscription."""

    id: int
    email: str
    member_id: int | None
    frequency: str
    categories: list[str]
    keywords: list[str]
    for_you: bool
    created_at: datetime
    confirmed_at: datetime | None
    confirmation_sent_at: datetime | None
    unsubscribed_at: datetime | None
    bounces: int
    stopped_reason: str | None


class SubmissionRequestRow(TypedDict):
    """A submission waiting for arXiv, or how it ended (``state``: queued, fetched, failed)."""

    id: int
    member_id: int
    arxiv_id: str
    state: str
    error: str | None
    tries: int
    claim_id: int | None
    created_at: datetime
    updated_at: datetime
    claimed_at: datetime | None
