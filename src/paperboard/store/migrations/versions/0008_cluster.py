"""What several nodes share through the database: paper embeddings (computed once, copied by
every node into its local index), derived files such as the literature map, and the leases and
job runs that let any number of workers run each scheduled job once per due time.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-06
"""

import sqlalchemy as sa
from alembic import op

from paperboard.store.schema import UTCDateTime

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "paper_vectors",
        sa.Column("model", sa.String(200), primary_key=True),
        sa.Column("paper_id", sa.String(220), primary_key=True),
        sa.Column("text_hash", sa.String(32), nullable=False),
        sa.Column("vector", sa.LargeBinary(), nullable=False),
        sa.Column("stored_at", UTCDateTime(), nullable=False),
    )
    op.create_index("ix_paper_vectors_model_stored", "paper_vectors", ["model", "stored_at"])
    op.create_table(
        "shared_files",
        sa.Column("name", sa.String(120), primary_key=True),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.Column("stored_at", UTCDateTime(), nullable=False),
    )
    op.create_table(
        "leases",
        sa.Column("name", sa.String(120), primary_key=True),
        sa.Column("holder", sa.String(200), nullable=False),
        sa.Column("acquired_at", UTCDateTime(), nullable=False),
        sa.Column("expires_at", UTCDateTime(), nullable=False),
    )
    op.create_table(
        "job_runs",
        sa.Column("job", sa.String(60), primary_key=True),
        sa.Column("due", sa.String(40), primary_key=True),
        sa.Column("holder", sa.String(200), nullable=False),
        sa.Column("started_at", UTCDateTime(), nullable=False),
        sa.Column("finished_at", UTCDateTime()),
        sa.Column("summary", sa.Text()),
    )


def downgrade() -> None:
    op.drop_table("job_runs")
    op.drop_table("leases")
    op.drop_table("shared_files")
    op.drop_index("ix_paper_vectors_model_stored", table_name="paper_vectors")
    op.drop_table("paper_vectors")
