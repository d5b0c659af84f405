"""Tables, as SQLAlchemy 2 declarative models. Alembic migrations in ``migrations/`` create them;
change a model only together with a new migration.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    TypeDecorator,
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
