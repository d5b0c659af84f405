"""arXiv's announcement feeds (RSS 2.0 and Atom): parsing every announce type, one request for
several categories, the empty weekend feed, bad feeds and dead networks, the worker's ``rss:``
source, and how a preview record from the feed merges with the full record OAI-PMH brings later.

The feeds under ``fixtures/rss_*`` are hand-written after arXiv's documentation of its feeds
(https://info.arxiv.org/help/rss.html); the ``fake_server`` fixture serves them over loopback.
"""

from __future__ import annotations

import socket
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest
from conftest import FIXTURES, CliResult, FakeServer, Reply

from paperboard.core.errors import SourceError
from paperboard.core.records import PaperRecord, Skip
from paperboard.sources.arxiv_rss import ArxivRssSource, check_categories, parse_feed
from paperboard.sources.http import PoliteClient
from paperboard.store.papers import PaperStore

FEED = (FIXTURES / "rss_cs.LG+cs.CV.xml").read_bytes()
ATOM_FEED = (FIXTURES / "rss_atom_cs.LG.xml").read_bytes()
WEEKEND = (FIXTURES / "rss_weekend.xml").read_bytes()
OAI_FOLLOWUP = (FIXTURES / "rss_oai_followup.xml").read_bytes()
ANNOUNCED = datetime(2026, 12, 2, 5, 0, tzinfo=UTC)  # Wed, 02 Dec 2026 00:00:00 -0500
RSS_TYPE = "application/rss+xml; charset=utf-8"

Cli = Callable[..., CliResult]


def records(items: list[PaperRecord | Skip]) -> dict[str, PaperRecord]:
    return {item.id: item for item in items if isinstance(item, PaperRecord)}


@pytest.fixture
def rss_url(fake_server: FakeServer, monkeypatch: pytest.MonkeyPatch, env: dict[str, str]) -> str:
    url = fake_server.url + "/rss"
    monkeypatch.setenv("PAPERBOARD_ARXIV_RSS_URL", url)
    return url


# -- parsing ---------------------------------------------------------------------------------------


def test_an_rss_feed_gives_one_preview_record_per_paper() -> None:
    listing = parse_feed(FEED, "arXiv RSS cs.LG+cs.CV")
    assert listing.entries == 7
    assert listing.announced == ANNOUNCED
    found = records(listing.items)
    assert list(found) == ["2612.01001", "2612.00877", "2611.04321", "2609.11111"]
    new = found["2612.01001"]
    assert new == PaperRecord(
        id="2612.01001",
        source="rss",
        version=None,
        title="Sparse Mixtures of Gradient Experts",
        abstract="We route gradients, not tokens, through a sparse set of\nexperts. "
        "Code is at https://github.com/example/gradient-experts.",
        authors=["Ada Lovelace", "Alan Turing", "Grace Hopper"],
        author_count=3,
        categories=["cs.LG", "cs.AI"],
        published_at=ANNOUNCED,
        updated_at=ANNOUNCED,
        doi="10.1234/gradexp.2026.1",
        journal_ref="Proc. Imaginary Conf. 12 (2026) 1-9",
        license="http://creativecommons.org/licenses/by/4.0/",
    )
    cross = found["2612.00877"]
    assert cross.abstract == "A depth estimator <trained> on diffusion features."
    assert cross.authors == ["Kurt Gödel", "Emmy Noether"]
    assert cross.categories == ["stat.ML", "cs.CV", "cs.LG"]
    assert cross.published_at == ANNOUNCED  # a version 1 cross-list is announced for the first time
    # A replacement announces an old paper again: it is no new paper of the day.
    for replaced in ("2611.04321", "2609.11111"):
        assert found[replaced].published_at is None
        assert found[replaced].updated_at == ANNOUNCED
        assert found[replaced].version is None
    skips = [item for item in listing.items if isinstance(item, Skip)]
    assert [str(skip) for skip in skips] == [
        "arXiv RSS cs.LG+cs.CV item 6: bad id 'https://example.org/not-arxiv'",
        "arXiv RSS cs.LG+cs.CV item 7: 2612.02002: unknown announce type 'retracted'",
    ]


def test_the_atom_variant_says_the_same_as_the_rss_feed() -> None:
    from_rss = records(parse_feed(FEED, "rss").items)
    from_atom = records(parse_feed(ATOM_FEED, "atom").items)
    assert list(from_atom) == ["2612.01001", "2611.04321"]
    for paper_id, record in from_atom.items():
        assert record == from_rss[paper_id]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (FEED[: len(FEED) // 2], "arXiv RSS cs.LG: malformed XML ("),
        (b"<html><body>Service unavailable</body></html>", "not an RSS 2.0 or Atom feed"),
        (b"", "malformed XML"),
        (
            b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY e SYSTEM "file:///etc/passwd">]>'
            b'<rss version="2.0"><channel><item><title>&e;</title></item></channel></rss>',
            "",
        ),
    ],
)
def test_a_bad_feed_is_one_line(body: bytes, message: str) -> None:
    try:
        listing = parse_feed(body, "arXiv RSS cs.LG")
    except SourceError as error:
        assert message and message in str(error) and "\n" not in str(error)
    else:  # the external entity is never read: the item has no title and no id
        assert message == ""
        assert all(isinstance(item, Skip) for item in listing.items)
        assert "root:" not in repr(listing.items)


def test_categories_are_checked_and_joined_once() -> None:
    assert check_categories(["cs.LG", "cs.CV+cs.LG", "math"]) == ["cs.LG", "cs.CV", "math"]
    for bad in (["cs.LG/../x"], ["cs.LG+"], []):
        with pytest.raises(ValueError, match="arXiv categor"):
            check_categories(bad)


# -- the source over HTTP --------------------------------------------------------------------------


def test_several_categories_are_one_request(fake_server: FakeServer) -> None:
    fake_server.route("/rss/cs.LG+cs.CV", Reply(body=FEED, content_type=RSS_TYPE))
    client = PoliteClient(min_interval=0, retries=0, backoff=0, timeout=5, user_agent="t")
    with client:
        source = ArxivRssSource(client, fake_server.url + "/rss/", ["cs.LG", "cs.CV"])
        items = list(source.records())
    assert [r.path for r in fake_server.requests] == ["/rss/cs.LG+cs.CV"]
    assert len(records(items)) == 4 and source.notice is None
    assert source.progress() == (6.0, 7.0)


def test_ingest_rss_stores_the_announcement(
    cli: Cli, rss_url: str, fake_server: FakeServer, store: PaperStore
) -> None:
    fake_server.route("/rss/cs.LG+cs.CV", Reply(body=FEED, content_type=RSS_TYPE))
    dry = cli("ingest", "rss", "--category", "cs.LG", "--category", "cs.CV", "--dry-run")
    assert dry.exit_code == 0, dry.output
    assert "dry run, nothing written" in dry.stdout and store.get("2612.01001") is None

    result = cli("ingest", "rss", "--category", "cs.LG", "--category", "cs.CV")
    assert result.exit_code == 0, result.output
    assert "rss: 4 read: 4 new, 0 updated, 0 unchanged, 2 skipped" in result.stdout
    assert "skipped arXiv RSS cs.LG+cs.CV item 7: 2612.02002" in result.stderr
    assert [r.path for r in fake_server.requests] == ["/rss/cs.LG+cs.CV"] * 2
    paper = store.get("2612.01001")
    assert paper is not None
    assert paper["sources"] == ["rss"] and paper["feed_date"] == ANNOUNCED.date()
    assert paper["code_urls"] == ["https://github.com/example/gradient-experts"]
    replaced = store.get("2611.04321")
    assert replaced is not None and replaced["feed_date"] is None

    again = cli("ingest", "rss", "-c", "cs.LG+cs.CV", "--quiet")
    assert again.exit_code == 0 and again.stdout == ""


def test_an_empty_weekend_feed_is_nothing_new(
    cli: Cli, rss_url: str, fake_server: FakeServer, store: PaperStore
) -> None:
    assert store.get("2612.01001") is None
    fake_server.route("/rss/cs.LG+cs.CV", Reply(body=WEEKEND, content_type=RSS_TYPE))
    result = cli("ingest", "rss", "--category", "cs.LG", "--category", "cs.CV")
    assert result.exit_code == 0, result.output
    assert "rss: 0 read: 0 new" in result.stdout
    assert "arXiv announced nothing in cs.LG+cs.CV on Sat 2026-12-05" in result.stdout
    assert "error" not in result.output and store.count() == 0
    quiet = cli("ingest", "rss", "--category", "cs.LG", "--category", "cs.CV", "--quiet")
    assert quiet.exit_code == 0 and quiet.output == ""


@pytest.mark.parametrize(
    ("reply", "message"),
    [
        (Reply(404, "Not Found", content_type="text/plain"), "arXiv RSS cs.LG: HTTP 404 from "),
        (Reply(503, "busy", content_type="text/plain"), "not answering right now (HTTP 503"),
        (Reply(body=b"<rss><channel><item>", content_type=RSS_TYPE), "malformed XML"),
    ],
)
def test_http_errors_and_bad_feeds_fail_with_one_line(
    cli: Cli, rss_url: str, fake_server: FakeServer, reply: Reply, message: str
) -> None:
    fake_server.route("/rss/cs.LG", reply)
    result = cli("ingest", "rss", "--category", "cs.LG")
    assert result.exit_code == 1
    errors = [line for line in result.stderr.splitlines() if line.startswith("paperboard: error")]
    assert len(errors) == 1 and message in errors[0], result.stderr


def test_a_dead_network_fails_fast_with_one_line(
    cli: Cli, monkeypatch: pytest.MonkeyPatch, env: dict[str, str]
) -> None:
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    monkeypatch.setenv("PAPERBOARD_ARXIV_RSS_URL", f"http://127.0.0.1:{port}/rss")
    result = cli("ingest", "rss", "--category", "cs.LG")
    assert result.exit_code == 1
    assert result.stderr.strip().splitlines()[-1].startswith("paperboard: error: ")
    assert f"connection to 127.0.0.1:{port} refused" in result.stderr


@pytest.mark.parametrize("args", [(), ("--category", "cs.LG/x"), ("--category", "cs.LG+")])
def test_bad_categories_are_usage_errors(cli: Cli, env: dict[str, str], args: tuple[str]) -> None:
    result = cli("ingest", "rss", *args)
    assert result.exit_code == 2
    assert "arXiv categor" in result.stderr and len(result.stderr.strip().splitlines()) == 1


# -- one record per paper ----------------------------------------------------------------------


def test_a_later_oai_record_completes_the_preview_and_never_yields_to_it(
    cli: Cli,
    rss_url: str,
    fake_server: FakeServer,
    monkeypatch: pytest.MonkeyPatch,
    store: PaperStore,
) -> None:
    fake_server.route("/rss/cs.LG+cs.CV", Reply(body=FEED, content_type=RSS_TYPE))
    fake_server.route("/oai", Reply(body=OAI_FOLLOWUP))
    monkeypatch.setenv("PAPERBOARD_ARXIV_OAI_URL", fake_server.url + "/oai")
    assert cli("ingest", "rss", "-c", "cs.LG", "-c", "cs.CV").exit_code == 0

    harvest = cli("ingest", "oai", "--set", "cs", "--from", "2026-11-30")
    assert harvest.exit_code == 0, harvest.output
    assert "oai: 2 read: 0 new, 2 updated" in harvest.stdout
    paper = store.get("2612.01001")
    assert paper is not None
    assert paper["version"] == 1
    assert paper["authors"] == ["Ada Lovelace", "Alan M. Turing", "Grace B. Hopper"]
    assert paper["published_at"] == datetime(2026, 11, 30, 14, 2, 11, tzinfo=UTC)
    assert paper["feed_date"] == datetime(2026, 11, 30).date()  # as if OAI had come alone
    assert paper["comments"] == "12 pages, 4 figures" and paper["submitter"] == "Ada Lovelace"
    assert paper["sources"] == ["rss", "oai"]
    replaced = store.get("2611.04321")
    assert replaced is not None and replaced["version"] == 2
    assert replaced["published_at"] == datetime(2026, 11, 10, 9, 0, tzinfo=UTC)

    # The feed read again (tomorrow's cron, say) leaves OAI's fields as they are.
    before = {pid: store.get(pid) for pid in ("2612.01001", "2611.04321")}
    again = cli("ingest", "rss", "-c", "cs.LG", "-c", "cs.CV")
    assert again.exit_code == 0, again.output
    assert "0 new, 0 updated, 4 unchanged" in again.stdout
    for pid, row in before.items():
        assert store.get(pid) == row


def test_an_rss_record_after_the_api_changes_no_field(
    cli: Cli,
    rss_url: str,
    fake_server: FakeServer,
    monkeypatch: pytest.MonkeyPatch,
    store: PaperStore,
) -> None:
    from test_source_arxiv import entry_xml, feed_xml

    api = feed_xml([entry_xml("2612.01001v1", published="2026-11-30T14:02:11Z")], total=1)
    fake_server.route("/api/query", Reply(body=api))
    fake_server.route("/rss/cs.LG", Reply(body=FEED, content_type=RSS_TYPE))
    monkeypatch.setenv("PAPERBOARD_ARXIV_API_URL", fake_server.url + "/api/query")
    assert cli("ingest", "arxiv", "--id", "2612.01001").exit_code == 0
    before = store.get("2612.01001")
    assert before is not None

    assert cli("ingest", "rss", "-c", "cs.LG").exit_code == 0
    after = store.get("2612.01001")
    assert after is not None
    assert after["sources"] == ["arxiv", "rss"]
    changed = {name for name in before if before[name] != after[name]}  # type: ignore[literal-required]
    # Links accumulate whatever the source (the feed's abstract names a repository); nothing else.
    assert changed <= {"sources", "code_urls", "changed_at"}, changed
    assert after["code_urls"][-1:] == ["https://github.com/example/gradient-experts"]
    assert after["title"] == "Paper 2612.01001v1" and after["authors"] == [
        "Author One",
        "Author Two",
    ]


# -- the worker ----------------------------------------------------------------------------------


def test_the_worker_reads_an_rss_source(
    cli: Cli,
    rss_url: str,
    fake_server: FakeServer,
    monkeypatch: pytest.MonkeyPatch,
    model_cache: Path,
    store: PaperStore,
) -> None:
    fake_server.route("/rss/cs.LG+cs.CV", Reply(body=FEED, content_type=RSS_TYPE))
    for name, value in {
        "PAPERBOARD_INGEST_SOURCES": '["rss:cs.LG+cs.CV"]',
        "PAPERBOARD_MODELS_DIR": str(model_cache),
        "PAPERBOARD_DIGEST_TIME": "23:00",  # no digest is due
    }.items():
        monkeypatch.setenv(name, value)
    result = cli("worker", "--once", "--now", "2026-12-02T08:00:00+00:00")
    assert result.exit_code == 0, result.output
    assert "rss:cs.LG+cs.CV: rss: 4 read: 4 new" in result.stdout
    assert [r.path for r in fake_server.requests] == ["/rss/cs.LG+cs.CV"]
    assert store.get("2612.00877") is not None


def test_the_worker_reports_an_empty_feed_and_refuses_a_bad_spec(
    cli: Cli,
    rss_url: str,
    fake_server: FakeServer,
    monkeypatch: pytest.MonkeyPatch,
    model_cache: Path,
) -> None:
    fake_server.route("/rss/cs.LG", Reply(body=WEEKEND, content_type=RSS_TYPE))
    monkeypatch.setenv("PAPERBOARD_MODELS_DIR", str(model_cache))
    monkeypatch.setenv("PAPERBOARD_DIGEST_TIME", "23:00")
    monkeypatch.setenv("PAPERBOARD_INGEST_SOURCES", '["rss:cs.LG"]')
    result = cli("worker", "--once", "--now", "2026-12-05T08:00:00+00:00")
    assert result.exit_code == 0, result.output
    assert "ok  ingest" in result.stdout and "arXiv announced nothing in cs.LG" in result.stdout

    monkeypatch.setenv("PAPERBOARD_INGEST_SOURCES", '["rss:cs.LG++"]')
    bad = cli("worker", "--once")
    assert bad.exit_code == 2
    assert "bad source 'rss:cs.LG++'" in bad.stderr and len(bad.stderr.strip().splitlines()) == 1
