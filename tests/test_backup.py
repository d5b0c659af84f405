"""``paperboard backup`` and ``restore`` on both engines: a store with papers, a member and an
upvote comes back whole in a fresh database (same rows, same lexical search results), and with
its embeddings (a new home on it ranks by meaning alike without embedding anything); a database
with data is not replaced without --force; a file that is no backup changes nothing; a backup taken
while papers keep arriving is one consistent snapshot; an older backup is migrated on restore."""

from __future__ import annotations

import sqlite3
import threading
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest
from conftest import CliResult, PostgresServer

from paperboard.core.config import Settings, load_settings
from paperboard.core.errors import PaperboardError
from paperboard.core.records import PaperRecord
from paperboard.index.indexer import SearchIndex, build_neighbours, sync_lexical, sync_vectors
from paperboard.rank.search import search
from paperboard.sources.normalize import prepare
from paperboard.store.backup import backup, libpq_url, pg_tool
from paperboard.store.community import CommunityStore
from paperboard.store.database import head_revision, open_engine, upgrade
from paperboard.store.members import MemberStore
from paperboard.store.papers import PaperStore

Cli = Callable[..., CliResult]

TOPICS = [
    ("Graph neural networks for molecules", "message passing over molecular graphs"),
    ("Diffusion models for images", "denoising diffusion generates images"),
    ("Quantum error correction codes", "surface codes protect qubits"),
    ("Protein structure prediction", "folding proteins from sequences"),
    ("Robot learning from demonstrations", "imitation learning for robot arms"),
    ("Aligning language models", "preference optimisation of language models"),
]
QUERIES = ["graph neural", "diffusion images", "quantum codes", "protein folding", "robot"]


def record(number: int, prefix: str = "2501") -> PaperRecord:
    title, words = TOPICS[number % len(TOPICS)]
    return prepare(
        PaperRecord(
            id=f"{prefix}.{number:05d}",
            source="arxiv",
            version=1,
            title=f"{title}, part {number}",
            abstract=f"We study {words}. Experiment {number} uses setting {number * 7 % 11}.",
            authors=["Ada Lovelace", f"Author {number}"],
            categories=["cs.LG"] if number % 2 else ["cs.CV", "cs.LG"],
            published_at=datetime(2025, 1, 1 + number % 28, tzinfo=UTC),
        )
    )


def fill(store: PaperStore, count: int = 24) -> list[str]:
    store.write([record(number) for number in range(count)])
    return [f"2501.{number:05d}" for number in range(count)]


def one_line_error(result: CliResult) -> str:
    assert result.exit_code == 1, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("paperboard: error: "), result.stderr
    return lines[0]


@dataclass
class Deployment:
    url: str
    home: Path

    @property
    def settings(self) -> Settings:
        return load_settings(home=self.home, database_url=self.url)

    def use(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """Point the CLI at this deployment."""
        monkeypatch.setenv("PAPERBOARD_DATABASE_URL", self.url)
        monkeypatch.setenv("PAPERBOARD_HOME", str(self.home))


@pytest.fixture
def fresh(db_url: str, tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Deployment]:
    """A second, empty deployment on the same engine as ``db_url``."""
    home = tmp_path / "fresh-home"
    home.mkdir()
    if db_url.startswith("sqlite"):
        yield Deployment(f"sqlite:///{tmp_path / 'fresh' / 'paperboard.db'}", home)
        return
    server: PostgresServer = request.getfixturevalue("postgres_server")
    name = "r_" + uuid.uuid4().hex[:12]
    server.admin(f"CREATE DATABASE {name}")
    yield Deployment(server.url(name), home)
    server.admin(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def top_ids(settings: Settings) -> dict[str, list[str]]:
    """The lexical index built from the store, and the top papers of each query."""
    store = PaperStore.open(settings)
    index = SearchIndex(settings)
    try:
        sync_lexical(store, index)
        return {
            query: [hit.id for hit in search(index, store, query, mode="lexical", k=5).hits]
            for query in QUERIES
        }
    finally:
        index.lexical.close()
        store.close()


def test_a_backup_comes_back_whole_in_a_fresh_database(
    cli: Cli,
    store: PaperStore,
    settings: Settings,
    fresh: Deployment,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    ids = fill(store)
    members = MemberStore(store.engine)
    ada = members.create("ada@example.org", "Ada", "not-a-real-hash", role="admin", verified=True)
    members.create("alan@example.org", "Alan", "another-hash")
    CommunityStore(store.engine).upvote(ada["id"], ids[3])
    papers_before, members_before = store.get_many(ids), members.list()
    searches_before = top_ids(settings)
    assert all(searches_before.values())
    path = tmp_path / "backups" / "paperboard.backup"
    path.parent.mkdir()

    done = cli("backup", str(path))
    assert done.exit_code == 0, done.output
    assert (
        done.stdout.startswith("backed up 24 papers and 2 members (") and str(path) in done.stdout
    )
    assert path.stat().st_mode & 0o777 == 0o600  # password hashes inside

    fresh.use(monkeypatch)
    done = cli("restore", str(path))
    assert done.exit_code == 0, done.output
    assert done.stdout.startswith("restored 24 papers and 2 members (")
    assert "paperboard index --rebuild" in done.stdout
    restored = PaperStore.open(fresh.settings)
    try:
        assert restored.get_many(ids) == papers_before
        assert restored.get_many(ids)[ids[3]]["member_votes"] == 1
        assert MemberStore(restored.engine).list() == members_before
    finally:
        restored.close()
    assert top_ids(fresh.settings) == searches_before


def indexed_by_meaning(settings: Settings) -> tuple[int, dict[str, list[str]]]:
    """Index the store as ``paperboard index`` does, embedding only papers with no stored vector:
    how many it embedded, and the top papers of each query ranked by meaning and hybrid."""
    store = PaperStore.open(settings)
    index = SearchIndex(settings)
    try:
        sync_lexical(store, index)
        embedded = sync_vectors(store, index)
        build_neighbours(index)
        return embedded, {
            f"{mode} {query}": [hit.id for hit in search(index, store, query, mode=mode).hits]
            for query in QUERIES
            for mode in ("dense", "hybrid")
        }
    finally:
        index.lexical.close()
        store.close()


def test_a_restored_deployment_ranks_by_meaning_without_embedding_again(
    cli: Cli,
    store: PaperStore,
    fresh: Deployment,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    model_cache: Path,
) -> None:
    monkeypatch.setenv("PAPERBOARD_MODELS_DIR", str(model_cache))
    ids = fill(store)
    embedded, rankings = indexed_by_meaning(load_settings())
    assert embedded == len(ids) and all(rankings.values())
    model = SearchIndex(load_settings()).vector_model
    vectors = store.embeddings.get(model, ids)
    assert len(vectors) == len(ids)
    path = tmp_path / "paperboard.backup"
    assert cli("backup", str(path)).exit_code == 0

    fresh.use(monkeypatch)
    assert cli("restore", str(path)).exit_code == 0
    restored = PaperStore.open(fresh.settings)
    try:
        assert restored.embeddings.get(model, ids) == vectors  # the same float16 bytes
    finally:
        restored.close()
    # a new home on the restored database: every vector comes from it, none is embedded again
    assert indexed_by_meaning(fresh.settings) == (0, rankings)


def test_restore_refuses_a_database_with_papers_unless_forced(
    cli: Cli, store: PaperStore, db_url: str, tmp_path: Path
) -> None:
    fill(store, 3)
    path = tmp_path / "three.backup"
    assert cli("backup", str(path)).exit_code == 0
    store.write([record(99)])

    message = one_line_error(cli("restore", str(path)))
    assert "already holds 4 papers" in message and "--force" in message
    assert store.count() == 4

    store.engine.dispose()  # the restore must have the database to itself
    if db_url.startswith("sqlite"):
        with store.engine.connect():  # the site, still running
            message = one_line_error(cli("restore", "--force", str(path)))
        assert "in use" in message and "stop the site" in message
        assert store.count() == 4
        store.engine.dispose()
    done = cli("restore", "--force", str(path))
    assert done.exit_code == 0, done.output
    assert done.stdout.startswith("restored 3 papers and 0 members")
    assert store.count() == 3 and store.get("2501.00099") is None


def _plain_sqlite(path: Path) -> None:
    connection = sqlite3.connect(path)
    connection.execute("CREATE TABLE notes (body TEXT)")
    connection.commit()
    connection.close()


@pytest.mark.parametrize("kind", ["text", "plain sqlite", "pg_dump header only"])
def test_a_file_that_is_no_backup_is_refused_and_nothing_changes(
    kind: str, cli: Cli, store: PaperStore, db_url: str, tmp_path: Path
) -> None:
    fill(store, 5)
    path = tmp_path / "not-a-backup"
    if kind == "text":
        path.write_text("these are my notes, not a database\n")
    elif kind == "plain sqlite":
        _plain_sqlite(path)
    else:
        path.write_bytes(b"PGDMP" + bytes(200))
    store.engine.dispose()
    database = Path(db_url.removeprefix("sqlite:///"))
    content = database.read_bytes() if db_url.startswith("sqlite") else b""

    message = one_line_error(cli("restore", "--force", str(path)))
    on_sqlite = db_url.startswith("sqlite")
    expected = {
        "text": "is not a paperboard backup (neither SQLite nor pg_dump)",
        "plain sqlite": "is not a paperboard backup (no alembic_version table)"
        if on_sqlite
        else "is a SQLite backup and the database is postgresql",
        "pg_dump header only": "is a PostgreSQL (pg_dump) backup and the database is sqlite"
        if on_sqlite
        else "pg_restore failed",
    }[kind]
    assert expected in message
    assert store.count() == 5
    if on_sqlite:
        store.engine.dispose()
        assert database.read_bytes() == content
        assert [p.name for p in database.parent.iterdir() if p.name.startswith(".")] == []


def test_a_backup_taken_while_papers_keep_arriving_is_one_snapshot(
    cli: Cli,
    store: PaperStore,
    fresh: Deployment,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    batch = 20  # papers per transaction: a consistent copy holds whole batches only
    written = threading.Semaphore(0)
    stop = threading.Event()
    failures: list[BaseException] = []

    def keep_writing() -> None:
        number = 0
        try:
            while not stop.is_set():
                store.write([record(number + i, prefix="2502") for i in range(batch)])
                number += batch
                written.release()
        except BaseException as error:  # reported by the test below
            failures.append(error)
            written.release()

    writer = threading.Thread(target=keep_writing)
    writer.start()
    path = tmp_path / "busy.backup"
    try:
        assert written.acquire(timeout=60)
        done = cli("backup", str(path))
        for _ in range(2):  # and the writer went on after the backup
            assert written.acquire(timeout=60)
    finally:
        stop.set()
        writer.join(timeout=60)
    assert failures == []
    assert done.exit_code == 0, done.output
    final = store.count()

    fresh.use(monkeypatch)
    done = cli("restore", str(path))
    assert done.exit_code == 0, done.output
    restored = PaperStore.open(fresh.settings)
    try:
        count = restored.count()
        assert f"restored {count:,} papers" in done.stdout
        assert 0 < count < final and count % batch == 0
        ids = [f"2502.{number:05d}" for number in range(count)]
        assert restored.get_many(ids) == store.get_many(ids)
    finally:
        restored.close()


def test_an_older_backup_is_migrated_on_restore(
    cli: Cli, db_url: str, fresh: Deployment, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    engine = open_engine(db_url)
    upgrade(engine, "0006")
    engine.dispose()
    path = tmp_path / "old.backup"
    done = cli("backup", str(path))
    assert done.exit_code == 0, done.output
    assert "revision 0006" in done.stdout

    fresh.use(monkeypatch)
    done = cli("restore", str(path))
    assert done.exit_code == 0, done.output
    assert f"revision 0006, upgraded to {head_revision()}" in done.stdout


def test_nothing_to_back_up_and_nowhere_to_write_are_one_line_errors(
    cli: Cli, db_url: str, tmp_path: Path
) -> None:
    message = one_line_error(cli("backup", str(tmp_path / "empty.backup")))
    assert "nothing to back up" in message
    assert not (tmp_path / "empty.backup").exists()
    message = one_line_error(cli("backup", str(tmp_path / "no-such-folder" / "x.backup")))
    assert "no folder" in message
    notes = tmp_path / "notes.txt"
    notes.write_text("keep me\n")
    message = one_line_error(cli("backup", str(notes)))
    assert "not a backup" in message and notes.read_text() == "keep me\n"


# -- PostgreSQL client programs and URLs, without a server ----------------------------------------


def test_pg_tool_takes_the_newest_installed_version(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path / "nothing-here"))
    for version in ["9.6", "15", "13"]:
        program = tmp_path / "lib" / version / "bin" / "pg_dump"
        program.parent.mkdir(parents=True)
        program.write_text("#!/bin/sh\n")
        program.chmod(0o755)
    assert pg_tool("pg_dump", lib=tmp_path / "lib") == str(tmp_path / "lib/15/bin/pg_dump")
    with pytest.raises(PaperboardError, match="apt-get install postgresql-client"):
        pg_tool("pg_restore", lib=tmp_path / "lib")


def test_libpq_url_keeps_the_password_off_the_command_line() -> None:
    url, password = libpq_url(
        "postgresql+psycopg://paper:s%40cret%2Fx@db.example:5433/board?sslmode=require"
    )
    assert url == "postgresql://paper@db.example:5433/board?sslmode=require"
    assert password == "s@cret/x"
    assert libpq_url("postgresql+psycopg://paper@/board?host=/run/postgresql") == (
        "postgresql://paper@/board?host=%2Frun%2Fpostgresql",
        None,
    )


def test_an_older_backup_forced_over_a_newer_database_replaces_it(
    cli: Cli, store: PaperStore, fresh: Deployment, tmp_path: Path
) -> None:
    """The tables of newer migrations, which the backup lacks, must not survive the restore and
    then break its upgrade."""
    fill(store, 4)
    store.engine.dispose()
    engine = open_engine(fresh.url)
    upgrade(engine, "0006")
    engine.dispose()
    path = tmp_path / "old.backup"
    assert backup(fresh.url, path).revision == "0006"

    done = cli("restore", "--force", str(path))
    assert done.exit_code == 0, done.output
    assert f"revision 0006, upgraded to {head_revision()}" in done.stdout
    assert store.count() == 0
