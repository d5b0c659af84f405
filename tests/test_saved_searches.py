"""Saved searches over real HTTP, on SQLite and PostgreSQL: saving one from the search page, the
member's list and its JSON twin, the private Atom and RSS feeds, the API with a personal token,
and webhooks posted to a receiver on loopback: one POST per new paper, a failed one retried later,
nothing sent twice, private addresses refused unless allowed; from code, the worker and the CLI.

One site serves the module (per database); each test uses a made-up word no other paper holds and
deletes its saved searches at the end, so that the others' webhooks never see its papers."""

from __future__ import annotations

import html
import json
import os
import re
import shutil
import threading
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, time, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import feedparser
import httpx
import pytest
from conftest import BACKENDS, CliResult, Site, _free_port, start_site
from sqlalchemy import update
from test_members import PASSWORD, form_token, sign_up

from paperboard.core.config import load_settings
from paperboard.core.passwords import hash_password
from paperboard.core.records import PaperRecord
from paperboard.index.indexer import SearchIndex, sync_lexical
from paperboard.present.container import Container
from paperboard.present.webhooks import (
    check_saved_searches,
    private_address,
    send_due,
    webhook_client,
)
from paperboard.store.schema import WebhookDelivery

# -- fixtures -------------------------------------------------------------------------------------


@pytest.fixture(scope="module", params=BACKENDS)
def site(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    model_cache: Path,
    demo_indexes: Path,
) -> Iterator[Site]:
    """The demo papers and their indexes, served once for the module, with webhooks allowed to
    post to loopback (where the test receivers are)."""
    from paperboard.sources.demo import DemoSource
    from paperboard.store.importer import run_import
    from paperboard.store.papers import PaperStore

    home = tmp_path_factory.mktemp("saved-home")
    server = None
    if request.param == "sqlite":
        database_url = f"sqlite:///{home / 'paperboard.db'}"
    else:
        server = request.getfixturevalue("postgres_server")
        name = "t_" + uuid.uuid4().hex[:12]
        server.admin(f"CREATE DATABASE {name}")
        database_url = server.url(name)
    port = _free_port()
    with pytest.MonkeyPatch.context() as patch:
        for variable in list(os.environ):
            if variable.startswith("PAPERBOARD_") and not variable.startswith("PAPERBOARD_TEST_"):
                patch.delenv(variable)
        patch.setenv("PAPERBOARD_HOME", str(home))
        patch.setenv("PAPERBOARD_DATABASE_URL", database_url)
        patch.setenv("PAPERBOARD_MODELS_DIR", str(model_cache))
        patch.setenv("PAPERBOARD_BASE_URL", f"http://127.0.0.1:{port}")
        patch.setenv("PAPERBOARD_PAGE_CACHE_SECONDS", "0")
        patch.setenv("PAPERBOARD_WEBHOOK_ALLOW_PRIVATE", "true")
        settings = load_settings()
        shutil.copytree(demo_indexes, settings.home / "index")
        store = PaperStore.open(settings)
        run_import(store, DemoSource(), processes=1)
        index = SearchIndex(settings)
        sync_lexical(store, index)
        index.lexical.close()
        store.close()
        app, uvicorn_server, thread = start_site(settings)
        yield Site(settings.base_url, settings, app)
        uvicorn_server.should_exit = True
        thread.join(timeout=10)
    if server is not None:
        server.admin(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


class Receiver:
    """A webhook receiver on loopback: keeps the JSON body and content type of each POST and
    answers with the next of ``statuses`` (200 once they run out, or ``always``)."""

    def __init__(self) -> None:
        self.posts: list[tuple[str, dict[str, Any]]] = []
        self.statuses: list[int] = []
        self.always: int | None = None
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                receiver.posts.append((self.headers.get("Content-Type", ""), json.loads(body)))
                status = receiver.statuses.pop(0) if receiver.statuses else receiver.always
                self.send_response(status or 200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(
            target=lambda: self._server.serve_forever(poll_interval=0.05), daemon=True
        ).start()

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}/hook"

    @property
    def bodies(self) -> list[dict[str, Any]]:
        return [body for _, body in self.posts]

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    found = Receiver()
    yield found
    found.close()


# -- helpers --------------------------------------------------------------------------------------


def paper(number: int, word: str, day: date, *, category: str = "cs.LG") -> PaperRecord:
    return PaperRecord(
        id=f"demo:saved-{word}-{number}",
        source="demo",
        title=f"On {word} number {number}",
        abstract=f"We study {word} in setting {number}.",
        authors=["Ada Lovelace", "Alan Turing"],
        categories=[category],
        published_at=datetime.combine(day, time(12), tzinfo=UTC),
    )


def add_papers(site: Site, *records: PaperRecord) -> None:
    site.services.papers.write(list(records))
    sync_lexical(site.services.papers, site.services.search_index())


def member(site: Site, email: str) -> tuple[int, str]:
    """A member made in the store (sign-ups per client are limited) and an API token of theirs."""
    created = site.services.members.create(email, email.split("@")[0], hash_password(PASSWORD))
    return created["id"], site.services.members.create_token(created["id"], "t")


def feed_ids(response: httpx.Response) -> list[str]:
    parsed = feedparser.parse(response.content)
    assert not parsed.bozo, parsed.bozo_exception
    return [entry.link.rsplit("/papers/", 1)[1] for entry in parsed.entries]


def run_once(site: Site, send_at: datetime | None = None) -> None:
    """One check and one send, as the worker's pass makes them; the send as if at ``send_at``
    (later: a retry is due)."""
    check_saved_searches(site.services)
    with webhook_client() as client:
        send_due(site.services, client, send_at)


# -- saving, listing, deleting --------------------------------------------------------------------


def test_save_from_the_search_page_and_manage_it_on_the_list(site: Site) -> None:
    with site.client() as anonymous:
        assert "Save this search" not in anonymous.get("/papers", params={"q": "diffusion"}).text
    with site.client() as ada:
        sign_up(ada, email="ada@example.org", name="Ada")
        results = ada.get(
            "/papers", params={"q": "diffusion", "mode": "lexical", "category": "", "code": "true"}
        ).text
        form = re.search(r'<form class="inline-form save-search".*?</form>', results, re.S)
        assert form, "no save form on the search page"
        fields = {
            name: html.unescape(value)
            for name, value in re.findall(
                r'<input type="hidden" name="([^"]+)" value="([^"]*)"', form.group(0)
            )
        }
        assert fields.pop("csrf_token")
        assert fields == {"q": "diffusion", "mode": "lexical", "code": "true"}
        token = form_token(form.group(0))
        saved = ada.post("/saved-searches", data={**fields, "csrf_token": token, "name": "Diff"})
        assert saved.status_code == 303 and saved.headers["location"] == "/saved-searches"
        [listed] = ada.get("/saved-searches.json").json()["saved_searches"]
        row = site.services.interests.saved_search(listed["id"])
        assert (listed["name"], listed["query"], listed["mode"]) == ("Diff", "diffusion", "lexical")
        assert listed["filters"] == {"code": True} and listed["webhook_url"] is None
        assert listed["feeds"] == {
            "atom": f"{site.url}/feeds/saved/{row['token']}.atom",
            "rss": f"{site.url}/feeds/saved/{row['token']}.rss",
        }
        page = ada.get("/saved-searches").text
        assert "Diff" in page and listed["feeds"]["atom"] in page
        ran = ada.get(listed["url"] + "&p=1")
        assert ran.status_code == 200 and "result" in ran.text
        again = ada.post("/saved-searches", data={**fields, "csrf_token": token, "name": "Diff"})
        assert again.status_code == 409 and "already have a saved search" in again.text
        unnamed = ada.post("/saved-searches", data={**fields, "csrf_token": token, "name": " "})
        assert unnamed.status_code == 400

        hook = f"/saved-searches/{listed['id']}/webhook"
        for bad, says in (
            ("ftp://example.org/x", "http:// or https://"),
            ("https://example.org/" + "a" * 2000, "at most 2,000 characters"),
            ("not a url", "spaces"),
        ):
            refused = ada.post(hook, data={"csrf_token": token, "webhook_url": bad})
            assert refused.status_code == 400 and says in refused.text
        good = "https://hooks.example.org/services/T0/B0/x"
        assert ada.post(hook, data={"csrf_token": token, "webhook_url": good}).status_code == 303
        assert ada.get("/saved-searches.json").json()["saved_searches"][0]["webhook_url"] == good
        assert ada.post(hook, data={"csrf_token": token, "webhook_url": ""}).status_code == 303
        assert ada.get("/saved-searches.json").json()["saved_searches"][0]["webhook_url"] is None
        assert ada.post(hook, data={"webhook_url": good}).status_code == 403  # no CSRF token

        with site.client() as bob:
            sign_up(bob, email="bob@example.org", name="Bob")
            listing = bob.get("/saved-searches").text
            assert "No saved searches yet" in listing
            theirs = {"csrf_token": form_token(listing)}
            delete = f"/saved-searches/{listed['id']}/delete"
            assert bob.post(delete, data=theirs).status_code == 404
            assert bob.post(hook, data={**theirs, "webhook_url": good}).status_code == 404
        assert ada.post(delete, data={"csrf_token": token}).status_code == 303
        assert ada.get("/saved-searches.json").json()["saved_searches"] == []
    assert httpx.get(listed["feeds"]["atom"]).status_code == 404


def test_the_list_needs_a_member(site: Site) -> None:
    with site.client() as anonymous:
        assert anonymous.get("/saved-searches").status_code == 303  # to sign in
        assert anonymous.get("/api/saved-searches").status_code == 401


# -- private feeds --------------------------------------------------------------------------------


def test_the_private_feed_lists_the_newest_matching_papers(site: Site) -> None:
    member_id, _ = member(site, "feeds@example.org")
    today = datetime.now(UTC).date()
    add_papers(
        site,
        paper(1, "quuxonium", date(2024, 1, 1)),
        paper(2, "quuxonium", date(2025, 3, 1)),
        paper(3, "quuxonium", date(2025, 2, 1)),
        paper(4, "quuxonium", date(2025, 4, 1), category="math.CO"),  # not in the category
        paper(5, "plainium", date(2025, 5, 1)),  # not the word
        # 55 papers over the last 55 days: the feed has the newest 50
        *(paper(10 + n, "plinkerdoodle", today - timedelta(days=n)) for n in range(55)),
    )
    interests = site.services.interests
    narrow = interests.save_search(member_id, "Q", "quuxonium", filters={"category": "cs.LG"})
    many = interests.save_search(member_id, "P", "plinkerdoodle", mode="dense")
    for fmt in ("atom", "rss"):
        response = httpx.get(f"{site.url}/feeds/saved/{narrow['token']}.{fmt}")
        assert response.status_code == 200 and fmt in response.headers["content-type"]
        assert feed_ids(response) == [f"demo:saved-quuxonium-{n}" for n in (2, 3, 1)]
    newest = feed_ids(httpx.get(f"{site.url}/feeds/saved/{many['token']}.rss"))
    assert newest == [f"demo:saved-plinkerdoodle-{10 + n}" for n in range(50)]
    parsed = feedparser.parse(httpx.get(f"{site.url}/feeds/saved/{narrow['token']}.atom").content)
    assert parsed.feed.title == "Q: papers about “quuxonium”"
    assert parsed.entries[0].title == "On quuxonium number 2"
    for token in ("no-such-token", "x" * 300, narrow["token"][:-1]):
        missing = httpx.get(f"{site.url}/feeds/saved/{token}.atom")
        assert missing.status_code == 404 and missing.json() == {
            "error": "no such saved search feed"
        }
    for saved in (narrow, many):
        interests.delete_saved_search(member_id, saved["id"])


# -- webhooks -------------------------------------------------------------------------------------


def test_a_webhook_gets_one_post_per_new_paper_and_never_twice(
    site: Site, receiver: Receiver
) -> None:
    member_id, _ = member(site, "hooks@example.org")
    add_papers(site, paper(1, "snarkleton", date(2025, 6, 1)))  # there before the search
    saved = site.services.interests.save_search(
        member_id, "Snark", "snarkleton", mode="hybrid", webhook_url=receiver.url
    )
    add_papers(
        site,
        paper(2, "snarkleton", date(2025, 6, 2)),
        paper(3, "snarkleton", date(2024, 1, 9)),  # an old paper, first stored now
        paper(4, "blorpington", date(2025, 6, 3)),
    )
    run_once(site)
    assert len(receiver.posts) == 2
    by_id = {body["paper"]["id"]: (kind, body) for kind, body in receiver.posts}
    assert set(by_id) == {"demo:saved-snarkleton-2", "demo:saved-snarkleton-3"}
    kind, body = by_id["demo:saved-snarkleton-2"]
    url = f"{site.url}/papers/demo:saved-snarkleton-2"
    assert kind == "application/json"
    assert body["text"] == body["content"] == body["body"]
    assert "On snarkleton number 2" in body["text"] and url in body["text"]
    assert body["saved_search"] == "Snark"
    assert body["paper"] == {
        "id": "demo:saved-snarkleton-2",
        "title": "On snarkleton number 2",
        "url": url,
        "authors": ["Ada Lovelace", "Alan Turing"],
        "abstract": "We study snarkleton in setting 2.",
        "published_at": "2025-06-02T12:00:00+00:00",
    }
    states = site.services.interests.deliveries_of(saved["id"])
    assert [(d["state"], d["attempts"]) for d in states] == [("sent", 1), ("sent", 1)]

    run_once(site)  # nothing new: nothing sent again
    run_once(site, datetime.now(UTC) + timedelta(days=2))
    assert len(receiver.posts) == 2
    add_papers(site, paper(5, "snarkleton", date(2025, 6, 5)))
    run_once(site)
    assert [body["paper"]["id"] for body in receiver.bodies[2:]] == ["demo:saved-snarkleton-5"]
    site.services.interests.delete_saved_search(member_id, saved["id"])


def test_a_failed_post_is_retried_later(site: Site, receiver: Receiver) -> None:
    member_id, _ = member(site, "retry@example.org")
    saved = site.services.interests.save_search(
        member_id, "Frob", "frobnicatrix", mode="lexical", webhook_url=receiver.url
    )
    add_papers(site, paper(1, "frobnicatrix", date(2025, 7, 1)))
    receiver.statuses = [500]
    run_once(site)
    [delivery] = site.services.interests.deliveries_of(saved["id"])
    assert (delivery["state"], delivery["attempts"]) == ("pending", 1)
    assert delivery["last_error"] == "HTTP 500 Internal Server Error"
    run_once(site)  # not due yet: no second POST
    assert len(receiver.posts) == 1
    run_once(site, datetime.now(UTC) + timedelta(minutes=2))
    assert len(receiver.posts) == 2 and receiver.bodies[0] == receiver.bodies[1]
    [delivery] = site.services.interests.deliveries_of(saved["id"])
    assert (delivery["state"], delivery["attempts"], delivery["last_error"]) == ("sent", 2, None)
    run_once(site, datetime.now(UTC) + timedelta(days=1))
    assert len(receiver.posts) == 2
    on_page = site.services.interests.deliveries_of(saved["id"])
    assert on_page[0]["state"] == "sent"
    site.services.interests.delete_saved_search(member_id, saved["id"])


def test_private_addresses_are_refused_unless_allowed(site: Site, receiver: Receiver) -> None:
    member_id, _ = member(site, "private@example.org")
    saved = site.services.interests.save_search(
        member_id, "Loop", "wibblewort", mode="lexical", webhook_url=receiver.url
    )
    add_papers(site, paper(1, "wibblewort", date(2025, 8, 1)))
    strict = Container(
        site.settings.model_copy(update={"webhook_allow_private": False}), site.services.papers
    )
    check_saved_searches(strict)
    with webhook_client() as client:
        report = send_due(strict, client)
    assert (report.sent, report.retrying, report.failed) == (0, 1, 0)
    assert receiver.posts == []
    [delivery] = site.services.interests.deliveries_of(saved["id"])
    assert delivery["state"] == "pending"
    assert "127.0.0.1 is a non-public address" in (delivery["last_error"] or "")
    assert "PAPERBOARD_WEBHOOK_ALLOW_PRIVATE" in (delivery["last_error"] or "")
    for url in (
        "http://10.1.2.3/x",
        "http://[::1]:8080/",
        "http://localhost:9/",
        "http://169.254.1.1",
    ):
        assert private_address(url) is not None, url
    assert private_address("https://93.184.215.14/hook") is None
    site.services.interests.delete_saved_search(member_id, saved["id"])


# -- the API --------------------------------------------------------------------------------------


def test_the_api_with_a_personal_token(site: Site) -> None:
    _, token = member(site, "api@example.org")
    _, other_token = member(site, "other-api@example.org")
    api = site.client(headers={"Authorization": f"Bearer {token}"})
    other = site.client(headers={"Authorization": f"Bearer {other_token}"})
    assert api.get("/api/saved-searches").json() == []
    body = {"name": "Diffusion", "query": "diffusion", "mode": "lexical", "filters": {"code": True}}
    created = api.post("/api/saved-searches", json=body)
    assert created.status_code == 201
    saved = created.json()
    assert (saved["name"], saved["query"], saved["mode"]) == ("Diffusion", "diffusion", "lexical")
    assert saved["filters"] == {"code": True} and saved["webhook_url"] is None
    assert saved["deliveries"] == {"pending": 0, "sent": 0, "failed": 0, "recent": []}
    assert saved["feeds"]["rss"].startswith(f"{site.url}/feeds/saved/")
    assert httpx.get(saved["feeds"]["rss"]).status_code == 200
    for bad, status, says in (
        (body, 409, "already have a saved search"),
        ({"name": "A", "query": '"'}, 400, "nothing to search for"),
        ({"name": "B"}, 400, "needs words or filters"),
        ({"name": "C", "query": "x", "webhook_url": "ftp://example.org"}, 400, "https://"),
        ({"name": "D", "query": "x", "mode": "fuzzy"}, 422, "mode"),
        ({"name": "E", "query": "x", "filters": {"category": "no such"}}, 422, "category"),
        (
            {"name": "F", "query": "x", "filters": {"since": "2025-02-01", "until": "2025-01-01"}},
            400,
            "after its until day",
        ),
    ):
        refused = api.post("/api/saved-searches", json=bad)
        assert refused.status_code == status and says in refused.json()["error"], refused.text
    item = f"/api/saved-searches/{saved['id']}"
    assert api.get("/api/saved-searches").json() == [saved]
    assert api.get(item).json() == saved
    hook = "https://hooks.example.org/abc"
    changed = api.patch(item, json={"webhook_url": hook}).json()
    assert changed["webhook_url"] == hook and changed["checked_at"] > saved["checked_at"]
    renamed = api.patch(item, json={"name": "Renamed"}).json()
    assert (renamed["name"], renamed["webhook_url"]) == ("Renamed", hook)
    assert api.patch(item, json={"webhook_url": None}).json()["webhook_url"] is None
    assert api.patch(item, json={"name": "  "}).status_code == 400
    assert api.patch(item, json={"webhook_url": "http://x y"}).status_code == 400
    for call in (other.get, other.delete):
        assert call(item).status_code == 404
    assert other.patch(item, json={"name": "Mine"}).status_code == 404
    assert site.client().get(item).status_code == 401
    assert api.delete(item).json() == {"id": saved["id"], "deleted": True}
    assert api.get(item).status_code == 404 and api.delete(item).status_code == 404
    assert api.get("/api/saved-searches/0").status_code == 404
    api.close()
    other.close()


# -- the worker and the CLI -----------------------------------------------------------------------


def test_the_worker_and_the_cli_send_webhooks(
    cli: Callable[..., CliResult], monkeypatch: pytest.MonkeyPatch, receiver: Receiver
) -> None:
    from paperboard.present.worker import run_job

    monkeypatch.setenv("PAPERBOARD_WEBHOOK_ALLOW_PRIVATE", "true")
    settings = load_settings()

    def stored(*records: PaperRecord) -> None:
        with Container.open(settings) as app:
            app.papers.write(list(records))
            sync_lexical(app.papers, app.index)
            app.index.lexical.close()

    with Container.open(settings) as app:
        created = app.members.create("cli@example.org", "Cli", hash_password(PASSWORD))
        saved = app.interests.save_search(
            created["id"], "Blips", "blipvertz", mode="lexical", webhook_url=receiver.url
        )
    stored(paper(1, "blipvertz", date(2025, 9, 1)))
    dry = cli("webhooks", "send", "--dry-run")
    assert dry.exit_code == 0, dry.output
    assert "1 new papers would be queued for 1 saved searches; 0 deliveries are due" in dry.stdout
    assert receiver.posts == []

    result = run_job(settings, "webhooks", datetime.now(UTC))
    assert result.ok and result.summary == (
        "1 queued for 1 saved searches; 1 sent, 0 to retry, 0 failed"
    )
    assert [body["paper"]["id"] for body in receiver.bodies] == ["demo:saved-blipvertz-1"]
    quiet = cli("webhooks", "send")
    assert quiet.exit_code == 0 and "0 queued for 1 saved searches; 0 sent" in quiet.stdout

    receiver.always = 503
    stored(paper(2, "blipvertz", date(2025, 9, 2)))
    retrying = cli("webhooks", "send")
    assert retrying.exit_code == 0 and "1 sent" not in retrying.stdout
    assert "1 queued for 1 saved searches; 0 sent, 1 to retry, 0 failed" in retrying.stdout
    assert "HTTP 503" in retrying.stderr
    with Container.open(settings) as app, app.engine.begin() as connection:
        # the last try, due now (the store's back-off would wait six hours for it)
        connection.execute(
            update(WebhookDelivery.__table__)
            .where(WebhookDelivery.__table__.c.saved_search_id == saved["id"])
            .where(WebhookDelivery.__table__.c.state == "pending")
            .values(attempts=4, next_try_at=datetime.now(UTC) - timedelta(seconds=1))
        )
    failed = cli("webhooks", "send")
    assert failed.exit_code == 1, failed.output
    assert "0 sent, 0 to retry, 1 failed" in failed.stdout
    assert len(receiver.posts) == 3
    with Container.open(settings) as app:
        states = {d["paper_id"]: d["state"] for d in app.interests.deliveries_of(saved["id"])}
    assert states == {"demo:saved-blipvertz-1": "sent", "demo:saved-blipvertz-2": "failed"}
