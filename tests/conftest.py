"""Shared fixtures: real databases (a SQLite file and a PostgreSQL server started here), a
paperboard home per test, the CLI, and a local HTTP server that plays recorded responses.

Any test that uses ``db_url``, ``settings``, ``store`` or ``cli`` runs twice: on SQLite and on
PostgreSQL (once, on SQLite, where it is marked ``@sqlite_only``). Set
``PAPERBOARD_TEST_BACKENDS=sqlite`` to run only one while developing.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import socket
import subprocess
import tempfile
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from glob import glob
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, NoReturn
from urllib.parse import parse_qs, urlsplit

import pytest
from typer.testing import CliRunner

from paperboard.core.config import Settings, load_settings
from paperboard.store.papers import PaperStore

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared"
SHARED_DATA = SHARED / "data" / "arxiv-2025.jsonl.gz"
FIXTURES = Path(__file__).resolve().parent / "fixtures"

BACKENDS = [
    b for b in os.environ.get("PAPERBOARD_TEST_BACKENDS", "sqlite,postgresql").split(",") if b
]


# -- the order xdist hands the files out in -------------------------------------------------------

# Files that take a minute or more on one worker, longest first (seconds in a full run on a loaded
# 2-core machine: README 640, cluster 185, browser 140, literature map 115, embed 80, openapi 80,
# for-you 70, mcp 60, base URL 50, replica 40). ``--dist loadfile`` runs a file whole on one
# worker, and xdist hands out the files with the most tests first, which left those of a few tests
# for the end: one worker busy with the README's demo for minutes after the others had finished
# (a run's length 1,580 s instead of 1,210 s, replaying that run's durations). They go out first
# instead, the rest after them, most tests first, as xdist would.
LONG_FILES = (
    "test_readme.py",
    "test_cluster.py",
    "test_browser.py",
    "test_literature_map.py",
    "test_embed.py",
    "test_openapi.py",
    "test_for_you.py",
    "test_mcp.py",
    "test_base_url.py",
    "test_replica.py",
)


def pytest_configure(config: pytest.Config) -> None:
    if hasattr(config.option, "loadscopereorder"):  # xdist: keep the order set below
        config.option.loadscopereorder = False


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if not os.environ.get("PYTEST_XDIST_WORKER"):
        return  # one process runs everything anyway: files in their usual order
    tests = Counter(item.path for item in items)
    first = {name: rank for rank, name in enumerate(LONG_FILES)}
    files = {path: n for n, path in enumerate(tests)}
    items.sort(
        key=lambda item: (
            first.get(item.path.name, len(first)),
            -tests[item.path],
            files[item.path],
        )
    )


# -- PostgreSQL -----------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _pg_bin(name: str) -> str:
    found = sorted(glob(f"/usr/lib/postgresql/*/bin/{name}"))
    if found:
        return found[-1]
    path = shutil.which(name)
    if path is None:
        pytest.fail(
            f"PostgreSQL's {name} is not installed: run ./scripts/test (it installs Debian's "
            "postgresql package) or set PAPERBOARD_TEST_BACKENDS=sqlite"
        )
    return path


@dataclass
class PostgresServer:
    port: int
    socket_dir: str

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{database}"

    def admin(self, sql: str) -> None:
        import psycopg

        with psycopg.connect(
            host="127.0.0.1", port=self.port, user="postgres", dbname="postgres", autocommit=True
        ) as connection:
            connection.execute(sql)


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """A throwaway PostgreSQL cluster on a free loopback port, removed at the end."""
    external = os.environ.get("PAPERBOARD_TEST_POSTGRES_PORT")
    if external:
        yield PostgresServer(int(external), "")
        return
    base = Path(tempfile.mkdtemp(prefix="paperboard-pg-"))
    data, sockets = base / "data", base / "sock"
    sockets.mkdir()
    as_root = os.geteuid() == 0
    prefix: list[str] = ["runuser", "-u", "postgres", "--"] if as_root else []
    if as_root:
        shutil.chown(base, "postgres")
        shutil.chown(sockets, "postgres")
    port = _free_port()
    subprocess.run(
        [
            *prefix,
            _pg_bin("initdb"),
            "-D",
            str(data),
            "-U",
            "postgres",
            "-A",
            "trust",
            "-E",
            "UTF8",
            "--no-sync",
        ],
        check=True,
        capture_output=True,
    )
    options = (
        f"-p {port} -k {sockets} -c listen_addresses=127.0.0.1 -c fsync=off "
        "-c synchronous_commit=off -c full_page_writes=off -c max_connections=200"
    )
    subprocess.run(
        [
            *prefix,
            _pg_bin("pg_ctl"),
            "-D",
            str(data),
            "-o",
            options,
            "-l",
            str(base / "log"),
            "-w",
            "start",
        ],
        check=True,
        capture_output=True,
    )
    try:
        yield PostgresServer(port, str(sockets))
    finally:
        subprocess.run(
            [*prefix, _pg_bin("pg_ctl"), "-D", str(data), "-m", "immediate", "stop"],
            capture_output=True,
        )
        shutil.rmtree(base, ignore_errors=True)


# A test whose outcome is settled before any SQL runs (parsing and refusing a request, a command
# line or a setting; HTTP to another server; documents built from no stored rows; the size of a
# page of rows both engines hand back alike) would only repeat itself on PostgreSQL:
# ``@sqlite_only`` runs it once, saying why on the test. What reads or writes the store in a way
# the engines may differ on (SQL, dates, text, ids, transactions, concurrency) runs on both.
sqlite_only = pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)


@contextmanager
def new_database(backend: str, folder: Path, request: pytest.FixtureRequest) -> Iterator[str]:
    """A new, empty database: a SQLite file in ``folder``, or a fresh database on the test
    PostgreSQL server, dropped afterwards."""
    if backend == "sqlite":
        yield f"sqlite:///{folder / 'paperboard.db'}"
        return
    server: PostgresServer = request.getfixturevalue("postgres_server")
    name = "t_" + uuid.uuid4().hex[:12]
    server.admin(f"CREATE DATABASE {name}")
    yield server.url(name)
    server.admin(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@pytest.fixture(params=BACKENDS)
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A new, empty database: a SQLite file, or a fresh database on the test PostgreSQL server."""
    with new_database(request.param, tmp_path, request) as url:
        yield url


# -- paperboard home, settings, store, CLI --------------------------------------------------------


@pytest.fixture
def home(tmp_path: Path) -> Path:
    path = tmp_path / "home"
    path.mkdir()
    return path


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch, home: Path, db_url: str) -> dict[str, str]:
    """Environment of a test deployment: its own home and database, no pauses between requests.

    Tests add endpoint variables (``PAPERBOARD_ARXIV_API_URL`` ...) with ``monkeypatch.setenv``.
    """
    for name in list(os.environ):
        if name.startswith("PAPERBOARD_") and not name.startswith("PAPERBOARD_TEST_"):
            monkeypatch.delenv(name)
    values = {
        "PAPERBOARD_HOME": str(home),
        "PAPERBOARD_DATABASE_URL": db_url,
        "PAPERBOARD_ARXIV_DELAY": "0",
        "PAPERBOARD_HTTP_BACKOFF": "0",
        "PAPERBOARD_HTTP_TIMEOUT": "5",
        # No background refresh: tests index explicitly (tests/test_cluster.py turns it on).
        "PAPERBOARD_REPLICA_REFRESH_SECONDS": "0",
    }
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    monkeypatch.chdir(home)
    return values


@pytest.fixture
def settings(env: dict[str, str]) -> Settings:
    return load_settings()


@pytest.fixture
def store(settings: Settings) -> Iterator[PaperStore]:
    paper_store = PaperStore.open(settings)
    yield paper_store
    paper_store.close()


@dataclass
class CliResult:
    exit_code: int
    stdout: str
    stderr: str

    @property
    def output(self) -> str:
        return self.stdout + self.stderr


@pytest.fixture
def cli(env: dict[str, str]) -> Callable[..., CliResult]:
    """Run ``paperboard ARGS`` in-process; returns exit code, stdout and stderr."""
    from paperboard.present.cli.main import app

    def invoke(*args: str, input: str | None = None) -> CliResult:
        runner = CliRunner()
        result = runner.invoke(app, list(args), input=input, catch_exceptions=False)
        return CliResult(result.exit_code, result.stdout, result.stderr)

    return invoke


# -- a local HTTP server playing recorded responses ------------------------------------------------


@dataclass
class Reply:
    status: int = 200
    body: bytes | str = b""
    headers: dict[str, str] = field(default_factory=dict)
    content_type: str = "application/xml; charset=utf-8"


@dataclass
class SeenRequest:
    path: str
    query: dict[str, list[str]]
    at: float
    headers: dict[str, str]


class FakeServer:
    """Serves scripted replies on 127.0.0.1. ``route(path, replies...)`` queues replies for a path
    (the last one repeats); ``route(path, handler)`` computes one from the request instead."""

    def __init__(self) -> None:
        self.requests: list[SeenRequest] = []
        self._routes: dict[str, list[Reply] | Callable[[SeenRequest], Reply]] = {}
        self._lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                parts = urlsplit(self.path)
                seen = SeenRequest(
                    parts.path, parse_qs(parts.query), time.monotonic(), dict(self.headers)
                )
                reply = server._reply(seen)
                body = reply.body.encode() if isinstance(reply.body, str) else reply.body
                self.send_response(reply.status)
                self.send_header("Content-Type", reply.content_type)
                self.send_header("Content-Length", str(len(body)))
                for name, value in reply.headers.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(
            target=lambda: self._httpd.serve_forever(poll_interval=0.05), daemon=True
        )
        self._thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._httpd.server_port}"  # the address it was bound to

    def route(self, path: str, *replies: Reply | Callable[[SeenRequest], Reply]) -> None:
        with self._lock:
            if len(replies) == 1 and callable(replies[0]) and not isinstance(replies[0], Reply):
                self._routes[path] = replies[0]
            else:
                self._routes[path] = list(replies)  # type: ignore[arg-type]

    def _reply(self, seen: SeenRequest) -> Reply:
        with self._lock:
            self.requests.append(seen)
            route = self._routes.get(seen.path)
            if route is None:
                return Reply(404, f"no route for {seen.path}", content_type="text/plain")
            if callable(route):
                handler = route
            else:
                return route.pop(0) if len(route) > 1 else route[0]
        return handler(seen)

    def close(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()


@pytest.fixture
def fake_server() -> Iterator[FakeServer]:
    server = FakeServer()
    yield server
    server.close()


# -- the site, served over loopback ---------------------------------------------------------------


def run_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder of this run shared by its xdist workers (the parent of their own temporary
    folders), or the run's temporary folder when it is not distributed."""
    base = tmp_path_factory.getbasetemp()
    return base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base


@contextmanager
def run_lock(tmp_path_factory: pytest.TempPathFactory, name: str) -> Iterator[Path]:
    """Holds a lock named ``name`` among the workers of this run; yields their shared folder."""
    folder = run_folder(tmp_path_factory)
    with open(folder / f"{name}.lock", "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)  # released when the file closes, or the worker dies
        yield folder


@pytest.fixture(scope="session")
def model_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One folder for the built embedding model, shared by every test of the run: the first
    worker to need a model builds it, under the lock the model builder takes, and the others
    read it."""
    folder = run_folder(tmp_path_factory) / "models"
    folder.mkdir(exist_ok=True)
    return folder


@pytest.fixture(scope="session")
def demo_indexes(tmp_path_factory: pytest.TempPathFactory, model_cache: Path) -> Path:
    """Search indexes (lexical, vectors, map) of the demo papers, built once per run (by the
    first worker to need them, while the others wait) and copied per test."""
    from paperboard.index.indexer import (
        SearchIndex,
        build_neighbours,
        sync_facets,
        sync_lexical,
        sync_vectors,
    )
    from paperboard.index.maps import build_map
    from paperboard.sources.demo import DemoSource
    from paperboard.store.importer import run_import

    with run_lock(tmp_path_factory, "demo-home") as shared:
        home = shared / "demo-home"
        built = home / "built"
        if built.exists():
            return home / "index"
        shutil.rmtree(home, ignore_errors=True)  # what a worker that died midway left
        home.mkdir()
        settings = load_settings(
            home=home, database_url=f"sqlite:///{home / 'demo.db'}", models_dir=model_cache
        )
        store = PaperStore.open(settings)
        run_import(store, DemoSource(), processes=1)
        index = SearchIndex(settings)
        sync_lexical(store, index)
        sync_vectors(store, index)
        sync_facets(store, index)
        build_neighbours(index)
        build_map(store, index)
        index.lexical.close()
        store.close()
        built.touch()
        return home / "index"


@dataclass
class Site:
    """A running paperboard: its URL, settings and in-process services (for arranging data)."""

    url: str
    settings: Settings
    app: Any

    @property
    def services(self) -> Any:
        return self.app.state.services

    def client(self, **options: Any) -> Any:
        import httpx

        return httpx.Client(base_url=self.url, timeout=30, **options)


def start_site(settings: Settings) -> tuple[Any, Any, threading.Thread]:
    import uvicorn

    from paperboard.present.web.app import create_app

    app = create_app(settings)
    port = int(settings.base_url.rsplit(":", 1)[1])
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the test site did not start")
        time.sleep(0.02)
    return app, server, thread


@pytest.fixture
def site(
    env: dict[str, str], monkeypatch: pytest.MonkeyPatch, model_cache: Path, demo_indexes: Path
) -> Iterator[Site]:
    """The site on the test's database with the demo papers and their indexes, served by uvicorn
    on a free loopback port. Page caching is off so that each request sees the latest data."""
    from paperboard.index.indexer import SearchIndex, sync_lexical
    from paperboard.sources.demo import DemoSource
    from paperboard.store.importer import run_import

    port = _free_port()
    monkeypatch.setenv("PAPERBOARD_MODELS_DIR", str(model_cache))
    monkeypatch.setenv("PAPERBOARD_BASE_URL", f"http://127.0.0.1:{port}")
    monkeypatch.setenv("PAPERBOARD_PAGE_CACHE_SECONDS", "0")
    settings = load_settings()
    shutil.copytree(demo_indexes, settings.home / "index")
    store = PaperStore.open(settings)
    run_import(store, DemoSource(), processes=1)
    index = SearchIndex(settings)
    sync_lexical(store, index)
    index.lexical.close()
    store.close()
    app, server, thread = start_site(settings)
    yield Site(settings.base_url, settings, app)
    server.should_exit = True
    thread.join(timeout=10)


# -- a real SMTP server ---------------------------------------------------------------------------


class SmtpSink:
    """aiosmtpd on a loopback port, keeping every message it accepts (parsed, modern policy).
    ``refuse`` maps an address to an SMTP reply (``"550 no such user"``) to give it instead."""

    def __init__(self) -> None:
        from aiosmtpd.controller import Controller

        self.messages: list[Any] = []
        self.envelopes: list[tuple[str, list[str]]] = []
        self.refuse: dict[str, str] = {}
        self.refuse_times: dict[str, int] = {}  # refuse only this many times, then accept
        self.delay = 0.0  # seconds to wait before accepting each message
        sink = self

        class Handler:
            async def handle_RCPT(
                self, server: Any, session: Any, envelope: Any, address: str, options: Any
            ) -> str:
                if address in sink.refuse:
                    left = sink.refuse_times.get(address)
                    if left is None or left > 0:
                        if left is not None:
                            sink.refuse_times[address] = left - 1
                        return sink.refuse[address]
                envelope.rcpt_tos.append(address)
                return "250 OK"

            async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
                from email import message_from_bytes
                from email.policy import default

                if sink.delay:
                    import asyncio

                    await asyncio.sleep(sink.delay)
                sink.messages.append(message_from_bytes(envelope.content, policy=default))
                sink.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos)))
                return "250 Message accepted"

        self.port = _free_port()
        self._controller = Controller(Handler(), hostname="127.0.0.1", port=self.port)
        self._controller.start()

    def close(self) -> None:
        self._controller.stop()


@pytest.fixture
def smtp_server() -> Iterator[SmtpSink]:
    sink = SmtpSink()
    yield sink
    sink.close()


@pytest.fixture
def slow_smtp() -> Iterator[SmtpSink]:
    """An SMTP server that takes 0.15 s per message, so a sending process can be killed midway."""
    sink = SmtpSink()
    sink.delay = 0.15
    yield sink
    sink.close()


# -- a real browser -------------------------------------------------------------------------------

CHROMIUM = "/usr/bin/chromium"

# scripts/test installs every Debian program the tests start, and says so with this variable:
# there a missing program fails its tests instead of skipping them, so that a broken install step
# (a fresh CI machine without haproxy, say) cannot pass unnoticed as a row of skips.
PROGRAMS_REQUIRED = os.environ.get("PAPERBOARD_TEST_PROGRAMS") == "required"


def _missing_message(package: str) -> str:
    return f"Debian's {package} is not installed (scripts/test installs it)"


def needs_program(path: str | None, package: str) -> pytest.MarkDecorator:
    """Skip the marked tests when ``path`` (from Debian's ``package``) is missing, except under
    scripts/test, where they run and fail."""
    missing = path is None or not Path(path).exists()
    return pytest.mark.skipif(missing and not PROGRAMS_REQUIRED, reason=_missing_message(package))


def program_missing(package: str) -> NoReturn:
    """Skip the running test for a missing program; fail it under scripts/test."""
    if PROGRAMS_REQUIRED:
        pytest.fail(_missing_message(package))
    pytest.skip(_missing_message(package))


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    """Debian's Chromium driven by Playwright (never a downloaded browser), one per session."""
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).exists():
        program_missing("chromium")
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM)
        yield chromium
        chromium.close()


SCREENSHOT_COPIES = Path("/tmp/screenshots")  # where a person looks at them after a run


@pytest.fixture(scope="session")
def screenshot(tmp_path_factory: pytest.TempPathFactory) -> Callable[..., Path]:
    """``screenshot(page, name, full=True)`` saves a PNG of the page, scrolled to the top (or a
    sticky header is drawn mid-page), in ``$PAPERBOARD_SCREENSHOTS`` or a temporary folder, and
    copies it to /tmp/screenshots/."""
    chosen = os.environ.get("PAPERBOARD_SCREENSHOTS")
    folder = Path(chosen) if chosen else tmp_path_factory.mktemp("screenshots")
    folder.mkdir(parents=True, exist_ok=True)

    def save(page: Any, name: str, *, full: bool = True) -> Path:
        path = folder / f"{name}.png"
        page.evaluate("window.scrollTo(0, 0)")
        page.screenshot(path=str(path), full_page=full)
        try:
            SCREENSHOT_COPIES.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, SCREENSHOT_COPIES / path.name)
        except OSError:
            pass  # the copy is a convenience; the test's own file is saved
        return path

    return save
