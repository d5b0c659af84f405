"""Bad input, bad settings and a dead network: one line ``paperboard: error: ...`` on stderr and a
meaningful exit status (2 bad settings or usage, 1 the work failed), never a traceback, and the
data already there stays as it was."""

from __future__ import annotations

import gzip
import json
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from conftest import CliResult, FakeServer, Reply, sqlite_only

Cli = Callable[..., CliResult]

API_PATH = "/api/query"


def error_line(result: CliResult) -> str:
    """The one line the command printed on stderr, which must be a ``paperboard: error:``."""
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("paperboard: error: "), lines[0]
    assert "Traceback" not in result.output
    return lines[0]


def paper_count(cli: Cli) -> int:
    result = cli("stats", "--json")
    assert result.exit_code == 0, result.output
    return int(json.loads(result.stdout)["papers"])


@pytest.fixture
def one_paper(cli: Cli, tmp_path: Path) -> Cli:
    entry = {
        "id": "2511.00001",
        "title": "Alpha",
        "abstract": "About alpha.",
        "authors": "A. Author",
        "categories": "cs.LG",
        "versions": [{"version": "v1", "created": "Mon, 17 Nov 2025 10:00:00 GMT"}],
    }
    path = tmp_path / "one.jsonl"
    path.write_text(json.dumps(entry) + "\n")
    assert cli("ingest", "snapshot", "--quiet", str(path)).exit_code == 0
    return cli


# -- bad input -------------------------------------------------------------------------------------


def test_corrupted_gzip_snapshot_fails_in_one_line(one_paper: Cli, tmp_path: Path) -> None:
    broken = bytearray(gzip.compress(b'{"id": "2511.00002"}\n' * 50))
    broken[10] = 0xFF  # the first deflate block gets an invalid block type: a zlib.error
    path = tmp_path / "broken.jsonl.gz"
    path.write_bytes(bytes(broken))
    result = one_paper("ingest", "snapshot", str(path))
    assert result.exit_code == 1
    assert "broken.jsonl.gz" in error_line(result)
    assert paper_count(one_paper) == 1


@sqlite_only  # a setting refused before the database is opened
def test_home_that_is_a_file_is_a_bad_setting(
    cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = tmp_path / "a-file"
    home.write_text("keep me")
    monkeypatch.setenv("PAPERBOARD_HOME", str(home))
    result = cli("stats")
    assert result.exit_code == 2
    line = error_line(result)
    assert "PAPERBOARD_HOME" in line and "not a directory" in line
    assert home.read_text() == "keep me"


@sqlite_only  # a setting refused before the database is opened
def test_home_that_cannot_be_made_is_a_bad_setting(
    cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "a-file").write_text("keep me")
    monkeypatch.setenv("PAPERBOARD_HOME", str(tmp_path / "a-file" / "home"))
    result = cli("list")
    assert result.exit_code == 2
    assert "PAPERBOARD_HOME" in error_line(result)
    assert (tmp_path / "a-file").read_text() == "keep me"


@pytest.mark.parametrize(
    "args",
    [
        ["--week", "9999-W52"],
        ["--limit", "99999999999999999999"],
        ["--bogus"],
        ["--week", "nonsense"],
    ],
)
@sqlite_only  # refused while reading the command line
def test_list_usage_errors_are_one_line(one_paper: Cli, args: list[str]) -> None:
    result = one_paper("list", *args)
    assert result.exit_code == 2
    error_line(result)


@pytest.mark.parametrize("args", [["--date", "9999-12-31"], ["--month", "9999-12"]])
def test_list_at_the_end_of_the_calendar(one_paper: Cli, args: list[str]) -> None:
    result = one_paper("list", *args)
    assert result.exit_code == 0, result.output
    assert "no papers" in result.stdout


@sqlite_only  # refused while reading the command line
def test_unknown_command_is_one_line(cli: Cli) -> None:
    result = cli("lsit")
    assert result.exit_code == 2
    assert "lsit" in error_line(result)


@sqlite_only  # refused while reading the command line
def test_map_into_a_missing_folder_is_a_usage_error(one_paper: Cli) -> None:
    result = one_paper("map", "--svg", "/nonexistent/dir/map.svg")
    assert result.exit_code == 2
    assert "/nonexistent/dir" in error_line(result)


@sqlite_only  # it sets a SQLite address of its own
def test_sqlite_url_at_a_file_that_is_no_database(
    cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "notes.txt"
    path.write_text("not a database\n" * 100)
    monkeypatch.setenv("PAPERBOARD_DATABASE_URL", f"sqlite:///{path}")
    result = cli("stats")
    assert result.exit_code == 2
    line = error_line(result)
    assert "PAPERBOARD_DATABASE_URL" in line and "not a database" in line
    assert path.read_text() == "not a database\n" * 100


@sqlite_only  # a setting refused before the database is opened
def test_binary_config_file_is_a_bad_setting(
    cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "paperboard.toml"
    path.write_bytes(b"\x7fELF\x02\x01\x01\x00\xd0\xff\xfe" * 20)
    monkeypatch.setenv("PAPERBOARD_CONFIG", str(path))
    result = cli("stats")
    assert result.exit_code == 2
    assert str(path) in error_line(result)


@sqlite_only  # a setting refused before the database is opened
def test_ingest_sources_that_is_no_json_is_a_bad_setting(
    cli: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PAPERBOARD_INGEST_SOURCES", "notjson")
    result = cli("stats")
    assert result.exit_code == 2
    assert "PAPERBOARD_INGEST_SOURCES" in error_line(result)


# -- passwords without a terminal -----------------------------------------------------------------

PASSWORD = "correct horse battery"


@sqlite_only  # refused before the database is opened
def test_user_create_without_a_terminal_says_how(cli: Cli) -> None:
    result = cli("user", "create", "ada@example.org")
    assert result.exit_code == 2
    line = error_line(result)
    assert "PAPERBOARD_NEW_PASSWORD" in line and "--password-stdin" in line
    assert "Warning" not in result.output


def test_user_create_reads_the_password_from_stdin(cli: Cli) -> None:
    result = cli("user", "create", "--password-stdin", "ada@example.org", input=PASSWORD + "\n")
    assert result.exit_code == 0, result.output
    assert "created ada@example.org" in result.stdout
    empty = cli("user", "create", "--password-stdin", "bob@example.org", input="")
    assert empty.exit_code == 2
    assert "--password-stdin" in error_line(empty)


# -- a dead network --------------------------------------------------------------------------------


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def patient(monkeypatch: pytest.MonkeyPatch, env: dict[str, str]) -> None:
    """Retry pauses as long as the defaults would be (the test environment has none)."""
    monkeypatch.setenv("PAPERBOARD_HTTP_BACKOFF", "1")
    monkeypatch.setenv("PAPERBOARD_HTTP_RETRIES", "5")


@pytest.mark.parametrize(
    "url",
    [
        "http://nonexistent.invalid/api/query",
        "http://127.0.0.1:{closed}/api/query",
    ],
)
@sqlite_only  # HTTP to no server; the store only notes the failed run
def test_dead_network_fails_fast_in_one_line(
    cli: Cli, patient: None, monkeypatch: pytest.MonkeyPatch, url: str
) -> None:
    monkeypatch.setenv("PAPERBOARD_ARXIV_API_URL", url.format(closed=closed_port()))
    started = time.monotonic()
    result = cli("ingest", "arxiv", "--category", "cs.LG")
    assert time.monotonic() - started < 5
    assert result.exit_code == 1
    line = error_line(result)
    assert "arXiv is unreachable right now" in line and "try again later" in line
    assert "ConnectError" not in line and "Errno" not in line


@sqlite_only  # HTTP to a failing server; the store only notes the failed run
def test_tls_error_is_not_retried(
    cli: Cli, patient: None, monkeypatch: pytest.MonkeyPatch, fake_server: FakeServer
) -> None:
    monkeypatch.setenv("PAPERBOARD_ARXIV_API_URL", fake_server.url.replace("http:", "https:"))
    monkeypatch.setenv("PAPERBOARD_HTTP_BACKOFF", "6")  # one retry would wait at least this long
    started = time.monotonic()
    result = cli("ingest", "arxiv", "--category", "cs.LG")
    assert time.monotonic() - started < 5
    assert result.exit_code == 1
    assert "arXiv is unreachable right now" in error_line(result)


@sqlite_only  # HTTP to a failing server; the store only notes the failed run
def test_retries_of_a_503_stop_within_the_cap(
    cli: Cli, monkeypatch: pytest.MonkeyPatch, fake_server: FakeServer
) -> None:
    fake_server.route(API_PATH, Reply(503, "busy", content_type="text/plain"))
    monkeypatch.setenv("PAPERBOARD_ARXIV_API_URL", fake_server.url + API_PATH)
    monkeypatch.setenv("PAPERBOARD_HTTP_RETRIES", "20")
    monkeypatch.setenv("PAPERBOARD_HTTP_BACKOFF", "0.25")
    monkeypatch.setenv("PAPERBOARD_HTTP_RETRY_LIMIT", "1.5")
    started = time.monotonic()
    result = cli("ingest", "arxiv", "--category", "cs.LG")
    assert time.monotonic() - started < 30  # 20 retries uncapped would pause for minutes
    assert result.exit_code == 1
    line = error_line(result)
    assert "arXiv is not answering right now" in line and "HTTP 503" in line
    assert "try again later" in line
    assert 2 <= len(fake_server.requests) <= 4  # 0, 0.25, 0.75 s; the next pause would pass 1.5


@sqlite_only  # HTTP to a failing server; the store only notes the failed run
def test_a_retry_after_beyond_the_cap_is_not_waited_for(
    cli: Cli, monkeypatch: pytest.MonkeyPatch, fake_server: FakeServer
) -> None:
    fake_server.route(API_PATH, Reply(429, "slow down", {"Retry-After": "120"}, "text/plain"))
    monkeypatch.setenv("PAPERBOARD_ARXIV_API_URL", fake_server.url + API_PATH)
    started = time.monotonic()
    result = cli("ingest", "arxiv", "--category", "cs.LG")
    assert time.monotonic() - started < 60  # the 120 s asked for were not slept (on any machine)
    assert result.exit_code == 1
    assert "HTTP 429" in error_line(result)
    assert len(fake_server.requests) == 1


@dataclass
class SilentServer:
    port: int
    accepted: list[socket.socket]


@pytest.fixture
def silent_server() -> Iterator[SilentServer]:
    """A port that accepts connections and never answers; ``accepted`` holds the connections."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(16)
    accepted: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        sock.settimeout(0.1)
        while not stop.is_set():
            try:
                accepted.append(sock.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield SilentServer(int(sock.getsockname()[1]), accepted)
    stop.set()
    thread.join(timeout=2)
    for connection in accepted:
        connection.close()
    sock.close()


@sqlite_only  # HTTP to a failing server; the store only notes the failed run
def test_a_server_that_never_answers_is_given_up_within_the_cap(
    cli: Cli, monkeypatch: pytest.MonkeyPatch, silent_server: SilentServer
) -> None:
    url = f"http://127.0.0.1:{silent_server.port}/api/query"
    monkeypatch.setenv("PAPERBOARD_ARXIV_API_URL", url)
    monkeypatch.setenv("PAPERBOARD_HTTP_TIMEOUT", "0.5")
    monkeypatch.setenv("PAPERBOARD_HTTP_RETRY_LIMIT", "1.5")
    result = cli("ingest", "arxiv", "--category", "cs.LG")
    # Counted, not timed (a slow machine stretches any time bound): 0.5 s timeouts from 0, 0.5
    # and 1.0 s, then the 1.5 s cap; without the cap all 6 tries (5 retries) would be made.
    assert 1 <= len(silent_server.accepted) <= 4, len(silent_server.accepted)
    assert result.exit_code == 1
    line = error_line(result)
    assert "arXiv is not answering right now" in line and "timed out" in line
