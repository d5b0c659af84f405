"""Bad input, bad settings and a dead network: one line ``paperboard: error: ...`` on stderr and a
meaningful exit status (2 bad settings or usage, 1 the work failed), never a traceback, and the
data already there stays as it was."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import CliResult

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


@pytest.mark.parametrize(
    "args",
    [
        ["--bogus"],
        ["--week", "nonsense"],
    ],
)
def test_list_usage_errors_are_one_line(one_paper: Cli, args: list[str]) -> None:
    result = one_paper("list", *args)
    assert result.exit_code == 2
    error_line(result)


def test_unknown_command_is_one_line(cli: Cli) -> None:
    result = cli("lsit")
    assert result.exit_code == 2
    assert "lsit" in error_line(result)
