"""A whole database in one file, and back: ``backup`` and ``restore``.

SQLite is copied with its online backup API, a consistent snapshot while the site and the worker
keep writing, into a plain single-file database (no ``-wal``). PostgreSQL is dumped by
``pg_dump --format=custom`` inside an exported snapshot, so the counts reported are those of the
dump, and restored by ``pg_restore`` in one transaction. A file's first bytes say which engine
wrote it; a backup never goes into the other engine. After a restore the migrations run, so an
older backup comes up to the newest schema. Everything in the database comes along, whatever
tables a newer paperboard adds.
"""

from __future__ import annotations

import os
import re
import shutil
import sqlite3
import subprocess
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

from sqlalchemy import Connection, Engine, func, inspect, select, table, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, DatabaseError, OperationalError

from paperboard.core.errors import ConfigError, PaperboardError
from paperboard.core.files import atomic_path
from paperboard.store.database import current_revision, db_error, open_engine, upgrade
from paperboard.store.schema import Base

SQLITE_MAGIC = b"SQLite format 3\x00"
PGDUMP_MAGIC = b"PGDMP"
POSTGRES_LIB = Path("/usr/lib/postgresql")
DEBIAN_CLIENT = "postgresql-client"
# What a restore would destroy: it refuses a database that holds any of these without force.
KEPT_TABLES = ("papers", "members", "subscribers")
_LOCK_WAIT_SECONDS = 30


@dataclass(frozen=True)
class BackupReport:
    """What one backup holds."""

    path: Path
    engine: str  # "sqlite" or "postgresql"
    bytes: int
    papers: int
    members: int
    revision: str

    def summary(self) -> str:
        return (
            f"backed up {_counted(self.papers, self.members)} ({self.engine}, revision "
            f"{self.revision}, {self.bytes:,} bytes) to {self.path}"
        )


@dataclass(frozen=True)
class RestoreReport:
    """What one restore put in place."""

    path: Path
    engine: str
    target: str  # the database file or the PostgreSQL URL, without its password
    bytes: int
    papers: int
    members: int
    backup_revision: str
    revision: str  # after the migrations ran

    def summary(self) -> str:
        revision = self.backup_revision
        if self.revision != self.backup_revision:
            revision += f", upgraded to {self.revision}"
        return (
            f"restored {_counted(self.papers, self.members)} ({self.engine}, revision {revision}, "
            f"{self.bytes:,} bytes) from {self.path} into {self.target}"
        )


def _counted(papers: int, members: int) -> str:
    return f"{papers:,} paper{'s' * (papers != 1)} and {members:,} member{'s' * (members != 1)}"


# -- the two entry points ------------------------------------------------------------------------


def backup(db_url: str, path: str | os.PathLike[str]) -> BackupReport:
    """Copy the whole database at ``db_url`` into the file ``path`` (replaced whole, mode 0600:
    it holds password hashes). Safe while other processes write. Raises PaperboardError."""
    target = Path(path)
    backend, url = _parse(db_url)
    if target.is_dir():
        raise PaperboardError(f"{target} is a folder: name the backup file to write")
    if not target.parent.is_dir():
        raise PaperboardError(f"no folder {target.parent} to write {target.name} in")
    if target.exists() and _magic(target) not in ("sqlite", "postgresql"):
        raise PaperboardError(f"{target} exists and is not a backup: refusing to overwrite it")
    if backend == "sqlite":
        return _sqlite_backup(_sqlite_file(url), target)
    return _postgres_backup(db_url, target)


def restore(path: str | os.PathLike[str], db_url: str, *, force: bool = False) -> RestoreReport:
    """Replace the database at ``db_url`` with the backup in ``path``, then migrate it to the
    newest schema. Refuses a database holding papers, members or subscribers unless ``force``.
    The file is checked before anything is changed. Raises PaperboardError."""
    source = Path(path)
    backend, url = _parse(db_url)
    if not source.is_file():
        raise PaperboardError(f"no backup file {source}")
    kind = _magic(source)
    if kind is None:
        raise PaperboardError(f"{source} is not a paperboard backup (neither SQLite nor pg_dump)")
    if kind != backend:
        wrote = "a SQLite" if kind == "sqlite" else "a PostgreSQL (pg_dump)"
        raise PaperboardError(
            f"{source} is {wrote} backup and the database is {backend}: restore it into a "
            f"{kind} database (PAPERBOARD_DATABASE_URL)"
        )
    if backend == "sqlite":
        return _sqlite_restore(source, _sqlite_file(url), db_url, force=force)
    return _postgres_restore(source, db_url, force=force)


# -- shared --------------------------------------------------------------------------------------


def _parse(db_url: str) -> tuple[str, URL]:
    try:
        url = make_url(db_url)
    except ArgumentError:
        raise ConfigError(f"not a database URL: {db_url!r}") from None
    backend = url.get_backend_name()
    if backend not in ("sqlite", "postgresql"):
        raise ConfigError(f"unsupported database {backend!r}: use sqlite or postgresql")
    return backend, url


def _sqlite_file(url: URL) -> Path:
    if not url.database or url.database == ":memory:":
        raise ConfigError("an in-memory SQLite database cannot be backed up or restored")
    return Path(url.database)


def _magic(path: Path) -> str | None:
    """Which engine wrote the backup file at ``path``, by its first bytes; None for neither."""
    with open(path, "rb") as handle:
        head = handle.read(len(SQLITE_MAGIC))
    if head == SQLITE_MAGIC:
        return "sqlite"
    if head.startswith(PGDUMP_MAGIC):
        return "postgresql"
    return None


def _table_counts(connection: Connection) -> dict[str, int]:
    """Rows in each of KEPT_TABLES that exists (an old schema lacks some)."""
    present = set(inspect(connection).get_table_names())
    return {
        name: int(connection.execute(select(func.count()).select_from(table(name))).scalar_one())
        for name in KEPT_TABLES
        if name in present
    }


def _refuse_unless_empty(engine: Engine, where: str) -> None:
    try:
        with engine.connect() as connection:
            counts = _table_counts(connection)
    except OperationalError as error:
        raise PaperboardError(f"cannot reach the database: {db_error(error)}") from None
    except DatabaseError as error:
        raise PaperboardError(
            f"cannot read {where} ({db_error(error)}): add --force to replace it"
        ) from None
    held = [f"{count:,} {name}" for name, count in counts.items() if count]
    if held:
        raise PaperboardError(
            f"{where} already holds {', '.join(held)}: restore into an empty database, or add "
            "--force to replace them"
        )


def _after_restore(engine: Engine) -> tuple[str, str, int, int]:
    """Migrate the restored database; its revision before and after, papers and members."""
    before = current_revision(engine) or "none"
    upgrade(engine)
    with engine.connect() as connection:
        counts = _table_counts(connection)
    after = current_revision(engine) or "none"
    return before, after, counts.get("papers", 0), counts.get("members", 0)


# -- SQLite --------------------------------------------------------------------------------------


def _sqlite_facts(
    connection: sqlite3.Connection, path: Path, *, live: bool = False
) -> tuple[str, int, int]:
    """The revision, papers and members of a SQLite paperboard database (``live``: the one in
    use, else a backup); PaperboardError for a file that is no database, or one paperboard did
    not make."""
    try:
        names = {row[0] for row in connection.execute("SELECT name FROM sqlite_master")}
        if "alembic_version" not in names or "papers" not in names:
            if live:
                raise PaperboardError(f"{path} has no paperboard schema: nothing to back up")
            raise PaperboardError(f"{path} is not a paperboard backup (no alembic_version table)")
        revision = connection.execute("SELECT version_num FROM alembic_version").fetchone()
        papers = connection.execute("SELECT count(*) FROM papers").fetchone()[0]
        members = (
            connection.execute("SELECT count(*) FROM members").fetchone()[0]
            if "members" in names
            else 0
        )
    except sqlite3.DatabaseError as error:
        raise PaperboardError(f"{path} is not a readable SQLite database: {error}") from None
    if revision is None:
        raise PaperboardError(f"{path} is not a paperboard backup (no schema revision)")
    return str(revision[0]), int(papers), int(members)


def _sqlite_backup(database: Path, target: Path) -> BackupReport:
    if not database.is_file():
        raise PaperboardError(f"no database at {database}: nothing to back up")
    if target.resolve() == database.resolve():
        raise PaperboardError(f"{target} is the database itself: name another file")
    source = sqlite3.connect(database, timeout=_LOCK_WAIT_SECONDS, isolation_level=None)
    try:
        _sqlite_facts(source, database, live=True)  # or say so before writing anything
        with atomic_path(target, mode=0o600) as temporary:
            copy = sqlite3.connect(temporary, isolation_level=None)
            try:
                # One step (pages=-1): a single read transaction, so under WAL the copy is one
                # consistent snapshot however much the site and the worker write meanwhile.
                source.backup(copy)
                # A self-contained file: no -wal beside it, whatever the source's journal mode.
                copy.execute("PRAGMA journal_mode=DELETE")
                revision, papers, members = _sqlite_facts(copy, database, live=True)
            finally:
                copy.close()
    except sqlite3.DatabaseError as error:
        raise PaperboardError(f"cannot back up {database}: {error}") from None
    finally:
        source.close()
    return BackupReport(target, "sqlite", target.stat().st_size, papers, members, revision)


def _check_sqlite_backup(path: Path) -> None:
    """Refuse a SQLite file that is not a whole, intact paperboard database."""
    if Path(f"{path}-wal").exists():
        raise PaperboardError(
            f"{path} has a write-ahead log beside it ({path.name}-wal): it is a live database, "
            "not a backup; make one with paperboard backup"
        )
    # immutable: read the file as it is, taking no locks and writing nothing beside it.
    uri = f"file:{quote(str(path.resolve()))}?immutable=1"
    try:
        connection = sqlite3.connect(uri, uri=True)
    except sqlite3.DatabaseError as error:
        raise PaperboardError(f"{path} is not a readable SQLite database: {error}") from None
    try:
        _sqlite_facts(connection, path)
        try:
            verdict = connection.execute("PRAGMA quick_check").fetchone()[0]
        except sqlite3.DatabaseError as error:
            verdict = str(error)
        if verdict != "ok":
            raise PaperboardError(f"{path} is damaged: {verdict}")
    finally:
        connection.close()


def _release_old_journal(database: Path) -> None:
    """Fold the replaced database's -wal (or hot -journal) into it and remove it, so it cannot be
    applied to the restored file; PaperboardError while another process has the database open."""
    if not database.exists():
        return
    leftovers = [Path(f"{database}{suffix}") for suffix in ("-wal", "-shm", "-journal")]
    try:
        connection = sqlite3.connect(database, timeout=_LOCK_WAIT_SECONDS, isolation_level=None)
    except sqlite3.DatabaseError:
        mode = "unreadable"
    else:
        try:
            # Leaving WAL mode needs the only connection: it fails while the site or worker runs.
            mode = str(connection.execute("PRAGMA journal_mode=DELETE").fetchone()[0])
        except sqlite3.DatabaseError as error:
            mode = "in use" if "locked" in str(error) else "unreadable"
        finally:
            connection.close()
    if mode == "unreadable":  # not a database (forced): what lies beside it is no use either
        for leftover in leftovers:
            leftover.unlink(missing_ok=True)
    elif mode != "delete":
        raise PaperboardError(
            f"{database} is in use: stop the site and the worker, then restore again"
        )


def _sqlite_restore(source: Path, database: Path, db_url: str, *, force: bool) -> RestoreReport:
    if database.exists() and source.resolve() == database.resolve():
        raise PaperboardError(f"{source} is the database itself")
    _check_sqlite_backup(source)
    if database.exists() and not force:
        engine = open_engine(db_url)
        try:
            _refuse_unless_empty(engine, str(database))
        finally:
            engine.dispose()
    size = source.stat().st_size
    database.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(database, mode=0o600) as temporary:
        shutil.copyfile(source, temporary)
        # The copy is what goes in place: read it once more (a file changed under us, a short
        # copy on a full disk) before the rename.
        copy = sqlite3.connect(temporary, isolation_level=None)
        try:
            _sqlite_facts(copy, source)
            copy.execute("PRAGMA journal_mode=DELETE")
        except sqlite3.DatabaseError as error:
            raise PaperboardError(f"{source} could not be copied whole: {error}") from None
        finally:
            copy.close()
        _release_old_journal(database)
    engine = open_engine(db_url)
    try:
        before, after, papers, members = _after_restore(engine)
    finally:
        engine.dispose()
    return RestoreReport(source, "sqlite", str(database), size, papers, members, before, after)


# -- PostgreSQL ----------------------------------------------------------------------------------


def _version_key(folder: Path) -> tuple[int, ...]:
    try:
        return tuple(int(part) for part in folder.name.split("."))
    except ValueError:
        return (-1,)


def pg_tool(name: str, *, lib: Path = POSTGRES_LIB) -> str:
    """The path of PostgreSQL's ``name`` (pg_dump, pg_restore): the one on PATH, else the newest
    under ``lib`` (Debian's /usr/lib/postgresql/VERSION/bin); PaperboardError when there is none."""
    found = shutil.which(name)
    if found:
        return found
    candidates = [
        folder / "bin" / name
        for folder in (lib.iterdir() if lib.is_dir() else [])
        if os.access(folder / "bin" / name, os.X_OK)
    ]
    if candidates:
        return str(max(candidates, key=lambda path: _version_key(path.parent.parent)))
    raise PaperboardError(
        f"{name} is not installed: install PostgreSQL's client programs "
        f"(Debian and Ubuntu: apt-get install {DEBIAN_CLIENT})"
    )


def libpq_url(db_url: str) -> tuple[str, str | None]:
    """A SQLAlchemy PostgreSQL URL as libpq reads it, without its password, and the password
    (for ``PGPASSWORD``: a command line is visible to every user of the machine)."""
    url = make_url(db_url)
    password = url.password or url.query.get("password")
    plain = URL.create(  # not url.set(password=None): set leaves a None value unchanged
        "postgresql",
        username=url.username,
        host=url.host,
        port=url.port,
        database=url.database,
        query={name: value for name, value in url.query.items() if name != "password"},
    )
    return plain.render_as_string(hide_password=False), None if password is None else str(password)


def _run_pg(name: str, arguments: list[str], db_url: str | None = None) -> str:
    """Run a PostgreSQL client program; its stdout, or PaperboardError with its message on one
    line. The password, if any, travels in the environment."""
    environment = dict(os.environ)
    if db_url is not None:
        password = libpq_url(db_url)[1]
        if password is not None:
            environment["PGPASSWORD"] = password
    program = pg_tool(name)
    done = subprocess.run(
        [program, *arguments], env=environment, capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        message = " ".join(done.stderr.split()) or f"exit status {done.returncode}"
        raise PaperboardError(f"{name} failed: {message.removeprefix(f'{name}: error: ')}")
    return done.stdout


def _where(db_url: str) -> str:
    return make_url(db_url).render_as_string(hide_password=True)


def _postgres_backup(db_url: str, target: Path) -> BackupReport:
    engine = open_engine(db_url)
    try:
        with (
            engine.connect().execution_options(isolation_level="REPEATABLE READ") as connection,
            connection.begin(),
        ):
            # pg_dump reads the snapshot this transaction exported: the dump holds exactly what
            # the counts below saw, and the transaction stays open until pg_dump is done.
            snapshot = connection.execute(text("SELECT pg_export_snapshot()")).scalar_one()
            if not inspect(connection).has_table("alembic_version"):
                raise PaperboardError(
                    f"{_where(db_url)} has no paperboard schema: nothing to back up"
                )
            revision = connection.execute(text("SELECT version_num FROM alembic_version")).scalar()
            counts = _table_counts(connection)
            with atomic_path(target, mode=0o600) as temporary:
                _run_pg(
                    "pg_dump",
                    [
                        "--format=custom",
                        "--no-password",
                        f"--snapshot={snapshot}",
                        f"--file={temporary}",
                        f"--dbname={libpq_url(db_url)[0]}",
                    ],
                    db_url,
                )
    except OperationalError as error:
        raise PaperboardError(f"cannot reach the database: {db_error(error)}") from None
    finally:
        engine.dispose()
    return BackupReport(
        target,
        "postgresql",
        target.stat().st_size,
        counts.get("papers", 0),
        counts.get("members", 0),
        str(revision or "none"),
    )


def _drop_tables_missing_from(engine: Engine, dumped: set[str]) -> None:
    """Drop paperboard's tables that the backup lacks (those of migrations newer than it): left
    in place, their foreign keys stop --clean and their presence breaks the upgrade after it.
    Other applications' tables in the same database are never touched."""
    ours = set(Base.metadata.tables) | {"alembic_version"}
    with engine.begin() as connection:
        for name in sorted((set(inspect(connection).get_table_names()) & ours) - dumped):
            connection.execute(text(f'DROP TABLE IF EXISTS "{name}" CASCADE'))


def _postgres_restore(source: Path, db_url: str, *, force: bool) -> RestoreReport:
    contents = _run_pg("pg_restore", ["--list", str(source)])
    # Table entries of the archive's contents: "215; 1259 16386 TABLE public papers owner".
    dumped = set(re.findall(r"^\d+; \d+ \d+ TABLE \S+ (\S+) ", contents, re.MULTILINE))
    if "alembic_version" not in dumped:
        raise PaperboardError(f"{source} is not a paperboard backup (no alembic_version table)")
    where = _where(db_url)
    engine = open_engine(db_url)
    try:
        if not force:
            _refuse_unless_empty(engine, where)
        _drop_tables_missing_from(engine, dumped)
        # Empty or forced: --clean drops what the backup holds first (a schema with no rows, or
        # the rows --force replaces), and one transaction leaves the database as it was on error.
        _run_pg(
            "pg_restore",
            [
                "--clean",
                "--if-exists",
                "--no-owner",
                "--no-privileges",
                "--single-transaction",
                "--no-password",
                f"--dbname={libpq_url(db_url)[0]}",
                str(source),
            ],
            db_url,
        )
        before, after, papers, members = _after_restore(engine)
    except OperationalError as error:
        raise PaperboardError(f"cannot reach the database: {db_error(error)}") from None
    finally:
        engine.dispose()
    return RestoreReport(
        source, "postgresql", where, source.stat().st_size, papers, members, before, after
    )
