"""Reading the store from the command line: stats, show, list, and every command's help."""

import json
import re
from pathlib import Path

import pytest

from paperboard.present.cli.main import app

PAPERS = [
    {
        "id": "2511.00001",
        "title": "Alpha",
        "categories": "cs.LG stat.ML",
        "day": "Mon, 17 Nov 2025 10:00:00 GMT",
    },
    {
        "id": "2511.00002",
        "title": "Beta",
        "categories": "cs.CV",
        "day": "Tue, 18 Nov 2025 10:00:00 GMT",
    },
    {
        "id": "2511.00003",
        "title": "Gamma",
        "categories": "math.CO",
        "day": "Tue, 18 Nov 2025 11:00:00 GMT",
    },
    {
        "id": "2510.00004",
        "title": "Delta",
        "categories": "cs.LG",
        "day": "Fri, 31 Oct 2025 10:00:00 GMT",
    },
]


@pytest.fixture
def loaded(cli, tmp_path: Path):
    lines = [
        json.dumps(
            {
                "id": p["id"],
                "title": p["title"],
                "abstract": f"About {p['title']}.",
                "authors": "A. Author and B. Author",
                "categories": p["categories"],
                "versions": [{"version": "v1", "created": p["day"]}],
            }
        )
        for p in PAPERS
    ]
    path = tmp_path / "papers.jsonl"
    path.write_text("\n".join(lines) + "\n")
    assert cli("ingest", "snapshot", "--quiet", str(path)).exit_code == 0
    return cli


def ids(result) -> list[str]:
    assert result.exit_code == 0, result.output
    return [paper["id"] for paper in json.loads(result.stdout)]


def test_stats_json(loaded) -> None:
    data = json.loads(loaded("stats", "--json").stdout)
    assert data["papers"] == 4
    assert data["by_source"] == {"snapshot": 4}
    assert data["by_primary_category"]["cs.LG"] == 2
    assert data["published"]["first"].startswith("2025-10-31")
    assert data["recent_imports"][0]["source"] == "snapshot"
    text = loaded("stats").stdout
    assert "4 papers" in text and "cs.LG 2" in text


def test_show_json_and_text(loaded) -> None:
    paper = json.loads(loaded("show", "https://arxiv.org/abs/2511.00001v1", "--json").stdout)
    for key in (
        "id",
        "title",
        "abstract",
        "authors",
        "categories",
        "published_at",
        "version",
        "sources",
        "code_urls",
        "upvotes",
        "feed_date",
        "arxiv_url",
    ):
        assert key in paper
    assert paper["id"] == "2511.00001" and paper["categories"] == ["cs.LG", "stat.ML"]
    assert paper["arxiv_url"] == "https://arxiv.org/abs/2511.00001v1"
    text = loaded("show", "2511.00001").stdout
    assert "Alpha" in text and "A. Author, B. Author" in text


@pytest.mark.parametrize("bad", ["2511.99999", "nonsense", "demo:missing"])
def test_show_unknown_exits_1(loaded, bad: str) -> None:
    result = loaded("show", bad)
    assert result.exit_code == 1
    assert result.stderr.count("\n") == 1 and "paperboard: error:" in result.stderr


def test_list_periods_and_filters(loaded) -> None:
    assert ids(loaded("list", "--json")) == ["2511.00003", "2511.00002"]  # latest day, newest first
    assert ids(loaded("list", "--date", "2025-11-17", "--json")) == ["2511.00001"]
    assert sorted(ids(loaded("list", "--week", "2025-W47", "--json"))) == [
        "2511.00001",
        "2511.00002",
        "2511.00003",
    ]
    assert ids(loaded("list", "--month", "2025-10", "--json")) == ["2510.00004"]
    assert ids(loaded("list", "--month", "2025-11", "--category", "cs", "--json")) == [
        "2511.00002",
        "2511.00001",
    ]
    assert ids(loaded("list", "--month", "2025-11", "--category", "stat.ML", "--json")) == [
        "2511.00001"
    ]
    assert len(ids(loaded("list", "--month", "2025-11", "--limit", "1", "--json"))) == 1
    assert ids(loaded("list", "--date", "2025-11-19", "--json")) == []
    assert "no papers" in loaded("list", "--date", "2025-11-19").stdout
    assert "Beta" in loaded("list").stdout


@pytest.mark.parametrize(
    "args",
    [
        ["--week", "2025-W60"],
        ["--month", "2025-13"],
        ["--date", "yesterday"],
        ["--date", "2025-11-17", "--week", "2025-W47"],
    ],
)
def test_list_bad_period_is_a_usage_error(loaded, args: list[str]) -> None:
    result = loaded("list", *args)
    assert result.exit_code == 2


def _commands(group, prefix=()):
    import typer.main

    command = typer.main.get_command(group)
    stack = [(prefix, command)]
    while stack:
        path, cmd = stack.pop()
        sub = getattr(cmd, "commands", None)
        if sub:
            stack.extend(((*path, name), c) for name, c in sub.items())
        yield path


def test_every_command_has_a_purpose_and_an_example(cli) -> None:
    paths = list(_commands(app))
    assert ("ingest", "oai") in paths and ("stats",) in paths and ("db", "upgrade") in paths
    for path in paths:
        result = cli(*path, "--help")
        assert result.exit_code == 0, path
        assert re.search(r"Example:\s+paperboard", result.stdout), (
            f"{' '.join(path)} --help has no example"
        )
