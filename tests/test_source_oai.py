"""The OAI-PMH (arXivRaw) source: page parsing, a harvest through the CLI against a local server
speaking OAI-PMH, error codes, and a harvest killed with SIGKILL that resumes on rerun.

The responses under ``fixtures/oai/`` are hand-written in the layout of arXiv's OAI-PMH answers
(``ListRecords`` with ``metadataPrefix=arXivRaw``): a three-page harvest of set ``cs`` linked by
resumption tokens, a page of malformed records and the error responses.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from datetime import UTC, date, datetime
from pathlib import Path
from xml.sax.saxutils import escape, quoteattr

import pytest
from conftest import CliResult, FakeServer, Reply, SeenRequest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import text

from paperboard.core.errors import SourceError
from paperboard.core.records import Checkpoint, PaperRecord, Skip
from paperboard.sources.http import PoliteClient
from paperboard.sources.normalize import prepare
from paperboard.sources.oai import (
    OaiError,
    OaiSource,
    harvest_key,
    parse_page,
)
from paperboard.store.papers import PaperStore

OAI = Path(__file__).resolve().parent / "fixtures" / "oai"
PAGE_1 = (OAI / "listrecords-cs-1.xml").read_bytes()
PAGE_2 = (OAI / "listrecords-cs-2.xml").read_bytes()
PAGE_3 = (OAI / "listrecords-cs-3.xml").read_bytes()
TOKEN_1 = "7123456|1001"  # sent with page 1, asks for page 2
TOKEN_2 = "7123456|2001"  # sent with page 2, asks for page 3
PAGE_1_IDS = {"2611.00001", "2611.00002", "cs/0112017"}
PAGE_2_IDS = {"2611.00003", "2611.00005"}  # 2611.00004 is deleted
PAGE_3_IDS = {"2611.00006", "2611.00007"}
ALL_IDS = PAGE_1_IDS | PAGE_2_IDS | PAGE_3_IDS
FROM = date(2026, 11, 1)
CONSOLE_SCRIPT = Path(sys.executable).with_name("paperboard")
FIRST = object()  # the request without a resumption token


def oai_error(code: str, message: str) -> bytes:
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<OAI-PMH xmlns="http://www.openarchives.org/OAI/2.0/">'
        "<responseDate>2026-11-20T08:00:00Z</responseDate>"
        '<request verb="ListRecords">https://oaipmh.arxiv.org/oai</request>'
        f'<error code="{code}">{escape(message)}</error></OAI-PMH>'
    ).encode()


class OaiEndpoint:
    """Plays the three-page harvest: the first request gets page 1, a token gets the page it names,
    an unknown token gets ``badResumptionToken``. ``hold(request)`` makes that request wait until
    ``release()``, so a test knows exactly how far a harvest got.
    """

    def __init__(
        self, server: FakeServer, pages: dict[object, Reply | bytes] | None = None
    ) -> None:
        self.server = server
        self.pages: dict[object, Reply | bytes] = pages or {
            FIRST: PAGE_1,
            TOKEN_1: PAGE_2,
            TOKEN_2: PAGE_3,
        }
        self.held: object | None = None
        self.reached = threading.Event()
        self._released = threading.Event()
        server.route("/oai", self)

    @property
    def url(self) -> str:
        return self.server.url + "/oai"

    def hold(self, request: object) -> None:
        self.held = request
        self.reached.clear()
        self._released.clear()

    def release(self) -> None:
        self._released.set()

    def __call__(self, seen: SeenRequest) -> Reply:
        tokens = seen.query.get("resumptionToken")
        request: object = tokens[0] if tokens else FIRST
        if self.held is not None and request == self.held and not self._released.is_set():
            self.reached.set()
            self._released.wait(30)
        page = self.pages.get(request)
        if page is None:
            return Reply(body=oai_error("badResumptionToken", "The value of the token is invalid."))
        return page if isinstance(page, Reply) else Reply(body=page)

    def requests(self, start: int = 0) -> list[dict[str, list[str]]]:
        return [r.query for r in self.server.requests[start:] if r.path == "/oai"]


@pytest.fixture
def endpoint(
    fake_server: FakeServer, monkeypatch: pytest.MonkeyPatch, env: dict[str, str]
) -> OaiEndpoint:
    oai = OaiEndpoint(fake_server)
    monkeypatch.setenv("PAPERBOARD_ARXIV_OAI_URL", oai.url)
    return oai


def stored_ids(store: PaperStore) -> list[str]:
    with store.engine.connect() as connection:
        return sorted(connection.execute(text("SELECT id FROM papers")).scalars())


def cs_key(endpoint: OaiEndpoint, date_from: date | None = FROM) -> str:
    return harvest_key(endpoint.url, "cs", date_from, None)


# -- the page parser, no HTTP ----------------------------------------------------------------------


def test_parse_page_reads_every_arxivraw_field() -> None:
    page = parse_page(PAGE_1)
    assert (page.token, page.cursor, page.complete_list_size) == (TOKEN_1, 0, 8)
    assert [item.id for item in page.items if isinstance(item, PaperRecord)] == [
        "2611.00001",
        "2611.00002",
        "cs/0112017",
    ]
    first = page.items[0]
    assert isinstance(first, PaperRecord)
    assert first.source == "oai"
    assert first.version == 2
    assert first.versions == [
        {"version": 1, "created": "2026-11-02T17:50:03+00:00"},
        {"version": 2, "created": "2026-11-04T09:12:44+00:00"},
    ]
    assert first.published_at == datetime(2026, 11, 2, 17, 50, 3, tzinfo=UTC)
    assert first.updated_at == datetime(2026, 11, 4, 9, 12, 44, tzinfo=UTC)
    assert first.authors == ["Ada Lovelace", "Charles Babbage", "Grace M. Hopper"]
    assert first.categories == ["cs.LG", "cs.AI", "stat.ML"]
    assert first.submitter == "Ada Lovelace"
    assert first.doi == "10.5555/ae.2026.001"
    assert first.journal_ref == "Proc. Analytical Soc. 1 (2026) 1-12"
    assert first.report_no == "AE-2026-01"
    assert first.license == "http://creativecommons.org/licenses/by/4.0/"
    assert first.comments is not None and first.comments.startswith("12 pages")
    old = page.items[2]
    assert isinstance(old, PaperRecord)
    assert (old.id, old.version) == ("cs/0112017", 3)
    assert old.published_at == datetime(2001, 12, 14, 16, 20, tzinfo=UTC)
    assert old.updated_at == datetime(2026, 11, 5, 8, 0, tzinfo=UTC)


def test_parse_page_last_page_has_no_token_and_entities_are_decoded() -> None:
    page = parse_page(PAGE_3)
    assert (page.token, page.cursor, page.complete_list_size) == (None, 6, 8)
    last = page.items[1]
    assert isinstance(last, PaperRecord)
    assert last.title == "Long Short-Term Memory & Friends"
    assert last.authors == ["J. Müller", "Zoe Zhang", "Yann Lecun"]
    assert last.abstract is not None and "<all the way down>" in last.abstract


def test_parse_page_deleted_and_malformed_records_are_skips() -> None:
    deleted = parse_page(PAGE_2, page=2).items[1]
    assert deleted == Skip(
        "OAI page 2 record 2 (oai:arXiv.org:2611.00004)", "deleted at the source", expected=True
    )
    items = parse_page((OAI / "malformed-records.xml").read_bytes(), page=4).items
    assert [type(item).__name__ for item in items] == [
        "Skip",
        "PaperRecord",
        "Skip",
        "Skip",
        "Skip",
    ]
    skips = [item for item in items if isinstance(item, Skip)]
    assert [s.where for s in skips] == [
        "OAI page 4 record 1 (oai:arXiv.org:not-an-id)",
        "OAI page 4 record 3 (oai:arXiv.org:2611.00012)",
        "OAI page 4 record 4 (oai:arXiv.org:2611.00013)",
        "OAI page 4 record 5 (oai:arXiv.org:2611.00014)",
    ]
    assert "not an arXiv id" in skips[0].reason
    assert "version label" in skips[1].reason
    assert "date" in skips[2].reason
    assert skips[3].reason == "no title"


def test_parse_page_no_records_match_is_an_empty_complete_list() -> None:
    page = parse_page((OAI / "no-records-match.xml").read_bytes())
    assert page.items == [] and page.token is None and page.no_records_match


def test_parse_page_bad_resumption_token_says_to_restart() -> None:
    with pytest.raises(OaiError) as caught:
        parse_page((OAI / "bad-resumption-token.xml").read_bytes())
    assert caught.value.code == "badResumptionToken"
    message = str(caught.value)
    assert "--restart" in message and "\n" not in message


@pytest.mark.parametrize(
    ("code", "message"),
    [
        ("badArgument", "Illegal set value 'nonsense'."),
        ("cannotDisseminateFormat", "arXivRawX is not supported"),
        ("noSetHierarchy", "This repository does not support sets"),
        ("badVerb", "Illegal verb"),
    ],
)
def test_parse_page_other_oai_errors_fail_with_code_and_message(code: str, message: str) -> None:
    with pytest.raises(OaiError) as caught:
        parse_page(oai_error(code, message))
    assert caught.value.code == code
    assert code in str(caught.value) and message.rstrip(".") in str(caught.value)


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"<html><body>Service temporarily unavailable</body></html>",
        PAGE_1[: len(PAGE_1) // 2],
        b'<OAI-PMH xmlns="http://www.openarchives.org/OAI/2.0/"><responseDate/></OAI-PMH>',
        b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]><x>&e;</x>',
    ],
    ids=["empty", "html", "truncated", "no-list", "external-entity"],
)
def test_parse_page_rejects_what_is_not_an_oai_response(body: bytes) -> None:
    with pytest.raises(SourceError):
        parse_page(body)


def test_external_entities_are_never_read(tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET")
    body = PAGE_2.replace(
        b"<OAI-PMH ",
        f'<!DOCTYPE OAI-PMH [<!ENTITY s SYSTEM "file://{secret}">]>\n<OAI-PMH '.encode(),
        1,
    ).replace(b"Can machines think?", b"&s;")
    try:
        items = parse_page(body).items
    except SourceError:
        return
    assert all("TOP-SECRET" not in str(item) for item in items)


def test_harvest_key_is_stable_distinct_and_short() -> None:
    url = "https://oaipmh.arxiv.org/oai"
    key = harvest_key(url, "cs", FROM, None)
    assert key == harvest_key(url + "/", "cs", FROM, None)
    assert (
        len(
            {
                key,
                harvest_key(url, "cs", None, None),
                harvest_key(url, "math", FROM, None),
                harvest_key(url, "cs", FROM, date(2026, 11, 30)),
                harvest_key("https://example.org/oai", "cs", FROM, None),
            }
        )
        == 5
    )
    long_a = harvest_key(url, "x" * 300 + "a", FROM, None)
    long_b = harvest_key(url, "x" * 300 + "b", FROM, None)
    assert len(long_a) <= 200 and len(long_b) <= 200 and long_a != long_b
    assert long_a == harvest_key(url, "x" * 300 + "a", FROM, None)


# -- the source over HTTP, no store ----------------------------------------------------------------


def polite() -> PoliteClient:
    return PoliteClient(min_interval=0, retries=2, backoff=0, timeout=5, user_agent="test")


def test_source_yields_checkpoints_after_each_page_and_reports_progress(
    fake_server: FakeServer,
) -> None:
    oai = OaiEndpoint(fake_server)
    with polite() as client:
        source = OaiSource(client, oai.url, set_spec="cs", date_from=FROM, date_until=None)
        assert source.key == harvest_key(oai.url, "cs", FROM, None)
        assert source.progress() == (0.0, None)
        seen: list[tuple[str, object]] = []
        for item in source.records():
            if isinstance(item, Checkpoint):
                seen.append(("checkpoint", item.state))
                assert item.key == source.key
                seen.append(("progress", source.progress()))
            else:
                seen.append(("item", getattr(item, "id", None) or "skip"))
    assert seen == [
        ("item", "2611.00001"),
        ("item", "2611.00002"),
        ("item", "cs/0112017"),
        ("checkpoint", TOKEN_1),
        ("progress", (3.0, 8.0)),
        ("item", "2611.00003"),
        ("item", "skip"),
        ("item", "2611.00005"),
        ("checkpoint", TOKEN_2),
        ("progress", (6.0, 8.0)),
        ("item", "2611.00006"),
        ("item", "2611.00007"),
        ("checkpoint", None),
        ("progress", (8.0, 8.0)),
    ]
    queries = oai.requests()
    assert queries[0] == {
        "verb": ["ListRecords"],
        "metadataPrefix": ["arXivRaw"],
        "set": ["cs"],
        "from": ["2026-11-01"],
    }
    assert queries[1:] == [
        {"verb": ["ListRecords"], "resumptionToken": [TOKEN_1]},
        {"verb": ["ListRecords"], "resumptionToken": [TOKEN_2]},
    ]


def test_source_given_a_token_starts_with_it(fake_server: FakeServer) -> None:
    oai = OaiEndpoint(fake_server)
    with polite() as client:
        source = OaiSource(
            client, oai.url, set_spec="cs", date_from=FROM, date_until=None, resume_token=TOKEN_2
        )
        ids = [item.id for item in source.records() if isinstance(item, PaperRecord)]
    assert set(ids) == PAGE_3_IDS
    assert oai.requests() == [{"verb": ["ListRecords"], "resumptionToken": [TOKEN_2]}]
    assert "resumed" in source.target


def test_source_stops_when_the_server_repeats_a_token(fake_server: FakeServer) -> None:
    oai = OaiEndpoint(fake_server, {FIRST: PAGE_1, TOKEN_1: PAGE_1})  # page 1 again, same token
    with polite() as client:
        source = OaiSource(client, oai.url, set_spec="cs", date_from=FROM, date_until=None)
        items = []
        with pytest.raises(SourceError, match="token"):
            for item in source.records():
                items.append(item)
    assert [i.state for i in items if isinstance(i, Checkpoint)] == [TOKEN_1]


def test_source_reads_an_oai_error_sent_with_a_4xx_status(fake_server: FakeServer) -> None:
    oai = OaiEndpoint(fake_server, {FIRST: Reply(400, oai_error("badArgument", "Illegal from"))})
    with polite() as client:
        source = OaiSource(client, oai.url, set_spec="cs", date_from=FROM, date_until=None)
        with pytest.raises(OaiError, match="badArgument: Illegal from"):
            list(source.records())
    oai.pages[FIRST] = Reply(404, "Not Found", content_type="text/plain")
    with polite() as client:
        source = OaiSource(client, oai.url, set_spec="cs", date_from=FROM, date_until=None)
        with pytest.raises(SourceError, match="HTTP 404"):
            list(source.records())


# -- through the CLI and the store -----------------------------------------------------------------


def test_three_page_harvest_stores_every_paper(
    cli: Callable[..., CliResult], store: PaperStore, endpoint: OaiEndpoint
) -> None:
    result = cli("ingest", "oai", "--set", "cs", "--from", "2026-11-01")
    assert result.exit_code == 0, result.output
    assert "7 new" in result.stdout and "1 skipped" in result.stdout
    assert "skipped OAI page 2 record 2 (oai:arXiv.org:2611.00004): deleted" in result.stderr

    queries = endpoint.requests()
    assert queries == [
        {
            "verb": ["ListRecords"],
            "metadataPrefix": ["arXivRaw"],
            "set": ["cs"],
            "from": ["2026-11-01"],
        },
        {"verb": ["ListRecords"], "resumptionToken": [TOKEN_1]},
        {"verb": ["ListRecords"], "resumptionToken": [TOKEN_2]},
    ]
    assert stored_ids(store) == sorted(ALL_IDS)
    assert store.harvest_state(cs_key(endpoint)) is None

    paper = store.get("2611.00001")
    assert paper is not None
    assert paper["version"] == 2
    assert paper["title"] == "Analytical Engines as Sequence Models: Notes on the Bernoulli Numbers"
    assert paper["authors"] == ["Ada Lovelace", "Charles Babbage", "Grace M. Hopper"]
    assert paper["author_count"] == 3
    assert paper["categories"] == ["cs.LG", "cs.AI", "stat.ML"]
    assert paper["primary_category"] == "cs.LG"
    assert paper["versions"] == [
        {"version": 1, "created": "2026-11-02T17:50:03+00:00"},
        {"version": 2, "created": "2026-11-04T09:12:44+00:00"},
    ]
    assert paper["published_at"] == datetime(2026, 11, 2, 17, 50, 3, tzinfo=UTC)
    assert paper["updated_at"] == datetime(2026, 11, 4, 9, 12, 44, tzinfo=UTC)
    assert paper["abstract"] == (
        "We revisit the Bernoulli number program as a sequence model. The engine's operation "
        "cards are read as tokens and its store as a context window.\n\n"
        "A second paragraph reports that the mill, not the store, limits throughput."
    )
    assert paper["doi"] == "10.5555/ae.2026.001"
    assert paper["journal_ref"] == "Proc. Analytical Soc. 1 (2026) 1-12"
    assert paper["report_no"] == "AE-2026-01"
    assert paper["submitter"] == "Ada Lovelace"
    assert paper["code_urls"] == ["https://github.com/ada/engine-notes"]
    assert paper["sources"] == ["oai"]
    old = store.get("cs/0112017")
    assert old is not None
    assert old["categories"] == ["cs.DS", "math.CO"] and old["version"] == 3
    assert old["feed_date"] == date(2001, 12, 14)
    assert store.get("2611.00004") is None
    assert store.get("2611.00007")["authors"] == ["J. Müller", "Zoe Zhang", "Yann Lecun"]  # type: ignore[index]

    again = cli("ingest", "oai", "--set", "cs", "--from", "2026-11-01")
    assert again.exit_code == 0, again.output
    assert "0 new, 0 updated, 7 unchanged" in again.stdout
    assert endpoint.requests(3)[0]["metadataPrefix"] == ["arXivRaw"]
    assert stored_ids(store) == sorted(ALL_IDS)


def test_no_records_match_is_an_empty_successful_harvest(
    cli: Callable[..., CliResult], store: PaperStore, endpoint: OaiEndpoint
) -> None:
    endpoint.pages[FIRST] = (OAI / "no-records-match.xml").read_bytes()
    result = cli("ingest", "oai", "--set", "cs", "--from", "2026-11-01")
    assert result.exit_code == 0, result.output
    assert "0 read" in result.stdout
    assert store.count() == 0
    assert store.harvest_state(cs_key(endpoint)) is None
    assert store.recent_runs(1)[0]["status"] == "ok"


def test_a_harvest_of_only_deletions_succeeds(
    cli: Callable[..., CliResult], store: PaperStore, endpoint: OaiEndpoint
) -> None:
    page = PAGE_2.decode()
    for record in re.findall(r"<record>.*?</record>", page, re.S):
        if 'status="deleted"' not in record:
            page = page.replace(record, "")
    page = re.sub(r"<resumptionToken.*?(?:/>|</resumptionToken>)", "", page, flags=re.S)
    endpoint.pages[FIRST] = page.encode()
    result = cli("ingest", "oai", "--set", "cs", "--from", "2026-11-01")
    assert result.exit_code == 0, result.output
    assert "0 read" in result.stdout and "1 skipped" in result.stdout
    assert store.count() == 0


def test_expired_token_fails_in_one_line_and_restart_starts_over(
    cli: Callable[..., CliResult], store: PaperStore, endpoint: OaiEndpoint
) -> None:
    key = cs_key(endpoint)
    store.write([], Checkpoint(key, "expired|token"))

    result = cli("ingest", "oai", "--set", "cs", "--from", "2026-11-01")
    assert result.exit_code == 1, result.output
    errors = [line for line in result.stderr.splitlines() if line.startswith("paperboard: error:")]
    assert len(errors) == 1 and "badResumptionToken" in errors[0] and "--restart" in errors[0]
    assert endpoint.requests() == [{"verb": ["ListRecords"], "resumptionToken": ["expired|token"]}]
    assert store.harvest_state(key) == "expired|token"  # kept: the user decides to restart
    assert store.count() == 0

    restarted = cli("ingest", "oai", "--set", "cs", "--from", "2026-11-01", "--restart")
    assert restarted.exit_code == 0, restarted.output
    assert endpoint.requests(1)[0] == {
        "verb": ["ListRecords"],
        "metadataPrefix": ["arXivRaw"],
        "set": ["cs"],
        "from": ["2026-11-01"],
    }
    assert stored_ids(store) == sorted(ALL_IDS)
    assert store.harvest_state(key) is None


def test_other_oai_errors_fail_with_code_and_message(
    cli: Callable[..., CliResult], store: PaperStore, endpoint: OaiEndpoint
) -> None:
    endpoint.pages[FIRST] = (OAI / "bad-argument.xml").read_bytes()
    result = cli("ingest", "oai", "--set", "nonsense")
    assert result.exit_code == 1
    assert "badArgument: Illegal set value 'nonsense'" in result.stderr
    assert store.count() == 0
    assert store.recent_runs(1)[0]["status"] == "failed"


def test_malformed_page_keeps_earlier_pages_and_its_checkpoint(
    cli: Callable[..., CliResult], store: PaperStore, endpoint: OaiEndpoint
) -> None:
    endpoint.pages[TOKEN_1] = PAGE_2[:700]
    result = cli("ingest", "oai", "--set", "cs", "--from", "2026-11-01")
    assert result.exit_code == 1
    assert "OAI page 2 is not well-formed XML" in result.stderr
    assert stored_ids(store) == sorted(PAGE_1_IDS)
    assert store.harvest_state(cs_key(endpoint)) == TOKEN_1

    endpoint.pages[TOKEN_1] = PAGE_2
    resumed = cli("ingest", "oai", "--set", "cs", "--from", "2026-11-01")
    assert resumed.exit_code == 0, resumed.output
    assert "resuming" in resumed.stderr
    assert endpoint.requests(2)[0] == {"verb": ["ListRecords"], "resumptionToken": [TOKEN_1]}
    assert stored_ids(store) == sorted(ALL_IDS)
    assert store.harvest_state(cs_key(endpoint)) is None


def test_malformed_records_are_skipped_and_the_rest_stored(
    cli: Callable[..., CliResult], store: PaperStore, endpoint: OaiEndpoint
) -> None:
    endpoint.pages[FIRST] = (OAI / "malformed-records.xml").read_bytes()
    result = cli("ingest", "oai", "--set", "cs", "--from", "2026-11-01")
    assert result.exit_code == 0, result.output
    assert "1 new" in result.stdout and "4 skipped" in result.stdout
    assert "skipped OAI page 1 record 1 (oai:arXiv.org:not-an-id): not an arXiv id" in result.stderr
    assert "skipped OAI page 1 record 5 (oai:arXiv.org:2611.00014): no title" in result.stderr
    assert stored_ids(store) == ["2611.00011"]


def test_unavailable_server_is_retried_after_its_retry_after(
    cli: Callable[..., CliResult], store: PaperStore, endpoint: OaiEndpoint
) -> None:
    busy = iter([Reply(503, "busy", {"Retry-After": "0"}, "text/plain")])
    plain = endpoint.__call__

    def flaky(seen: SeenRequest) -> Reply:
        if seen.query.get("resumptionToken") == [TOKEN_1]:
            reply = next(busy, None)
            if reply is not None:
                return reply
        return plain(seen)

    endpoint.server.route("/oai", flaky)
    result = cli("ingest", "oai", "--set", "cs", "--from", "2026-11-01")
    assert result.exit_code == 0, result.output
    tokens = [q.get("resumptionToken") for q in endpoint.requests()]
    assert tokens == [None, [TOKEN_1], [TOKEN_1], [TOKEN_2]]
    assert stored_ids(store) == sorted(ALL_IDS)


# -- killed and resumed: the real console script, SIGKILL ------------------------------------------


def start_harvest(env: dict[str, str], url: str, home: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [str(CONSOLE_SCRIPT), "ingest", "oai", "--set", "cs"],
        env=os.environ | env | {"PAPERBOARD_ARXIV_OAI_URL": url},
        cwd=home,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def kill_when_held(process: subprocess.Popen[str], oai: OaiEndpoint) -> None:
    """Wait until the harvest sits in the held request, then SIGKILL it."""
    deadline = time.monotonic() + 30
    while not oai.reached.wait(0.05):
        if process.poll() is not None or time.monotonic() > deadline:
            out, err = process.communicate(timeout=5) if process.poll() is not None else ("", "")
            process.kill()
            pytest.fail(
                f"harvest never reached the held request (exit {process.returncode}): {out}{err}"
            )
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=10)
    process.communicate(timeout=5)
    assert process.returncode == -signal.SIGKILL


def rerun(env: dict[str, str], url: str, home: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(CONSOLE_SCRIPT), "ingest", "oai", "--set", "cs"],
        env=os.environ | env | {"PAPERBOARD_ARXIV_OAI_URL": url},
        cwd=home,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_harvest_killed_after_page_two_resumes_from_page_three(
    env: dict[str, str], store: PaperStore, fake_server: FakeServer, home: Path
) -> None:
    oai = OaiEndpoint(fake_server)
    key = harvest_key(oai.url, "cs", None, None)
    oai.hold(TOKEN_2)  # the request for page 3 waits: pages 1 and 2 are stored by then

    kill_when_held(start_harvest(env, oai.url, home), oai)
    assert stored_ids(store) == sorted(PAGE_1_IDS | PAGE_2_IDS)
    assert store.harvest_state(key) == TOKEN_2
    oai.release()

    before = len(fake_server.requests)
    done = rerun(env, oai.url, home)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "resuming the interrupted harvest" in done.stderr
    assert oai.requests(before) == [{"verb": ["ListRecords"], "resumptionToken": [TOKEN_2]}]
    assert stored_ids(store) == sorted(ALL_IDS)
    assert store.harvest_state(key) is None
    last = store.recent_runs(1)[0]
    assert (last["status"], last["new"], last["updated"], last["unchanged"]) == ("ok", 2, 0, 0)
    with store.engine.connect() as connection:
        categories = connection.execute(text("SELECT count(*) FROM paper_categories")).scalar_one()
    assert categories == 12  # each paper's categories once: 3+1+2 + 1+2 + 1+2


def test_harvest_killed_before_its_first_page_starts_over(
    env: dict[str, str], store: PaperStore, fake_server: FakeServer, home: Path
) -> None:
    oai = OaiEndpoint(fake_server)
    key = harvest_key(oai.url, "cs", None, None)
    oai.hold(FIRST)

    kill_when_held(start_harvest(env, oai.url, home), oai)
    assert store.count() == 0
    assert store.harvest_state(key) is None
    oai.release()

    before = len(fake_server.requests)
    done = rerun(env, oai.url, home)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "resuming" not in done.stderr
    queries = oai.requests(before)
    assert queries[0] == {"verb": ["ListRecords"], "metadataPrefix": ["arXivRaw"], "set": ["cs"]}
    assert [q.get("resumptionToken") for q in queries[1:]] == [[TOKEN_1], [TOKEN_2]]
    assert stored_ids(store) == sorted(ALL_IDS)
    assert store.harvest_state(key) is None
    last = store.recent_runs(1)[0]
    assert (last["status"], last["new"], last["skipped"]) == ("ok", 7, 1)


# -- arbitrary input never escapes as anything but records, skips or SourceError -------------------


def _legal(char: str) -> bool:
    code = ord(char)
    return char in "\t\n\r" or 0x20 <= code <= 0xD7FF or 0xE000 <= code <= 0xFFFD or code >= 0x10000


xml_text = st.text(st.characters(codec="utf-8").filter(_legal), max_size=40)
XML_PIECES = st.sampled_from(
    [
        b"<",
        b">",
        b"&",
        b"&amp;",
        b"</record>",
        b"<record>",
        b' status="deleted"',
        b"<metadata>",
        b"</arXivRaw>",
        b"<resumptionToken>",
        b'cursor="-1"',
        b"\x00",
        b"\xff",
        b"]]>",
        b"<!--",
        b'<version version="v0">',
        b'<error code="badVerb">x</error>',
        b"v999999",
        b"&s;",
        b"&#10;",
        b'<error code="noRecordsMatch"/>',
    ]
)


@st.composite
def mutated_pages(draw: st.DrawFn) -> bytes:
    body = bytearray(draw(st.sampled_from([PAGE_1, PAGE_2, PAGE_3])))
    for _ in range(draw(st.integers(1, 4))):
        start = draw(st.integers(0, len(body)))
        end = draw(st.integers(start, min(len(body), start + 60)))
        replacement = draw(st.one_of(XML_PIECES, st.binary(max_size=8), xml_text.map(str.encode)))
        body[start:end] = replacement
    return bytes(body)


VERSION_LABELS = st.one_of(st.sampled_from(["v1", "v2", "v999", "v1000", "0"]), xml_text)
VERSION_DATES = st.one_of(
    st.sampled_from(
        [
            "Mon, 2 Nov 2026 17:50:03 GMT",
            "Mon, 1 Jan 0001 00:00:00 +0100",
            "9999-12-31T23:59:59-05:00",
        ]
    ),
    xml_text,
)
IDENTIFIERS = st.one_of(
    st.sampled_from(["2611.00001", "cs/0112017v2", "2611.99999v1000"]), xml_text
)
RAW_FIELDS = (
    "title",
    "authors",
    "categories",
    "comments",
    "journal-ref",
    "doi",
    "report-no",
    "license",
    "abstract",
    "submitter",
)


@st.composite
def arbitrary_record(draw: st.DrawFn) -> str:
    """A well-formed record whose every value is arbitrary text."""
    versions = "".join(
        f"<version version={quoteattr(draw(VERSION_LABELS))}>"
        f"<date>{escape(draw(VERSION_DATES))}</date></version>"
        for _ in range(draw(st.integers(0, 3)))
    )
    fields = "".join(
        f"<{name}>{escape(value)}</{name}>"
        for name in RAW_FIELDS
        if (value := draw(st.one_of(st.none(), xml_text))) is not None
    )
    ident = escape(draw(IDENTIFIERS))
    status = draw(st.sampled_from(["", ' status="deleted"']))
    return (
        f"<record><header{status}><identifier>oai:arXiv.org:{ident}</identifier></header>"
        f'<metadata><arXivRaw xmlns="http://arxiv.org/OAI/arXivRaw/"><id>{ident}</id>'
        f"{versions}{fields}</arXivRaw></metadata></record>"
    )


@st.composite
def arbitrary_records(draw: st.DrawFn) -> bytes:
    """A well-formed ListRecords page of arbitrary records and resumption token."""
    records = "".join(draw(st.lists(arbitrary_record(), max_size=3)))
    token = draw(st.one_of(st.none(), xml_text))
    cursor = draw(st.one_of(st.none(), xml_text, st.integers().map(str)))
    attributes = "" if cursor is None else f" cursor={quoteattr(cursor)}"
    resumption = (
        "" if token is None else (f"<resumptionToken{attributes}>{escape(token)}</resumptionToken>")
    )
    return (
        '<OAI-PMH xmlns="http://www.openarchives.org/OAI/2.0/"><ListRecords>'
        f"{records}{resumption}</ListRecords></OAI-PMH>"
    ).encode()


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(st.binary(max_size=300), mutated_pages(), arbitrary_records()))
def test_page_parser_survives_arbitrary_input(body: bytes) -> None:
    try:
        page = parse_page(body, page=7)
    except SourceError as error:
        assert str(error) and "\n" not in str(error)
        return
    assert page.token is None or (isinstance(page.token, str) and page.token.strip() == page.token)
    for item in page.items:
        assert isinstance(item, (PaperRecord, Skip))
        if isinstance(item, Skip):
            assert item.where.startswith("OAI page 7 record ")
            continue
        assert item.id and item.title and item.title.strip()
        assert item.version is None or 1 <= item.version <= 999
        assert all(len(c) <= 40 for c in item.categories or [])
        prepare(item)  # the importer's next step copes with whatever the parser lets through
