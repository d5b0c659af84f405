"""Interests: signals beside upvotes ("more like this", "not interested", read), each member's
"for you" settings, collections with notes, followed authors, saved searches and their webhook
deliveries.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-06
"""

import sqlalchemy as sa
from alembic import op

from paperboard.store.schema import JSONType, UTCDateTime

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def _member() -> sa.Column[int]:
    return sa.Column(
        "member_id",
        sa.Integer(),
        sa.ForeignKey("members.id", ondelete="CASCADE"),
        primary_key=True,
        nullable=False,
    )


def _paper() -> sa.Column[str]:
    return sa.Column(
        "paper_id",
        sa.String(220),
        sa.ForeignKey("papers.id", ondelete="CASCADE"),
        primary_key=True,
        nullable=False,
    )


def upgrade() -> None:
    op.create_table(
        "paper_signals",
        _member(),
        _paper(),
        sa.Column("kind", sa.String(8), primary_key=True, nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
    )
    op.create_index(
        "ix_paper_signals_member_kind", "paper_signals", ["member_id", "kind", "created_at"]
    )
    op.create_table(
        "interest_settings",
        _member(),
        sa.Column("categories", JSONType, nullable=False),
        sa.Column("exploration", sa.Float(), nullable=False),
        sa.Column("popularity", sa.Float(), nullable=False),
        sa.Column("only_categories", sa.Boolean(), nullable=False),
        sa.Column("hide_read", sa.Boolean(), nullable=False),
        sa.Column("onboarded_at", UTCDateTime()),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
    )
    op.create_table(
        "collections",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column(
            "member_id",
            sa.Integer(),
            sa.ForeignKey("members.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("name", sa.String(120), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("public", sa.Boolean(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.UniqueConstraint("member_id", "name", name="uq_collections_member_name"),
    )
    op.create_table(
        "collection_items",
        sa.Column(
            "collection_id",
            sa.Integer(),
            sa.ForeignKey("collections.id", ondelete="CASCADE"),
            primary_key=True,
            nullable=False,
        ),
        _paper(),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("added_at", UTCDateTime(), nullable=False),
    )
    op.create_index("ix_collection_items_paper", "collection_items", ["paper_id"])
    op.create_table(
        "follows",
        _member(),
        sa.Column("key", sa.String(200), primary_key=True, nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
    )
    op.create_table(
        "saved_searches",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column(
            "member_id",
            sa.Integer(),
            sa.ForeignKey("members.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("name", sa.String(120), nullable=False),
        sa.Column("query", sa.Text(), nullable=False),
        sa.Column("mode", sa.String(10), nullable=False),
        sa.Column("filters", JSONType, nullable=False),
        sa.Column("token", sa.String(64), nullable=False, unique=True),
        sa.Column("webhook_url", sa.Text()),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("checked_at", UTCDateTime()),
        sa.UniqueConstraint("member_id", "name", name="uq_saved_searches_member_name"),
    )
    op.create_table(
        "webhook_deliveries",
        sa.Column(
            "saved_search_id",
            sa.Integer(),
            sa.ForeignKey("saved_searches.id", ondelete="CASCADE"),
            primary_key=True,
            nullable=False,
        ),
        sa.Column("paper_id", sa.String(220), primary_key=True, nullable=False),
        sa.Column("state", sa.String(8), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.Text()),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("next_try_at", UTCDateTime(), nullable=False),
        sa.Column("sent_at", UTCDateTime()),
    )
    op.create_index("ix_webhook_deliveries_state", "webhook_deliveries", ["state", "next_try_at"])


def downgrade() -> None:
    for table in (
        "webhook_deliveries",
        "saved_searches",
        "follows",
        "collection_items",
        "collections",
        "interest_settings",
        "paper_signals",
    ):
        op.drop_table(table)
