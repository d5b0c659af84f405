"""Engines and migrations: SQLite in WAL mode by default, PostgreSQL through psycopg 3.

``open_engine`` makes an engine for a URL; ``upgrade`` brings its schema to the newest Alembic
revision; ``ensure_schema`` does that only when the database is behind (cheap to call at start-up).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import orjson
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import ColumnElement, Connection, Engine, and_, create_engine, event, or_
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, DatabaseError, OperationalError

from paperboard.core.errors import ConfigError, PaperboardError

MIGRATIONS = Path(__file__).with_name("migrations")
_MIGRATION_LOCK = 0x70617065  # PostgreSQL advisory lock key held while migrating ("pape")


def db_error(error: Exception) -> str:
    """A driver's error message on one line (psycopg's span several)."""
    return " ".join(str(getattr(error, "orig", None) or error).split())


def after_key(first: Any, second: Any, key: tuple[Any, Any]) -> ColumnElement[bool]:
    """Rows after ``key`` in (first, second) order, for keyset paging over an index on ``first``.

    The bound on ``first`` alone comes first on purpose: with only ``first > a OR (first = a AND
    second > b)``, SQLite scans its index from the start for every page (measured at 1.5M papers:
    0.38 s a page instead of 0.03 s), so reading a whole table took quadratic time."""
    return and_(first >= key[0], or_(first > key[0], second > key[1]))


def _json_dumps(value: Any) -> str:
    return orjson.dumps(value).decode()


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # Let SQLAlchemy's "begin" event issue BEGIN itself (pysqlite's own handling defers it badly).
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA cache_size=-65536")  # 64 MiB: index pages of a big import stay hot
    # Checkpoint the WAL every ~80 MB rather than every 4 MB: each checkpoint syncs the database
    # file, which was a third of the cost of a bulk import; the WAL is cut back afterwards.
    cursor.execute("PRAGMA wal_autocheckpoint=20000")
    cursor.execute("PRAGMA journal_size_limit=67108864")
    cursor.close()


def _sqlite_begin(connection: Any) -> None:
    # Writers ask for BEGIN IMMEDIATE so that two importers queue for the lock up front instead of
    # failing when a read transaction tries to become a write transaction.
    mode = connection.get_execution_options().get("sqlite_begin", "")
    connection.exec_driver_sql(f"BEGIN {mode}".strip())


def write_connection(engine: Engine) -> Connection:
    """A connection whose transactions begin IMMEDIATE on SQLite."""
    return engine.connect().execution_options(sqlite_begin="IMMEDIATE")


@contextmanager
def begin_write(engine: Engine) -> Iterator[Connection]:
    """A transaction that will write, committed when the block ends (rolled back on an error).

    On SQLite it takes the write lock up front, waiting up to busy_timeout for it. A deferred
    transaction that reads first holds a snapshot; if another writer commits before its first write,
    SQLite refuses the upgrade at once (SQLITE_BUSY_SNAPSHOT, "database is locked") without waiting,
    because waiting could not help. Every store transaction that writes uses this."""
    with write_connection(engine) as connection, connection.begin():
        yield connection


def open_engine(url: str) -> Engine:
    """An engine for ``url``; creates the folder of a SQLite file and the file itself, mode 0600.
    Raises ConfigError on a bad URL."""
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise ConfigError(f"not a database URL: {url!r}") from None
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            path = Path(parsed.database)
            path.parent.mkdir(parents=True, exist_ok=True)
            # Members' e-mail addresses and password hashes: readable by the owner only, like
            # the secret key. SQLite gives its -wal and -shm files the database file's mode.
            os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o600))
        engine = create_engine(parsed, json_serializer=_json_dumps, json_deserializer=orjson.loads)
        event.listen(engine, "connect", _sqlite_pragmas)
        event.listen(engine, "begin", _sqlite_begin)
        return engine
    if parsed.get_backend_name() == "postgresql":
        if parsed.drivername == "postgresql":
            parsed = parsed.set(drivername="postgresql+psycopg")
        return create_engine(
            parsed,
            json_serializer=_json_dumps,
            json_deserializer=orjson.loads,
            pool_pre_ping=True,
        )
    raise ConfigError(
        f"unsupported database {parsed.get_backend_name()!r}: use sqlite or postgresql"
    )


def _alembic_config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return config


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def head_revision() -> str | None:
    return ScriptDirectory.from_config(_alembic_config()).get_current_head()


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Apply migrations up to ``revision``."""
    config = _alembic_config()
    try:
        with engine.begin() as connection:
            if connection.dialect.name == "postgresql":
                # App servers and workers starting together each upgrade at start-up: the
                # first takes this lock and migrates; the others wait, then find nothing to do.
                connection.exec_driver_sql(f"SELECT pg_advisory_xact_lock({_MIGRATION_LOCK})")
            config.attributes["connection"] = connection
            command.upgrade(config, revision)
    except OperationalError as error:
        raise PaperboardError(f"cannot reach the database: {db_error(error)}") from None


def ensure_schema(engine: Engine) -> None:
    """Upgrade the database if it is behind the code's newest migration."""
    try:
        behind = current_revision(engine) != head_revision()
    except OperationalError as error:
        raise PaperboardError(f"cannot reach the database: {db_error(error)}") from None
    except DatabaseError as error:  # a sqlite URL naming a file that is no database
        if "not a database" in str(error.orig):
            raise ConfigError(
                f"PAPERBOARD_DATABASE_URL names {engine.url.database}, which is not a database"
            ) from None
        raise PaperboardError(f"cannot open the database: {db_error(error)}") from None
    if behind:
        upgrade(engine)
