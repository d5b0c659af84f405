"""Alembic environment: runs migrations on the connection paperboard hands over."""

from alembic import context
from sqlalchemy import create_engine

from paperboard.store.schema import Base

config = context.config
target_metadata = Base.metadata


def run() -> None:
    connection = config.attributes.get("connection")
    if connection is None:
        # Plain `alembic` CLI use (developers): take the URL from settings.
        from paperboard.core.config import get_settings

        engine = create_engine(get_settings().db_url)
        with engine.begin() as connection:
            _migrate(connection)
        return
    _migrate(connection)


def _migrate(connection) -> None:  # type: ignore[no-untyped-def]
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
    )
    with context.begin_transaction():
        context.run_migrations()


run()
