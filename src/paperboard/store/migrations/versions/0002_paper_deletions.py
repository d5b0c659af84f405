"""Tombstones of deleted papers, so that indexes can forget them incrementally.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22
"""

import sqlalchemy as sa
from alembic import op

from paperboard.store.schema import UTCDateTime

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "paper_deletions",
        sa.Column("paper_id", sa.String(220), primary_key=True),
        sa.Column("deleted_at", UTCDateTime(), nullable=False),
    )
    op.create_index("ix_paper_deletions_deleted_at", "paper_deletions", ["deleted_at"])
    op.create_index("ix_papers_changed_at", "papers", ["changed_at"])


def downgrade() -> None:
    op.drop_index("ix_papers_changed_at", table_name="papers")
    op.drop_index("ix_paper_deletions_deleted_at", table_name="paper_deletions")
    op.drop_table("paper_deletions")
