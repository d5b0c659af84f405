"""Submissions waiting for arXiv: a member's request to submit a paper not stored yet, answered
at once as ``queued`` and fetched in the background (the site's task, or the worker for one left
over), ending ``fetched`` or ``failed`` with a sentence for the member.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-03
"""

import sqlalchemy as sa
from alembic import op

from paperboard.store.schema import UTCDateTime

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "submission_requests",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column(
            "member_id",
            sa.Integer(),
            sa.ForeignKey("members.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("arxiv_id", sa.String(40), nullable=False),
        sa.Column("state", sa.String(10), nullable=False),
        sa.Column("error", sa.Text()),
        sa.Column("tries", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("claim_id", sa.Integer()),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.Column("claimed_at", UTCDateTime()),
    )
    op.create_index("ix_submission_requests_member_id", "submission_requests", ["member_id"])
    op.create_index("ix_submission_requests_state", "submission_requests", ["state", "claimed_at"])


def downgrade() -> None:
    op.drop_table("submission_requests")
