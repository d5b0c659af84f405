"""Papers, their categories, harvest checkpoints and import runs.

Revision ID: 0001
Revises:
Create Date: 2026-11-22
"""

import sqlalchemy as sa
from alembic import op

from paperboard.store.schema import JSONType, UTCDateTime

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "papers",
        sa.Column("id", sa.String(220), primary_key=True),
        sa.Column("version", sa.Integer()),
        sa.Column("title", sa.Text()),
        sa.Column("abstract", sa.Text()),
        sa.Column("authors", JSONType, nullable=False),
        sa.Column("author_count", sa.Integer()),
        sa.Column("categories", JSONType, nullable=False),
        sa.Column("primary_category", sa.String(40)),
        sa.Column("published_at", UTCDateTime()),
        sa.Column("updated_at", UTCDateTime()),
        sa.Column("versions", JSONType),
        sa.Column("comments", sa.Text()),
        sa.Column("doi", sa.Text()),
        sa.Column("journal_ref", sa.Text()),
        sa.Column("report_no", sa.Text()),
        sa.Column("license", sa.Text()),
        sa.Column("submitter", sa.Text()),
        sa.Column("code_urls", JSONType, nullable=False),
        sa.Column("project_urls", JSONType, nullable=False),
        sa.Column("sources", JSONType, nullable=False),
        sa.Column("upvotes", sa.Integer()),
        sa.Column("submitted_on_daily", sa.Date()),
        sa.Column("submitted_by", sa.Text()),
        sa.Column("feed_date", sa.Date()),
        sa.Column("added_at", UTCDateTime(), nullable=False),
        sa.Column("changed_at", UTCDateTime(), nullable=False),
    )
    op.create_index("ix_papers_primary_category", "papers", ["primary_category"])
    op.create_index("ix_papers_published_at", "papers", ["published_at"])
    op.create_index("ix_papers_feed_date", "papers", ["feed_date"])
    op.create_table(
        "paper_categories",
        sa.Column(
            "paper_id",
            sa.String(220),
            sa.ForeignKey("papers.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("category", sa.String(40), primary_key=True),
        sa.Column("position", sa.Integer(), nullable=False),
        sqlite_with_rowid=False,
    )
    op.create_index("ix_paper_categories_category", "paper_categories", ["category", "paper_id"])
    op.create_table(
        "harvests",
        sa.Column("key", sa.String(200), primary_key=True),
        sa.Column("state", sa.Text()),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
    )
    op.create_table(
        "ingest_runs",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("source", sa.String(40), nullable=False),
        sa.Column("target", sa.Text()),
        sa.Column("started_at", UTCDateTime(), nullable=False),
        sa.Column("finished_at", UTCDateTime()),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("new", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("updated", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("unchanged", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("skipped", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("detail", sa.Text()),
    )


def downgrade() -> None:
    op.drop_table("ingest_runs")
    op.drop_table("harvests")
    op.drop_index("ix_paper_categories_category", table_name="paper_categories")
    op.drop_table("paper_categories")
    op.drop_index("ix_papers_feed_date", table_name="papers")
    op.drop_index("ix_papers_published_at", table_name="papers")
    op.drop_index("ix_papers_primary_category", table_name="papers")
    op.drop_table("papers")
