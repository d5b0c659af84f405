"""Tables, as SQLAlchemy 2 declarative models. Alembic migrations in ``migrations/`` create them;
change a model only together with a new migration.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Table,
    Text,
    TypeDecorator,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on every backend (SQLite has no time zones)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


JSONType = JSON().with_variant(JSONB(), "postgresql")


class Base(DeclarativeBase):
    pass


def table_of(model: type[Base]) -> Table:
    """The Core table of a model (``Model.__table__`` is typed as a mere FromClause)."""
    table = model.__table__
    assert isinstance(table, Table)
    return table


class Paper(Base):
    """One record per paper, whatever the source. Bibliographic fields follow the newest version."""

    __tablename__ = "papers"

    id: Mapped[str] = mapped_column(String(220), primary_key=True)
    version: Mapped[int | None] = mapped_column(Integer)
    title: Mapped[str | None] = mapped_column(Text)
    abstract: Mapped[str | None] = mapped_column(Text)
    authors: Mapped[list[str]] = mapped_column(JSONType, default=list)
    author_count: Mapped[int | None] = mapped_column(Integer)
    categories: Mapped[list[str]] = mapped_column(JSONType, default=list)
    primary_category: Mapped[str | None] = mapped_column(String(40), index=True)
    published_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)
    updated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    versions: Mapped[list[dict[str, Any]] | None] = mapped_column(JSONType)
    comments: Mapped[str | None] = mapped_column(Text)
    doi: Mapped[str | None] = mapped_column(Text)
    journal_ref: Mapped[str | None] = mapped_column(Text)
    report_no: Mapped[str | None] = mapped_column(Text)
    license: Mapped[str | None] = mapped_column(Text)
    submitter: Mapped[str | None] = mapped_column(Text)
    code_urls: Mapped[list[str]] = mapped_column(JSONType, default=list)
    project_urls: Mapped[list[str]] = mapped_column(JSONType, default=list)
    sources: Mapped[list[str]] = mapped_column(JSONType, default=list)
    upvotes: Mapped[int | None] = mapped_column(Integer)
    submitted_on_daily: Mapped[date | None] = mapped_column(Date)
    submitted_by: Mapped[str | None] = mapped_column(Text)
    feed_date: Mapped[date | None] = mapped_column(Date, index=True)
    added_at: Mapped[datetime] = mapped_column(UTCDateTime)
    changed_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)


class PaperDeletion(Base):
    """A deleted paper's id and when it went, for indexes to catch up with."""

    __tablename__ = "paper_deletions"

    paper_id: Mapped[str] = mapped_column(String(220), primary_key=True)
    deleted_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)


class PaperCategory(Base):
    """Every category of a paper (primary and cross-lists), for indexed category filters."""

    __tablename__ = "paper_categories"
    __table_args__ = (
        Index("ix_paper_categories_category", "category", "paper_id"),
        {"sqlite_with_rowid": False},
    )

    paper_id: Mapped[str] = mapped_column(
        ForeignKey("papers.id", ondelete="CASCADE"), primary_key=True
    )
    category: Mapped[str] = mapped_column(String(40), primary_key=True)
    position: Mapped[int] = mapped_column(Integer)


class Harvest(Base):
    """Resume state of a long harvest (an OAI-PMH resumption token), saved with each page."""

    __tablename__ = "harvests"

    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    state: Mapped[str | None] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class IngestRun(Base):
    """One import run and its outcome, so that nothing that happened is silent."""

    __tablename__ = "ingest_runs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    source: Mapped[str] = mapped_column(String(40))
    target: Mapped[str | None] = mapped_column(Text)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    status: Mapped[str] = mapped_column(String(20))
    new: Mapped[int] = mapped_column(Integer, default=0)
    updated: Mapped[int] = mapped_column(Integer, default=0)
    unchanged: Mapped[int] = mapped_column(Integer, default=0)
    skipped: Mapped[int] = mapped_column(Integer, default=0)
    detail: Mapped[str | None] = mapped_column(Text)


# -- members and what they do (migration 0003) ---------------------------------------------------


class Member(Base):
    """A signed-up member. ``email`` is stored lower-cased and is unique; so is ``name``,
    regardless of case (it identifies a submitter in the API)."""

    __tablename__ = "members"
    __table_args__ = (Index("ix_members_name_lower", func.lower(text("name")), unique=True),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    email: Mapped[str] = mapped_column(String(320), unique=True)
    name: Mapped[str] = mapped_column(String(80))
    password_hash: Mapped[str] = mapped_column(Text)
    role: Mapped[str] = mapped_column(String(20), default="member")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    password_changed_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # Set once a link mailed to ``email`` was opened (migration 0005): until then the account
    # may not touch what is tied to the address, such as its digest subscription.
    email_verified_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class MemberSession(Base):
    """A server-side session: the cookie carries a random token, the table its SHA-256."""

    __tablename__ = "member_sessions"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id", ondelete="CASCADE"), index=True)
    csrf_token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)


class ApiToken(Base):
    """A personal API token (shown once; only its SHA-256 is kept)."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(80))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class LoginFailure(Base):
    """A failed sign-in, by e-mail and by client address, for rate limiting across app servers;
    also one throttled action (a reset mail, a sign-up, a comment) under its own key."""

    __tablename__ = "login_failures"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    key: Mapped[str] = mapped_column(String(400), index=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)


class Vote(Base):
    """One upvote: the primary key makes it one per member per paper."""

    __tablename__ = "votes"
    __table_args__ = (Index("ix_votes_paper", "paper_id"),)

    member_id: Mapped[int] = mapped_column(
        ForeignKey("members.id", ondelete="CASCADE"), primary_key=True
    )
    paper_id: Mapped[str] = mapped_column(
        ForeignKey("papers.id", ondelete="CASCADE"), primary_key=True
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class Comment(Base):
    """A comment on a paper, in Markdown (rendered safely when shown)."""

    __tablename__ = "comments"
    __table_args__ = (Index("ix_comments_paper", "paper_id", "created_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    paper_id: Mapped[str] = mapped_column(ForeignKey("papers.id", ondelete="CASCADE"))
    member_id: Mapped[int | None] = mapped_column(
        ForeignKey("members.id", ondelete="SET NULL"), index=True
    )
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    edited_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class Submission(Base):
    """A member's submission of a paper to the feed of the day it was submitted."""

    __tablename__ = "submissions"
    __table_args__ = (Index("ix_submissions_member_day", "member_id", "day"),)

    paper_id: Mapped[str] = mapped_column(
        ForeignKey("papers.id", ondelete="CASCADE"), primary_key=True
    )
    member_id: Mapped[int | None] = mapped_column(ForeignKey("members.id", ondelete="SET NULL"))
    day: Mapped[date] = mapped_column(Date)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class PaperCounts(Base):
    """Member upvotes and comments of a paper, kept in step with ``votes`` and ``comments`` in the
    same transaction, so that feeds sort without counting. The paper's own ``upvotes`` (imported,
    e.g. from Hugging Face) is added to ``votes`` for display."""

    __tablename__ = "paper_counts"

    paper_id: Mapped[str] = mapped_column(
        ForeignKey("papers.id", ondelete="CASCADE"), primary_key=True
    )
    votes: Mapped[int] = mapped_column(Integer, default=0)
    comments: Mapped[int] = mapped_column(Integer, default=0)


# -- digests (migration 0004) --------------------------------------------------------------------


class Subscriber(Base):
    """An address that gets digests once confirmed (double opt-in), with what it follows."""

    __tablename__ = "subscribers"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    email: Mapped[str] = mapped_column(String(320), unique=True)
    member_id: Mapped[int | None] = mapped_column(
        ForeignKey("members.id", ondelete="SET NULL"), index=True
    )
    frequency: Mapped[str] = mapped_column(String(10), default="daily")  # daily, weekly, off
    categories: Mapped[list[str]] = mapped_column(JSONType, default=list)
    keywords: Mapped[list[str]] = mapped_column(JSONType, default=list)
    for_you: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    confirmation_sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    unsubscribed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    bounces: Mapped[int] = mapped_column(Integer, default=0)
    stopped_reason: Mapped[str | None] = mapped_column(Text)


class DigestSend(Base):
    """One digest for one subscriber and period: the intent (Message-ID and papers) is recorded
    before sending and marked sent after, so a rerun resends only a message left in doubt."""

    __tablename__ = "digest_sends"
    __table_args__ = (
        UniqueConstraint("subscriber_id", "period_key", name="uq_digest_sends_subscriber_period"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    subscriber_id: Mapped[int] = mapped_column(ForeignKey("subscribers.id", ondelete="CASCADE"))
    period_key: Mapped[str] = mapped_column(String(40), index=True)
    message_id: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(12))  # intent, sent, empty, failed
    top_ids: Mapped[list[str]] = mapped_column(JSONType, default=list)
    picks: Mapped[list[dict[str, Any]]] = mapped_column(JSONType, default=list)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class SentPaper(Base):
    """A paper already mailed to a subscriber: never picked "for you" again."""

    __tablename__ = "sent_papers"
    __table_args__ = ({"sqlite_with_rowid": False},)

    subscriber_id: Mapped[int] = mapped_column(
        ForeignKey("subscribers.id", ondelete="CASCADE"), primary_key=True
    )
    paper_id: Mapped[str] = mapped_column(String(220), primary_key=True)


class DigestRun(Base):
    """One ``digest send`` run and its counts, so a quiet day is visible, not silent."""

    __tablename__ = "digest_runs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    period_key: Mapped[str] = mapped_column(String(40))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    status: Mapped[str] = mapped_column(String(20))
    sent: Mapped[int] = mapped_column(Integer, default=0)
    resent: Mapped[int] = mapped_column(Integer, default=0)
    empty: Mapped[int] = mapped_column(Integer, default=0)
    failed: Mapped[int] = mapped_column(Integer, default=0)
    skipped: Mapped[int] = mapped_column(Integer, default=0)
    detail: Mapped[str | None] = mapped_column(Text)


# -- submissions waiting for arXiv (migration 0006) ----------------------------------------------


class SubmissionRequest(Base):
    """A member's request to submit a paper not stored yet: ``queued`` until the paper is fetched
    from arXiv in the background, then ``fetched`` (on the feed) or ``failed`` (with ``error``, one
    sentence for the member). ``claimed_at`` is when a fetch last started, so a fetch cut off by a
    crash is taken up again later; ``claim_id`` is the throttle row that counted the arXiv look-up
    against the member's daily quota, withdrawn once the look-up ends in a submission."""

    __tablename__ = "submission_requests"
    __table_args__ = (Index("ix_submission_requests_state", "state", "claimed_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id", ondelete="CASCADE"), index=True)
    arxiv_id: Mapped[str] = mapped_column(String(40))
    state: Mapped[str] = mapped_column(String(10))
    error: Mapped[str | None] = mapped_column(Text)
    tries: Mapped[int] = mapped_column(Integer, default=0)
    claim_id: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    claimed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


# -- interests: what "for you" learns from, and a member's library ------------------------------


class PaperSignal(Base):
    """A member's word on a paper besides an upvote: ``more`` ("more like this"), ``less``
    ("not interested") or ``read``. ``more`` and ``less`` exclude each other."""

    __tablename__ = "paper_signals"
    __table_args__ = (Index("ix_paper_signals_member_kind", "member_id", "kind", "created_at"),)

    member_id: Mapped[int] = mapped_column(
        ForeignKey("members.id", ondelete="CASCADE"), primary_key=True
    )
    paper_id: Mapped[str] = mapped_column(
        ForeignKey("papers.id", ondelete="CASCADE"), primary_key=True
    )
    kind: Mapped[str] = mapped_column(String(8), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class InterestSettings(Base):
    """How a member's "for you" mixes: exploration and popularity (0–1), only the categories
    they chose, whether papers they marked read stay hidden, and when onboarding ended."""

    __tablename__ = "interest_settings"

    member_id: Mapped[int] = mapped_column(
        ForeignKey("members.id", ondelete="CASCADE"), primary_key=True
    )
    categories: Mapped[list[str]] = mapped_column(JSONType, default=list)
    exploration: Mapped[float] = mapped_column(Float, default=0.0)
    popularity: Mapped[float] = mapped_column(Float, default=0.0)
    only_categories: Mapped[bool] = mapped_column(Boolean, default=False)
    hide_read: Mapped[bool] = mapped_column(Boolean, default=True)
    onboarded_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class Collection(Base):
    """A member's named list of papers, private unless made public."""

    __tablename__ = "collections"
    __table_args__ = (UniqueConstraint("member_id", "name", name="uq_collections_member_name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(120))
    description: Mapped[str] = mapped_column(Text, default="")
    public: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class CollectionItem(Base):
    """A paper in a collection, with the member's note on it."""

    __tablename__ = "collection_items"
    __table_args__ = (Index("ix_collection_items_paper", "paper_id"),)

    collection_id: Mapped[int] = mapped_column(
        ForeignKey("collections.id", ondelete="CASCADE"), primary_key=True
    )
    paper_id: Mapped[str] = mapped_column(
        ForeignKey("papers.id", ondelete="CASCADE"), primary_key=True
    )
    note: Mapped[str] = mapped_column(Text, default="")
    added_at: Mapped[datetime] = mapped_column(UTCDateTime)


class Follow(Base):
    """An author a member follows, by name as papers spell it; ``key`` is the name folded
    (lowercase, accents and punctuation gone) so spellings of one name meet."""

    __tablename__ = "follows"

    member_id: Mapped[int] = mapped_column(
        ForeignKey("members.id", ondelete="CASCADE"), primary_key=True
    )
    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class SavedSearch(Base):
    """A search saved with a name: a private feed (``token`` in its URL), a digest section and,
    with ``webhook_url``, a JSON POST per new paper. ``checked_at`` is how far the webhook has
    looked; papers first seen after it are new."""

    __tablename__ = "saved_searches"
    __table_args__ = (UniqueConstraint("member_id", "name", name="uq_saved_searches_member_name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(120))
    query: Mapped[str] = mapped_column(Text)
    mode: Mapped[str] = mapped_column(String(10), default="hybrid")
    filters: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    token: Mapped[str] = mapped_column(String(64), unique=True)
    webhook_url: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    checked_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class WebhookDelivery(Base):
    """One new paper for one saved search's webhook: ``pending`` until a POST succeeds
    (``sent``), retried with back-off, ``failed`` after the last try. The primary key makes
    it once per paper."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (Index("ix_webhook_deliveries_state", "state", "next_try_at"),)

    saved_search_id: Mapped[int] = mapped_column(
        ForeignKey("saved_searches.id", ondelete="CASCADE"), primary_key=True
    )
    paper_id: Mapped[str] = mapped_column(String(220), primary_key=True)
    state: Mapped[str] = mapped_column(String(8))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    next_try_at: Mapped[datetime] = mapped_column(UTCDateTime)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class PaperVector(Base):
    """A paper's embedding under one model, stored once for every node: float16 bytes, the text
    hash it was made from, and when it was stored (nodes copy what was stored since they last
    looked into their local indexes)."""

    __tablename__ = "paper_vectors"
    __table_args__ = (Index("ix_paper_vectors_model_stored", "model", "stored_at"),)

    model: Mapped[str] = mapped_column(String(200), primary_key=True)
    paper_id: Mapped[str] = mapped_column(String(220), primary_key=True)
    text_hash: Mapped[str] = mapped_column(String(32))
    vector: Mapped[bytes] = mapped_column(LargeBinary)
    stored_at: Mapped[datetime] = mapped_column(UTCDateTime)


class SharedFile(Base):
    """A derived file every node serves the same (the literature map): computed by one node,
    fetched by the others when ``stored_at`` changes."""

    __tablename__ = "shared_files"

    name: Mapped[str] = mapped_column(String(120), primary_key=True)
    data: Mapped[bytes] = mapped_column(LargeBinary)
    stored_at: Mapped[datetime] = mapped_column(UTCDateTime)


class Lease(Base):
    """Who holds a named job until when: a worker renews its lease while it works; one that
    dies stops renewing and another takes the job over once ``expires_at`` has passed."""

    __tablename__ = "leases"

    name: Mapped[str] = mapped_column(String(120), primary_key=True)
    holder: Mapped[str] = mapped_column(String(200))
    acquired_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)


class JobRun(Base):
    """A scheduled job's run for one due time (``due``: the ingest slot, the digest day): the
    row makes it once per due time across every worker; ``finished_at`` is set when it
    succeeded."""

    __tablename__ = "job_runs"

    job: Mapped[str] = mapped_column(String(60), primary_key=True)
    due: Mapped[str] = mapped_column(String(40), primary_key=True)
    holder: Mapped[str] = mapped_column(String(200))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    summary: Mapped[str | None] = mapped_column(Text, nullable=True)
