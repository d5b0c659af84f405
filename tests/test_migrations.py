"""Alembic migrations build exactly the schema the models describe."""

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from paperboard.store.database import head_revision, open_engine, upgrade
from paperboard.store.schema import Base


# SQLite cannot reflect the expression index on lower(members.name); PostgreSQL compares it.
@pytest.mark.filterwarnings("ignore:.*expression-based index:UserWarning")
@pytest.mark.filterwarnings("ignore:Skipped unsupported reflection of expression-based index")
def test_migrations_match_the_models(db_url: str) -> None:
    engine = open_engine(db_url)
    upgrade(engine)
    with engine.connect() as connection:
        differences = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    engine.dispose()
    assert differences == []


def test_db_upgrade_and_current(cli) -> None:
    first = cli("db", "upgrade")
    assert first.exit_code == 0 and f"to {head_revision()}" in first.stdout
    again = cli("db", "upgrade")
    assert "already at revision" in again.stdout
    assert "up to date" in cli("db", "current").stdout
