"""Hugging Face Daily Papers: from a saved file and from the API, merged with arXiv data."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
from conftest import FIXTURES, Reply
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from paperboard.core.ids import is_arxiv_id
from paperboard.core.records import PaperRecord, Skip
from paperboard.sources.hf_daily import HfDailySource, parse_item, read_item
from paperboard.sources.normalize import prepare

DAILY = FIXTURES / "hf_daily_papers_2026-11-20.json"
JSON = "application/json; charset=utf-8"


def _items() -> list[dict[str, Any]]:
    return json.loads(DAILY.read_text(encoding="utf-8"))


def _write(path: Path, items: list[Any]) -> Path:
    path.write_text(json.dumps(items), encoding="utf-8")
    return path


def _snapshot_line() -> dict[str, Any]:
    """The arXiv side of 2611.01234, in the bulk snapshot layout, at version 2."""
    return {
        "id": "2611.01234",
        "submitter": "Ada Lovelace",
        "authors": "Ada Lovelace, Charles Babbage, Mary Somerville and Luigi Menabrea",
        "authors_parsed": [
            ["Lovelace", "Ada", ""],
            ["Babbage", "Charles", ""],
            ["Somerville", "Mary", ""],
            ["Menabrea", "Luigi", ""],
        ],
        "title": "Sparse Mixtures of Experts for Everyone",
        "comments": "12 pages",
        "journal-ref": None,
        "doi": None,
        "report-no": None,
        "categories": "cs.LG cs.AI",
        "license": None,
        "abstract": "  We show that sparse mixtures of experts train well on a\nsingle GPU (v2).\n",
        "versions": [
            {"version": "v1", "created": "Wed, 18 Nov 2026 17:59:51 GMT"},
            {"version": "v2", "created": "Thu, 19 Nov 2026 10:00:00 GMT"},
        ],
        "update_date": "2026-11-19",
    }


# -- the item parser ------------------------------------------------------------------------------


def test_parse_item_maps_the_daily_papers_fields() -> None:
    record = parse_item(_items()[0])
    assert record.id == "2611.01234"
    assert record.source == "hf"
    assert record.version is None
    assert record.title == "Sparse Mixtures for Everyone"
    assert record.abstract is not None and record.abstract.startswith("We show that sparse")
    assert record.authors == ["Ada Lovelace", "Charles Babbage", "Mary Somerville"]
    assert record.published_at == datetime(2026, 11, 18, 17, 59, 51, tzinfo=UTC)
    assert record.upvotes == 42
    assert record.submitted_on_daily == date(2026, 11, 20)
    assert record.submitted_by == "akhaliq"
    assert record.code_urls == ["https://github.com/example-lab/sparse-moe"]
    assert record.project_urls == ["https://example-lab.github.io/sparse-moe"]


def test_parse_item_github_project_page_counts_as_code() -> None:
    record = parse_item(_items()[2])
    assert record.code_urls == ["https://github.com/noether/symmetries"]
    assert record.project_urls == []
    assert record.upvotes == 0


def test_parse_item_falls_back_to_item_level_title_and_paper_level_submitter() -> None:
    item = _items()[1]
    del item["paper"]["title"]
    del item["submittedBy"]
    record = parse_item(item)
    assert record.title == "Compilers That Explain Themselves"
    assert record.submitted_by == "ghopper"


def test_parse_item_reads_a_bare_paper_object() -> None:
    bare = dict(_items()[1]["paper"])
    record = parse_item(bare)
    assert record.id == "2611.05678"
    assert record.upvotes == 7
    assert record.submitted_by == "ghopper"


@pytest.mark.parametrize(
    ("item", "reason"),
    [
        (5, "not a JSON object"),
        ({"title": "no paper"}, "no paper object"),
        ({"paper": {"title": "x"}}, "no id"),
        ({"paper": {"id": "hf-internal-42"}}, "not an arXiv id"),
        ({"paper": {"id": "2611.00001", "upvotes": "many"}}, "upvotes"),
        ({"paper": {"id": "2611.00001", "upvotes": 1.5}}, "upvotes"),
        ({"paper": {"id": "2611.00001", "authors": "A and B"}}, "authors"),
        ({"paper": {"id": "2611.00001", "submittedOnDailyAt": "yesterday"}}, "submittedOnDailyAt"),
        ({"paper": {"id": "2611.00001", "title": ["a"]}}, "title"),
    ],
)
def test_read_item_skips_malformed_entries(item: Any, reason: str) -> None:
    result = read_item(item, "x.json entry 3")
    assert isinstance(result, Skip)
    assert result.where == "x.json entry 3"
    assert reason in result.reason
    assert "\n" not in str(result)


# Arbitrary JSON values, and items shaped like daily_papers items whose fields are now right, now
# anything: the parser must answer every one with a record or a skip, never an exception.
_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=30),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4)
    ),
    max_leaves=20,
)
_tricky_strings = st.sampled_from(
    [
        "2611.01234",
        "hep-th/9901001v2",
        "https://arxiv.org/abs/2611.01234v3",
        "2026-11-20",
        "2026-11-20T01:32:11.402Z",
        "9999-12-31T23:59:59-05:00",
        "0001-01-01T00:00:00+05:00",
        "https://github.com/a/b",
        "github.com/a",
        "www.example.org/x",
        "",
        "\x00",
    ]
)
_anything = st.one_of(
    _json, _tricky_strings, st.integers(-2, 10**10), st.floats(allow_nan=True), st.text(max_size=40)
)


def _mostly(valid: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """Nine times in ten a value of the right kind, else anything."""
    return st.integers(0, 9).flatmap(lambda n: valid if n else _anything)


_dates = st.datetimes(timezones=st.timezones() | st.none()).map(lambda d: d.isoformat())
_users = st.fixed_dictionaries(
    {}, optional={"name": _mostly(st.text(max_size=20)), "user": _anything}
)
_authors = st.lists(
    st.text(max_size=20)
    | st.fixed_dictionaries(
        {"name": _mostly(st.text(max_size=20))}, optional={"hidden": st.booleans(), "user": _json}
    ),
    max_size=4,
)
_ids = st.sampled_from(["2611.01234", "2611.05678v2", "hep-th/9901001", "arXiv:2503.11731"])
_papers = st.fixed_dictionaries(
    {"id": _mostly(_ids)},
    optional={
        "title": _mostly(st.text(max_size=60)),
        "summary": _mostly(st.text(max_size=200)),
        "authors": _mostly(_authors),
        "publishedAt": _mostly(_dates),
        "submittedOnDailyAt": _mostly(_dates),
        "submittedOnDailyBy": _mostly(_users),
        "upvotes": _mostly(st.integers(0, 10**6)),
        "githubRepo": _mostly(st.sampled_from(["https://github.com/a/b", "github.com/x/y/tree/m"])),
        "projectPage": _mostly(st.text(max_size=30).map(lambda t: "https://" + t)),
        "ai_keywords": _json,
    },
)
_daily_items = st.fixed_dictionaries(
    {"paper": _mostly(_papers)},
    optional={
        "title": _anything,
        "summary": _anything,
        "publishedAt": _anything,
        "submittedBy": _mostly(_users),
        "numComments": _anything,
        "upvotes": _anything,
    },
)
_items_strategy = st.one_of(_json, _papers, _daily_items)


@settings(max_examples=400, suppress_health_check=[HealthCheck.too_slow])
@given(_items_strategy)
def test_any_json_value_gives_a_record_or_a_skip(item: Any) -> None:
    result = read_item(item, "fuzz.json entry 1")
    assert isinstance(result, PaperRecord | Skip)
    if isinstance(result, PaperRecord):
        assert is_arxiv_id(result.id)
        assert result.version is None
        prepare(result)  # the importer's normalization must cope with whatever was accepted
    else:
        assert result.where == "fuzz.json entry 1"
        assert "\n" not in result.reason


# -- importing a file -----------------------------------------------------------------------------


def test_ingest_hf_file_stores_community_fields(cli, store) -> None:
    result = cli("ingest", "hf", str(DAILY))
    assert result.exit_code == 0, result.output
    assert "3 read: 3 new, 0 updated, 0 unchanged, 0 skipped" in result.stdout

    row = store.get("2611.01234")
    assert row is not None
    assert row["title"] == "Sparse Mixtures for Everyone"
    assert row["authors"] == ["Ada Lovelace", "Charles Babbage", "Mary Somerville"]
    assert row["author_count"] == 3
    assert row["upvotes"] == 42
    assert row["submitted_on_daily"] == date(2026, 11, 20)
    assert row["submitted_by"] == "akhaliq"
    assert row["code_urls"] == ["https://github.com/example-lab/sparse-moe"]
    assert row["project_urls"] == ["https://example-lab.github.io/sparse-moe"]
    assert row["published_at"] == datetime(2026, 11, 18, 17, 59, 51, tzinfo=UTC)
    assert row["feed_date"] == date(2026, 11, 20)  # the submission day, not the arXiv day
    assert row["sources"] == ["hf"]
    assert row["version"] is None

    listed = cli("list", "--date", "2026-11-20", "--json")
    assert listed.exit_code == 0, listed.output
    ids = [p["id"] for p in json.loads(listed.stdout)]
    assert ids == ["2611.01234", "2611.05678", "2611.04321"]  # most upvoted first


def test_rerun_changes_nothing_and_more_upvotes_update(cli, store, tmp_path: Path) -> None:
    assert cli("ingest", "hf", str(DAILY)).exit_code == 0
    again = cli("ingest", "hf", str(DAILY))
    assert again.exit_code == 0
    assert "3 read: 0 new, 0 updated, 3 unchanged" in again.stdout

    later = _items()
    later[0]["paper"]["upvotes"] = 57
    later[1]["paper"]["upvotes"] = 3  # an older count never lowers what is stored
    result = cli("ingest", "hf", str(_write(tmp_path / "later.json", later)))
    assert result.exit_code == 0, result.output
    assert "0 new, 1 updated, 2 unchanged" in result.stdout
    assert store.get("2611.01234")["upvotes"] == 57
    assert store.get("2611.05678")["upvotes"] == 7


def test_dry_run_writes_nothing(cli, store) -> None:
    result = cli("ingest", "hf", str(DAILY), "--dry-run")
    assert result.exit_code == 0
    assert "3 new" in result.stdout
    assert store.count() == 0


# -- merging with arXiv ---------------------------------------------------------------------------


def test_arxiv_bibliography_wins_and_hf_adds_its_fields(cli, store, tmp_path: Path) -> None:
    snapshot = tmp_path / "snapshot.jsonl"
    snapshot.write_text(json.dumps(_snapshot_line()) + "\n", encoding="utf-8")
    assert cli("ingest", "snapshot", str(snapshot)).exit_code == 0
    before = store.get("2611.01234")

    result = cli("ingest", "hf", str(DAILY))
    assert result.exit_code == 0, result.output
    assert "2 new, 1 updated" in result.stdout
    row = store.get("2611.01234")
    # bibliographic fields: arXiv's, version 2
    for name in (
        "version",
        "title",
        "abstract",
        "authors",
        "author_count",
        "categories",
        "published_at",
        "updated_at",
        "comments",
        "submitter",
    ):
        assert row[name] == before[name], name
    assert row["version"] == 2
    assert row["title"] == "Sparse Mixtures of Experts for Everyone"
    assert row["authors"][-1] == "Luigi Menabrea"
    assert row["published_at"] == datetime(2026, 11, 18, 17, 59, 51, tzinfo=UTC)
    # community fields: Hugging Face's
    assert row["upvotes"] == 42
    assert row["submitted_on_daily"] == date(2026, 11, 20)
    assert row["submitted_by"] == "akhaliq"
    assert "https://github.com/example-lab/sparse-moe" in row["code_urls"]
    assert "https://example-lab.github.io/sparse-moe" in row["project_urls"]
    assert row["sources"] == ["snapshot", "hf"]
    assert row["feed_date"] == date(2026, 11, 20)

    again = cli("ingest", "hf", str(DAILY))
    assert "0 new, 0 updated, 3 unchanged" in again.stdout
    assert store.get("2611.01234") == row


def test_arxiv_after_hf_replaces_the_bibliography(cli, store, tmp_path: Path) -> None:
    assert cli("ingest", "hf", str(DAILY)).exit_code == 0
    snapshot = tmp_path / "snapshot.jsonl"
    snapshot.write_text(json.dumps(_snapshot_line()) + "\n", encoding="utf-8")
    assert cli("ingest", "snapshot", str(snapshot)).exit_code == 0
    row = store.get("2611.01234")
    assert row["title"] == "Sparse Mixtures of Experts for Everyone"
    assert row["version"] == 2
    assert len(row["authors"]) == 4
    assert row["upvotes"] == 42 and row["submitted_by"] == "akhaliq"
    assert row["sources"] == ["hf", "snapshot"]


# -- bad input ------------------------------------------------------------------------------------


def test_malformed_entries_are_skipped_and_reported(cli, store, tmp_path: Path) -> None:
    good = _items()
    items = [
        good[0],
        "just a string",
        {"paper": {"id": "not-an-arxiv-id", "title": "Elsewhere"}},
        {"paper": {"id": "2611.00001", "title": "Bad votes", "upvotes": "many"}},
        good[1],
    ]
    path = _write(tmp_path / "mixed.json", items)
    result = cli("ingest", "hf", str(path))
    assert result.exit_code == 0, result.output
    assert "2 new" in result.stdout and "3 skipped" in result.stdout
    assert "skipped mixed.json entry 2: entry is not a JSON object" in result.stderr
    assert "skipped mixed.json entry 3: not an arXiv id" in result.stderr
    assert "skipped mixed.json entry 4: upvotes is not a number" in result.stderr
    assert store.get("2611.01234") is not None and store.get("2611.05678") is not None
    assert store.get("2611.00001") is None
    assert store.count() == 2


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("<html>Too many requests</html>", "not.json is not JSON"),
        ('{"error": "oops"}', "not.json is not a list of daily papers"),
        ("", "not.json is not JSON"),
    ],
)
def test_a_file_that_is_not_a_json_list_fails_in_one_line(
    cli, store, tmp_path: Path, content: str, message: str
) -> None:
    path = tmp_path / "not.json"
    path.write_text(content, encoding="utf-8")
    result = cli("ingest", "hf", str(path))
    assert result.exit_code == 1
    errors = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(errors) == 1
    assert errors[0].startswith("paperboard: error: ") and message in errors[0]
    assert store.count() == 0


def test_a_missing_file_fails_in_one_line(cli, tmp_path: Path) -> None:
    result = cli("ingest", "hf", str(tmp_path / "absent.json"))
    assert result.exit_code == 1
    assert "paperboard: error: cannot open" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_an_empty_list_is_fine(tmp_path: Path) -> None:
    source = HfDailySource.from_file(_write(tmp_path / "empty.json", []))
    assert list(source.records()) == []
    assert source.progress() == (0.0, 0.0)


# -- the API --------------------------------------------------------------------------------------


@pytest.fixture
def hf_api(fake_server, monkeypatch: pytest.MonkeyPatch, env: dict[str, str]):
    monkeypatch.setenv("PAPERBOARD_HF_API_URL", fake_server.url)
    return fake_server


def test_ingest_hf_date_asks_the_api_for_that_day(cli, store, hf_api) -> None:
    hf_api.route(
        "/api/daily_papers",
        Reply(200, DAILY.read_bytes(), content_type="application/json; charset=utf-8"),
    )
    result = cli("ingest", "hf", "--date", "2026-11-20")
    assert result.exit_code == 0, result.output
    assert "3 new" in result.stdout
    assert len(hf_api.requests) == 1  # a short page is the last one
    request = hf_api.requests[0]
    assert request.path == "/api/daily_papers"
    assert request.query["date"] == ["2026-11-20"]
    assert request.headers.get("User-Agent", "").startswith("paperboard/")
    row = store.get("2611.05678")
    assert row["upvotes"] == 7 and row["submitted_by"] == "ghopper"
    assert row["feed_date"] == date(2026, 11, 20)


def test_api_pages_until_a_short_page(cli, store, hf_api, monkeypatch: pytest.MonkeyPatch) -> None:
    from paperboard.sources import hf_daily

    monkeypatch.setattr(hf_daily, "PAGE_SIZE", 2)
    items = _items()
    pages = {"0": items[:2], "1": items[2:]}
    hf_api.route(
        "/api/daily_papers",
        lambda seen: Reply(200, json.dumps(pages[seen.query["p"][0]]), content_type=JSON),
    )
    result = cli("ingest", "hf", "--date", "2026-11-20")
    assert result.exit_code == 0, result.output
    assert [r.query["p"] for r in hf_api.requests] == [["0"], ["1"]]
    assert all(r.query["limit"] == ["2"] for r in hf_api.requests)
    assert store.count() == 3


def test_api_that_ignores_paging_does_not_loop(cli, store, hf_api, monkeypatch) -> None:
    from paperboard.sources import hf_daily

    monkeypatch.setattr(hf_daily, "PAGE_SIZE", 3)
    hf_api.route("/api/daily_papers", Reply(200, DAILY.read_bytes(), content_type=JSON))
    result = cli("ingest", "hf", "--date", "2026-11-20")
    assert result.exit_code == 0, result.output
    assert len(hf_api.requests) == 2
    assert "3 new" in result.stdout and store.count() == 3


def test_api_4xx_fails_in_one_line(cli, store, hf_api) -> None:
    hf_api.route(
        "/api/daily_papers",
        Reply(400, '{"error":"Invalid date: must not be in the future"}', content_type=JSON),
    )
    result = cli("ingest", "hf", "--date", "2026-11-20")
    assert result.exit_code == 1
    errors = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(errors) == 1
    assert "HTTP 400" in errors[0] and "Invalid date" in errors[0]
    assert store.count() == 0


def test_api_5xx_gives_up_in_one_line(cli, hf_api, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PAPERBOARD_HTTP_RETRIES", "1")
    hf_api.route("/api/daily_papers", Reply(503, "busy", content_type="text/plain"))
    result = cli("ingest", "hf", "--date", "2026-11-20")
    assert result.exit_code == 1
    assert "HTTP 503, gave up after 2 attempts" in result.stderr
    assert len(hf_api.requests) == 2


def test_api_answer_that_is_not_json_fails(cli, hf_api) -> None:
    hf_api.route("/api/daily_papers", Reply(200, "<html>down</html>", content_type="text/html"))
    result = cli("ingest", "hf", "--date", "2026-11-20")
    assert result.exit_code == 1
    assert "is not JSON" in result.stderr


def test_ingest_hf_needs_a_file_or_a_date(cli) -> None:
    assert cli("ingest", "hf").exit_code == 2
    assert cli("ingest", "hf", str(DAILY), "--date", "2026-11-20").exit_code == 2
