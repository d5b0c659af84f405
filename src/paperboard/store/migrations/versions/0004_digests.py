"""Digest subscribers, the send ledger (intent, then sent), papers already mailed, digest runs.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-22
"""

import sqlalchemy as sa
from alembic import op

from paperboard.store.schema import JSONType, UTCDateTime

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "subscribers",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("email", sa.String(320), nullable=False, unique=True),
        sa.Column("member_id", sa.Integer(), sa.ForeignKey("members.id", ondelete="SET NULL")),
        sa.Column("frequency", sa.String(10), nullable=False, server_default="daily"),
        sa.Column("categories", JSONType, nullable=False),
        sa.Column("keywords", JSONType, nullable=False),
        sa.Column("for_you", sa.Boolean(), nullable=False, server_default=sa.true()),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("confirmed_at", UTCDateTime()),
        sa.Column("confirmation_sent_at", UTCDateTime()),
        sa.Column("unsubscribed_at", UTCDateTime()),
        sa.Column("bounces", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("stopped_reason", sa.Text()),
    )
    op.create_index("ix_subscribers_member_id", "subscribers", ["member_id"])
    op.create_table(
        "digest_sends",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column(
            "subscriber_id",
            sa.Integer(),
            sa.ForeignKey("subscribers.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("period_key", sa.String(40), nullable=False),
        sa.Column("message_id", sa.String(200), nullable=False),
        sa.Column("status", sa.String(12), nullable=False),
        sa.Column("top_ids", JSONType, nullable=False),
        sa.Column("picks", JSONType, nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("last_error", sa.Text()),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("sent_at", UTCDateTime()),
        sa.UniqueConstraint(
            "subscriber_id", "period_key", name="uq_digest_sends_subscriber_period"
        ),
    )
    op.create_index("ix_digest_sends_period_key", "digest_sends", ["period_key"])
    op.create_table(
        "sent_papers",
        sa.Column(
            "subscriber_id",
            sa.Integer(),
            sa.ForeignKey("subscribers.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("paper_id", sa.String(220), primary_key=True),
        sqlite_with_rowid=False,
    )
    op.create_table(
        "digest_runs",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("period_key", sa.String(40), nullable=False),
        sa.Column("started_at", UTCDateTime(), nullable=False),
        sa.Column("finished_at", UTCDateTime()),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("sent", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("resent", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("empty", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("failed", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("skipped", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("detail", sa.Text()),
    )


def downgrade() -> None:
    for table in ("digest_runs", "sent_papers", "digest_sends", "subscribers"):
        op.drop_table(table)
