"""When a member proved they read their e-mail address (a link mailed to it was opened).

Accounts from before this revision count as unverified: nothing proved the address was theirs,
so each is asked once to confirm it before touching the digest subscription tied to it.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02
"""

import sqlalchemy as sa
from alembic import op

from paperboard.store.schema import UTCDateTime

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("members") as batch:
        batch.add_column(sa.Column("email_verified_at", UTCDateTime(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("members") as batch:
        batch.drop_column("email_verified_at")
