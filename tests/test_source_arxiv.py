"""The arXiv API source: feed parsing, paging, id lists, retries, arXiv's quirks, the CLI command.

HTTP goes to the ``fake_server`` fixture over loopback; the answers are hand-written Atom feeds in
the layout arXiv documents (``tests/fixtures/arxiv/`` and the builders below).
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

import pytest
from conftest import CliResult, FakeServer, Reply, SeenRequest
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from paperboard.core.config import Settings
from paperboard.core.errors import SourceError
from paperboard.core.records import PaperRecord, Skip
from paperboard.sources.arxiv_api import ArxivApiSource, FeedPage, parse_feed
from paperboard.sources.http import PoliteClient

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "arxiv"
API_PATH = "/api/query"

Cli = Callable[..., CliResult]


# -- building feeds --------------------------------------------------------------------------------


def entry_xml(
    paper_id: str,
    *,
    title: str | None = None,
    comment: str | None = None,
    primary: str = "cs.LG",
    published: str = "2026-11-18T12:00:00Z",
) -> str:
    title = title or f"Paper {paper_id}"
    comment_xml = f"<arxiv:comment>{escape(comment)}</arxiv:comment>" if comment else ""
    return f"""
  <entry>
    <id>http://arxiv.org/abs/{paper_id}</id>
    <updated>{published}</updated>
    <published>{published}</published>
    <title>{escape(title)}</title>
    <summary>  An abstract for {paper_id}, hard wrapped
as arXiv does.
</summary>
    <author><name>Author One</name></author>
    <author><name>Author Two</name></author>
    {comment_xml}
    <link href="http://arxiv.org/abs/{paper_id}" rel="alternate" type="text/html"/>
    <link title="pdf" href="http://arxiv.org/pdf/{paper_id}" rel="related" type="application/pdf"/>
    <arxiv:primary_category term="{primary}" scheme="http://arxiv.org/schemas/atom"/>
    <category term="{primary}" scheme="http://arxiv.org/schemas/atom"/>
    <category term="stat.ML" scheme="http://arxiv.org/schemas/atom"/>
  </entry>"""


def feed_xml(entries: list[str], total: int | None, start: int = 0) -> str:
    total_xml = ""
    if total is not None:
        total_xml = f"<opensearch:totalResults>{total}</opensearch:totalResults>"
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<feed xmlns="http://www.w3.org/2005/Atom" xmlns:opensearch="http://a9.com/-/spec/opensearch/1.1/"
      xmlns:arxiv="http://arxiv.org/schemas/atom">
  <link href="http://arxiv.org/api/query" rel="self" type="application/atom+xml"/>
  <title type="html">ArXiv Query: search_query=cat:cs.LG&amp;id_list=&amp;start={start}</title>
  <id>http://arxiv.org/api/0T5c2cJ3nqF6n6nB6w2yQ4W0mWc</id>
  <updated>2026-11-20T00:00:00-05:00</updated>
  {total_xml}
  <opensearch:startIndex>{start}</opensearch:startIndex>
  <opensearch:itemsPerPage>{len(entries)}</opensearch:itemsPerPage>{"".join(entries)}
</feed>
"""


SEVEN = [
    entry_xml("2611.00001v1", comment="Code: https://github.com/owner/repo."),
    entry_xml("2611.00002v2"),
    entry_xml("2611.00003v1", primary="stat.ML"),
    entry_xml("2611.00004v1"),
    entry_xml("2611.00005v3"),
    entry_xml("2611.00006v1"),
    entry_xml("2611.00007v1"),
]


def fixture(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def pages_of(entries: list[str], per_page: int = 3) -> Callable[[SeenRequest], Reply]:
    """A handler that answers start/max_results like arXiv, but never with more than
    ``per_page`` entries (arXiv too may send fewer than asked)."""

    def handler(seen: SeenRequest) -> Reply:
        query = seen.query
        start = int(query["start"][0])
        want = int(query["max_results"][0])
        chunk = entries[start : start + min(want, per_page)]
        return Reply(200, feed_xml(chunk, total=len(entries), start=start))

    return handler


def starts(fake_server: FakeServer) -> list[int]:
    return [int(r.query["start"][0]) for r in fake_server.requests]


def paper_count(cli: Cli) -> int:
    result = cli("stats", "--json")
    return json.loads(result.stdout)["papers"]


def show(cli: Cli, paper_id: str) -> dict[str, Any]:
    result = cli("show", paper_id, "--json")
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def error_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.startswith("paperboard: error:")]


@pytest.fixture
def api(
    monkeypatch: pytest.MonkeyPatch, env: dict[str, str], fake_server: FakeServer
) -> FakeServer:
    """The fake server, configured as the arXiv API for the CLI."""
    monkeypatch.setenv("PAPERBOARD_ARXIV_API_URL", fake_server.url + API_PATH)
    return fake_server


def client() -> PoliteClient:
    return PoliteClient(min_interval=0, retries=0, backoff=0, timeout=5, user_agent="tests")


def run_source(source: ArxivApiSource) -> tuple[list[PaperRecord], list[Skip]]:
    items = list(source.records())
    return (
        [i for i in items if isinstance(i, PaperRecord)],
        [i for i in items if isinstance(i, Skip)],
    )


# -- parsing, no HTTP ------------------------------------------------------------------------------


def test_parse_feed_reads_every_field() -> None:
    page = parse_feed(fixture("id_list.xml"))

    assert page.total == 2 and page.entries == 2
    first, second = page.items
    assert isinstance(first, PaperRecord) and isinstance(second, PaperRecord)
    assert (first.id, first.version, first.source) == ("2104.12255", 2, "arxiv")
    assert first.title is not None and first.title.startswith("Sparse Mixtures of Tiny Experts for")
    assert first.abstract is not None and first.abstract.startswith("We study mixtures")
    assert first.authors == ["Ada K. Lovelace", "Charles Babbage", "Grace Hopper"]
    assert first.categories == ["eess.AS", "cs.LG", "cs.CL"]  # primary first, no duplicate
    assert first.published_at == datetime(2021, 4, 25, 22, 31, 11, tzinfo=UTC)
    assert first.updated_at == datetime(2021, 6, 3, 17, 12, 40, tzinfo=UTC)
    assert first.doi == "10.1234/smte.2021.42"
    assert first.journal_ref == "Proc. Interspeech 2021, 101-105"
    assert first.comments == "12 pages, 4 figures. Code: https://github.com/owner/repo."
    assert first.versions is None
    assert (second.id, second.version) == ("hep-th/9901001", 3)
    assert second.categories == ["hep-th", "gr-qc"]
    assert second.doi is None and second.journal_ref is None
    assert page.ids == ["2104.12255", "hep-th/9901001"]


def test_parse_feed_takes_doi_from_link_when_arxiv_doi_is_missing() -> None:
    entry = entry_xml("2611.00001v1").replace(
        "</entry>", '<link title="doi" href="http://dx.doi.org/10.5555/xyz" rel="related"/></entry>'
    )
    (record,) = parse_feed(feed_xml([entry], total=1).encode()).items
    assert isinstance(record, PaperRecord) and record.doi == "10.5555/xyz"


def test_parse_feed_skips_malformed_entries_with_their_numbers() -> None:
    page = parse_feed(fixture("malformed_entries.xml"), page=4)

    records = [i for i in page.items if isinstance(i, PaperRecord)]
    skips = [i for i in page.items if isinstance(i, Skip)]
    assert [r.id for r in records] == ["2611.00101", "2611.00106"]
    assert [s.where for s in skips] == [f"arXiv API page 4 entry {n}" for n in (2, 3, 4, 5)]
    reasons = [s.reason for s in skips]
    assert "no <id>" in reasons[0]
    assert "bad id" in reasons[1] and "not-an-arxiv-id" in reasons[1]
    assert "no title" in reasons[2]
    assert "date" in reasons[3] and "sometime last week" in reasons[3]
    assert page.entries == 6


def test_parse_feed_turns_the_error_feed_into_one_line() -> None:
    with pytest.raises(SourceError) as caught:
        parse_feed(fixture("error_feed.xml"))
    assert str(caught.value) == "arXiv API error: incorrect id format for 1234"


@pytest.mark.parametrize(
    "body, expected",
    [
        (b"<feed xmlns='http://www.w3.org/2005/Atom'><entry>", "malformed XML"),
        (b"", "malformed XML"),
        (b"<html><body>Service Unavailable</body></html>", "not an Atom feed"),
    ],
)
def test_parse_feed_rejects_unreadable_pages(body: bytes, expected: str) -> None:
    with pytest.raises(SourceError) as caught:
        parse_feed(body, page=2)
    message = str(caught.value)
    assert message.startswith("arXiv API page 2: ") and expected in message
    assert "\n" not in message


def test_parse_feed_never_resolves_entities(tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("TOPSECRET")
    doctype = (
        f'<!DOCTYPE feed [<!ENTITY file SYSTEM "{secret.as_uri()}">'
        '<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">]>'
    )
    entry = entry_xml("2104.12255v1").replace("</summary>", "&file; &b;</summary>")
    body = feed_xml([entry], total=1).replace("<feed ", doctype + "<feed ", 1).encode()

    (record,) = parse_feed(body).items

    assert isinstance(record, PaperRecord) and record.abstract is not None
    assert "TOPSECRET" not in record.abstract and "aaaaaaaaaa" not in record.abstract


@pytest.mark.parametrize("total", [None, "many", "\u00b2", "-1"])
def test_parse_feed_without_a_usable_total(total: str | None) -> None:
    body = feed_xml([SEVEN[0]], total=None)
    if total is not None:
        element = f"<opensearch:totalResults>{total}</opensearch:totalResults>"
        body = body.replace("<id>", element + "<id>", 1)
    page = parse_feed(body.encode())
    assert page.total is None and page.entries == 1


def _is_page_or_source_error(data: bytes) -> None:
    try:
        page = parse_feed(data)
    except SourceError as error:
        assert "\n" not in str(error)
        return
    assert isinstance(page, FeedPage)
    assert page.entries == len(page.items)
    for item in page.items:
        assert isinstance(item, PaperRecord | Skip)
        if isinstance(item, PaperRecord):
            assert item.id and item.title


VALID_FEED = fixture("id_list.xml")


@hypothesis_settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=600))
def test_parser_survives_arbitrary_bytes(data: bytes) -> None:
    _is_page_or_source_error(data)


XML_PIECES = [b"<", b">", b"&", b"&amp;", b"]]>", b"</entry>", b"<entry>", b"\x00", b"\xff", b"v0"]


@st.composite
def mutated_feeds(draw: st.DrawFn) -> bytes:
    data = bytearray(VALID_FEED)
    for _ in range(draw(st.integers(1, 8))):
        at = draw(st.integers(0, len(data) - 1))
        kind = draw(st.sampled_from(["replace", "delete", "insert"]))
        piece = draw(st.binary(min_size=1, max_size=12) | st.sampled_from(XML_PIECES))
        if kind == "replace":
            data[at : at + len(piece)] = piece
        elif kind == "delete":
            del data[at : at + draw(st.integers(1, 40))]
        else:
            data[at:at] = piece
    return bytes(data)


@hypothesis_settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated_feeds())
def test_parser_survives_mutated_feeds(data: bytes) -> None:
    _is_page_or_source_error(data)


_xml_text = st.text(
    st.characters(blacklist_categories=["Cs", "Cc"], blacklist_characters="\ufffe\uffff"),
    max_size=30,
)


ODD_IDS = ["2104.12255v0", "0001.00001", "hep-th/9913001", "http://arxiv.org/api/errors"]
ODD_DATES = ["0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00", "Mon, 32 Foo 2021"]


@hypothesis_settings(max_examples=100, deadline=None)
@given(
    paper_id=st.one_of(_xml_text, st.sampled_from(ODD_IDS)),
    title=_xml_text,
    when=st.one_of(_xml_text, st.sampled_from(ODD_DATES)),
    term=_xml_text,
)
def test_parser_survives_well_formed_nonsense(
    paper_id: str, title: str, when: str, term: str
) -> None:
    entry = (
        f"<entry><id>{escape(paper_id)}</id><title>{escape(title)}</title>"
        f"<published>{escape(when)}</published><updated>{escape(when)}</updated>"
        f"<category term={json.dumps(escape(term))}/></entry>"
    )
    _is_page_or_source_error(feed_xml([entry], total=1).encode("utf-8"))


# -- the source over HTTP, no database ------------------------------------------------------------


def test_pages_by_entries_received_and_reports_progress(fake_server: FakeServer) -> None:
    fake_server.route(API_PATH, pages_of(SEVEN))
    source = ArxivApiSource(client(), fake_server.url + API_PATH, category="cs.LG", page_size=3)
    assert source.progress() == (0.0, None)

    records, skips = run_source(source)

    assert [r.id for r in records] == [f"2611.0000{n}" for n in range(1, 8)]
    assert skips == []
    assert starts(fake_server) == [0, 3, 6]
    assert source.progress() == (7.0, 7.0)
    assert source.target == "cat:cs.LG"


def test_target_names_the_dates_and_limit() -> None:
    source = ArxivApiSource(
        client(),
        "http://127.0.0.1:9/api/query",
        category="cs.LG",
        date_from=date(2026, 11, 1),
        date_to=date(2026, 11, 20),
        max_results=50,
    )
    assert source.target == "cat:cs.LG 2026-11-01..2026-11-20 max 50"
    ids = ArxivApiSource(
        client(), "http://127.0.0.1:9/api/query", ids=["2104.12255", "hep-th/9901001"]
    )
    assert ids.target == "ids 2104.12255, hep-th/9901001"
    assert ids.progress() == (0.0, 2.0)


def test_id_chunks_and_missing_papers(fake_server: FakeServer) -> None:
    """id_list goes in chunks of page_size; an id answered by a title-less entry or not answered
    at all is a skip saying there is no such paper."""
    ghost = "<entry><id>http://arxiv.org/abs/2104.99999</id></entry>"

    def handler(seen: SeenRequest) -> Reply:
        asked = seen.query["id_list"][0].split(",")
        entries = [SEVEN[0]] if "2611.00001" in asked else []
        if "2104.99999" in asked:
            entries.append(ghost)
        return Reply(200, feed_xml(entries, total=len(entries)))

    fake_server.route(API_PATH, handler)
    source = ArxivApiSource(
        client(),
        fake_server.url + API_PATH,
        ids=["2611.00001", "2104.99999", "2105.00001v2"],
        page_size=2,
    )

    records, skips = run_source(source)

    asked = [r.query["id_list"][0] for r in fake_server.requests]
    assert asked == ["2611.00001,2104.99999", "2105.00001v2"]
    assert [r.query["max_results"][0] for r in fake_server.requests] == ["2", "1"]
    assert [r.id for r in records] == ["2611.00001"]
    assert [str(s) for s in skips] == [
        "arXiv API page 1 entry 2: no such paper: 2104.99999",
        "arXiv API id 2105.00001v2: no such paper (not in arXiv's answer)",
    ]
    assert source.progress() == (3.0, 3.0)


def test_an_empty_page_is_asked_again(fake_server: FakeServer) -> None:
    empty = Reply(200, feed_xml([], total=7, start=3))
    full = pages_of(SEVEN)
    calls = {"start3": 0}

    def recovering(seen: SeenRequest) -> Reply:
        if seen.query["start"][0] == "3":
            calls["start3"] += 1
            if calls["start3"] == 1:
                return empty
        return full(seen)

    fake_server.route(API_PATH, recovering)
    url = fake_server.url + API_PATH
    records, skips = run_source(ArxivApiSource(client(), url, category="cs.LG", page_size=3))
    assert len(records) == 7 and skips == []
    assert starts(fake_server) == [0, 3, 3, 6]


def test_malformed_page_fails_after_earlier_records(fake_server: FakeServer) -> None:
    good = pages_of(SEVEN)

    def handler(seen: SeenRequest) -> Reply:
        if seen.query["start"][0] == "3":
            return Reply(200, "<html><body>Rate exceeded.</body></html>", content_type="text/html")
        return good(seen)

    fake_server.route(API_PATH, handler)
    source = ArxivApiSource(client(), fake_server.url + API_PATH, category="cs.LG", page_size=3)
    seen: list[object] = []
    with pytest.raises(SourceError, match=r"^arXiv API page 2: not an Atom feed"):
        for item in source.records():
            seen.append(item)
    kept = [r.id for r in seen if isinstance(r, PaperRecord)]
    assert kept == ["2611.00001", "2611.00002", "2611.00003"]


def test_http_400_without_an_error_feed(fake_server: FakeServer) -> None:
    fake_server.route(API_PATH, Reply(400, "bad request", content_type="text/plain"))
    source = ArxivApiSource(client(), fake_server.url + API_PATH, category="cs.LG")
    with pytest.raises(SourceError, match=r"^arXiv API page 1: HTTP 400$"):
        list(source.records())


def test_rejects_a_category_that_would_change_the_query(fake_server: FakeServer) -> None:
    source = ArxivApiSource(client(), fake_server.url + API_PATH, category="cs.LG OR all:x")
    with pytest.raises(SourceError, match="not an arXiv category"):
        list(source.records())
    assert fake_server.requests == []


def test_arxiv_hosts_never_get_less_than_three_seconds() -> None:
    config = Settings(arxiv_delay=0)
    assert config.arxiv_delay_for("https://export.arxiv.org/api/query") >= 3
    assert config.arxiv_delay_for("http://127.0.0.1:8000/api/query") == 0
    with PoliteClient.for_url(config, "https://export.arxiv.org/api/query") as polite:
        assert polite.min_interval >= 3


# -- the CLI, on every database backend ------------------------------------------------------------


def test_cli_pages_through_a_category(cli: Cli, api: FakeServer) -> None:
    api.route(API_PATH, pages_of(SEVEN))

    result = cli("ingest", "arxiv", "--category", "cs.LG")

    assert result.exit_code == 0, result.output
    assert "7 new" in result.stdout
    assert starts(api) == [0, 3, 6]
    first = api.requests[0].query
    assert first["search_query"] == ["cat:cs.LG"]
    assert first["sortBy"] == ["submittedDate"] and first["sortOrder"] == ["descending"]
    assert first["max_results"] == ["100"]
    assert paper_count(cli) == 7
    paper = show(cli, "2611.00001")
    assert paper["code_urls"] == ["https://github.com/owner/repo"]
    assert paper["title"] == "Paper 2611.00001v1"


def test_cli_max_stops_early(cli: Cli, api: FakeServer) -> None:
    api.route(API_PATH, pages_of(SEVEN))

    result = cli("ingest", "arxiv", "--category", "cs.LG", "--max", "4")

    assert result.exit_code == 0, result.output
    assert starts(api) == [0, 3]
    assert [r.query["max_results"][0] for r in api.requests] == ["4", "1"]
    assert paper_count(cli) == 4


def test_cli_date_range_goes_into_the_query(cli: Cli, api: FakeServer) -> None:
    api.route(API_PATH, pages_of(SEVEN[:2]))

    result = cli("ingest", "arxiv", "-c", "cs.LG", "--from", "2026-11-01", "--to", "2026-11-20")

    assert result.exit_code == 0, result.output
    assert api.requests[0].query["search_query"] == [
        "cat:cs.LG AND submittedDate:[202611010000 TO 202611202359]"
    ]
    assert paper_count(cli) == 2


def test_cli_id_mode_and_rerun_changes_nothing(cli: Cli, api: FakeServer) -> None:
    api.route(API_PATH, Reply(200, fixture("id_list.xml")))

    first = cli("ingest", "arxiv", "--id", "2104.12255", "--id", "hep-th/9901001")

    assert first.exit_code == 0, first.output
    assert "2 new" in first.stdout
    query = api.requests[0].query
    assert query["id_list"] == ["2104.12255,hep-th/9901001"]
    assert query["max_results"] == ["2"]
    assert "search_query" not in query
    modern = show(cli, "2104.12255")
    assert modern["version"] == 2
    assert modern["authors"] == ["Ada K. Lovelace", "Charles Babbage", "Grace Hopper"]
    assert modern["categories"][0] == "eess.AS"
    assert modern["code_urls"] == ["https://github.com/owner/repo"]
    assert modern["doi"] == "10.1234/smte.2021.42"
    old = show(cli, "hep-th/9901001")
    assert old["version"] == 3 and old["published_at"].startswith("1999-01-04")

    again = cli("ingest", "arxiv", "--id", "2104.12255", "--id", "hep-th/9901001")

    assert again.exit_code == 0, again.output
    assert "0 new, 0 updated, 2 unchanged" in again.stdout
    assert paper_count(cli) == 2


@pytest.mark.parametrize(
    "busy, backoff",
    [
        (Reply(503, "Service Unavailable"), "0"),
        # A long backoff that Retry-After: 0 must override (the test would take 5 s otherwise).
        (Reply(429, "Too Many Requests", {"Retry-After": "0"}), "5"),
    ],
    ids=["503", "429-retry-after-0"],
)
def test_cli_retries_a_busy_server(
    cli: Cli, api: FakeServer, monkeypatch: pytest.MonkeyPatch, busy: Reply, backoff: str
) -> None:
    monkeypatch.setenv("PAPERBOARD_HTTP_BACKOFF", backoff)
    api.route(API_PATH, busy, Reply(200, fixture("id_list.xml")))

    result = cli("ingest", "arxiv", "--id", "2104.12255", "--id", "hep-th/9901001")

    assert result.exit_code == 0, result.output
    assert len(api.requests) == 2
    assert api.requests[1].at - api.requests[0].at < 2
    assert paper_count(cli) == 2


def test_cli_persistent_500_keeps_earlier_pages(cli: Cli, api: FakeServer) -> None:
    good = pages_of(SEVEN)

    def handler(seen: SeenRequest) -> Reply:
        if seen.query["start"][0] == "0":
            return good(seen)
        return Reply(500, "Internal Server Error", content_type="text/plain")

    api.route(API_PATH, handler)

    result = cli("ingest", "arxiv", "--category", "cs.LG")

    assert result.exit_code == 1
    lines = error_lines(result.stderr)
    assert len(lines) == 1 and "HTTP 500" in lines[0] and "gave up" in lines[0]
    assert paper_count(cli) == 3


def test_cli_error_feed_exits_1_with_its_message(cli: Cli, api: FakeServer) -> None:
    api.route(API_PATH, Reply(400, fixture("error_feed.xml")))

    result = cli("ingest", "arxiv", "--category", "cs.LG")

    assert result.exit_code == 1
    assert error_lines(result.stderr) == [
        "paperboard: error: arXiv API error: incorrect id format for 1234"
    ]
    assert paper_count(cli) == 0


def test_cli_gives_up_on_a_page_that_stays_empty(cli: Cli, api: FakeServer) -> None:
    good = pages_of(SEVEN)

    def handler(seen: SeenRequest) -> Reply:
        if seen.query["start"][0] == "3":
            return Reply(200, feed_xml([], total=7, start=3))
        return good(seen)

    api.route(API_PATH, handler)

    result = cli("ingest", "arxiv", "--category", "cs.LG")

    assert result.exit_code == 0, result.output
    assert starts(api) == [0, 3, 3, 3]
    assert "skipped arXiv API page 2: empty page at start=3 of 7" in result.stderr
    assert paper_count(cli) == 3


def test_cli_waits_between_requests(
    cli: Cli, api: FakeServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PAPERBOARD_ARXIV_DELAY", "0.3")
    api.route(API_PATH, pages_of(SEVEN))

    result = cli("ingest", "arxiv", "--category", "cs.LG")

    assert result.exit_code == 0, result.output
    times = [r.at for r in api.requests]
    assert len(times) == 3
    gaps = [later - earlier for earlier, later in itertools.pairwise(times)]
    # PoliteClient times the pause from when it starts sending, so the server, which notes the
    # time a request arrives, can see a gap a few milliseconds short when the first request was
    # slower to arrive (it also opened the connection).
    assert all(gap >= 0.3 for gap in gaps), gaps


def test_cli_reports_malformed_entries_and_stores_the_rest(cli: Cli, api: FakeServer) -> None:
    api.route(API_PATH, Reply(200, fixture("malformed_entries.xml")))

    result = cli("ingest", "arxiv", "--category", "cs.LG")

    assert result.exit_code == 0, result.output
    stderr = result.stderr
    for number in (2, 3, 4, 5):
        assert f"skipped arXiv API page 1 entry {number}: " in stderr
    assert "4 skipped" in result.stdout
    assert paper_count(cli) == 2
    assert show(cli, "2611.00106")["categories"] == ["stat.ML", "cs.LG"]
