"""Submissions that wait for arXiv, over real HTTP on SQLite and PostgreSQL: the submit answer
comes at once (while a fake arXiv holds its reply), the status page follows the submission from
queued to fetched or failed (with one sentence), only its member (or an admin) sees it, and the
worker fetches a submission the site left queued."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from conftest import FakeServer, Reply, SeenRequest, Site
from test_api_hf import member, token_client
from test_members import PASSWORD, page_token, sign_up
from test_source_arxiv import entry_xml, feed_xml


def recent(days: int = 2) -> str:
    return (datetime.now(UTC) - timedelta(days=days)).strftime("%Y-%m-%dT%H:%M:%SZ")


def known_paper(seen: SeenRequest) -> Reply:
    """arXiv's answer for every id asked for: a paper first published two days ago."""
    ids = seen.query["id_list"][0].split(",")
    return Reply(
        200,
        feed_xml(
            [entry_xml(i, title=f"Fresh paper {i}", published=recent()) for i in ids],
            total=len(ids),
        ),
    )


class HeldArxiv:
    """A fake arXiv API whose replies wait until the test releases them."""

    def __init__(self, server: FakeServer) -> None:
        self.reached = threading.Event()
        self.released = threading.Event()
        server.route("/api/query", self._reply)

    def _reply(self, seen: SeenRequest) -> Reply:
        self.reached.set()
        self.released.wait(30)
        return known_paper(seen)


def use_arxiv(site: Site, server: FakeServer, monkeypatch: pytest.MonkeyPatch) -> None:
    url = f"{server.url}/api/query"
    monkeypatch.setenv("PAPERBOARD_ARXIV_API_URL", url)  # for the worker
    site.services.settings = site.services.settings.model_copy(
        update={"arxiv_api_url": url, "http_retries": 1}
    )


def submit(client: httpx.Client, paper: str) -> httpx.Response:
    return client.post(
        "/submit", data={"csrf_token": page_token(client, "/submit"), "paper": paper}
    )


def settled(client: httpx.Client, location: str) -> dict[str, Any]:
    """The submission's JSON twin once it is no longer queued (a wait, not a timing check)."""
    deadline = time.monotonic() + 60
    while True:
        data: dict[str, Any] = client.get(f"{location}.json").json()["submission"]
        if data["state"] != "queued" or time.monotonic() > deadline:
            return data
        time.sleep(0.05)


@pytest.fixture
def arxiv(site: Site, fake_server: FakeServer, monkeypatch: pytest.MonkeyPatch) -> FakeServer:
    fake_server.route("/api/query", known_paper)
    use_arxiv(site, fake_server, monkeypatch)
    return fake_server


def test_the_submit_answer_comes_while_arxiv_is_still_answering(
    site: Site, fake_server: FakeServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    held = HeldArxiv(fake_server)
    use_arxiv(site, fake_server, monkeypatch)
    try:
        with site.client() as client:
            sign_up(client)
            answer = submit(client, "https://arxiv.org/abs/2611.01234v1")
            assert answer.status_code == 303, answer.text
            location = answer.headers["location"]
            assert location.startswith("/submissions/")
            assert held.reached.wait(30), "the background task never asked arXiv"
            page = client.get(location)  # arXiv still holds its answer
            assert page.status_code == 200 and "Queued" in page.text
            assert '<meta http-equiv="refresh" content="3">' in page.text
            queued = client.get(f"{location}.json").json()["submission"]
            assert queued["state"] == "queued" and queued["arxiv_id"] == "2611.01234"
            assert site.services.papers.get("2611.01234") is None
            held.released.set()
            done = settled(client, location)
            assert done["state"] == "fetched" and done["error"] is None, done
            assert done["paper_url"] == "/papers/2611.01234" and done["tries"] == 1
            page = client.get(location)
            assert "Fetched" in page.text and 'http-equiv="refresh"' not in page.text
            assert 'href="/papers/2611.01234"' in page.text
            today = datetime.now(UTC).date().isoformat()
            feed = client.get(f"/papers/date/{today}.json").json()
            assert [(p["id"], p["submitted_by"]) for p in feed["papers"]] == [("2611.01234", "Ada")]
            again = submit(client, "2611.01234")  # now stored and submitted: straight to it
            assert again.headers["location"] == "/papers/2611.01234"
    finally:
        held.released.set()
    assert len(fake_server.requests) == 1
    hits = site.client().get("/papers.json", params={"q": "Fresh paper", "mode": "lexical"})
    assert "2611.01234" in [p["id"] for p in hits.json()["papers"]]


def test_asking_twice_while_queued_is_one_submission(
    site: Site, fake_server: FakeServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    held = HeldArxiv(fake_server)
    use_arxiv(site, fake_server, monkeypatch)
    try:
        with site.client() as client:
            sign_up(client)
            first = submit(client, "2611.01234")
            assert held.reached.wait(30)
            second = submit(client, "arXiv:2611.01234")
            assert second.headers["location"] == first.headers["location"]
            held.released.set()
            assert settled(client, first.headers["location"])["state"] == "fetched"
    finally:
        held.released.set()
    assert len(fake_server.requests) == 1


@pytest.mark.parametrize(
    ("reply", "sentence"),
    [
        (Reply(500, "oops", content_type="text/plain"), "could not fetch 2611.01234 from arXiv"),
        (Reply(200, feed_xml([], total=0)), "arXiv has no paper 2611.01234"),
        (Reply(200, "<feed><entry>cut sh"), "2611.01234"),
        (
            Reply(200, feed_xml([entry_xml("2611.01234", published=recent(90))], total=1)),
            "only papers from the last 30 days can be submitted",
        ),
    ],
    ids=["arxiv-500", "unknown-id", "malformed", "too-old"],
)
def test_a_failed_look_up_ends_failed_with_one_sentence(
    site: Site,
    fake_server: FakeServer,
    monkeypatch: pytest.MonkeyPatch,
    reply: Reply,
    sentence: str,
) -> None:
    fake_server.route("/api/query", reply)
    use_arxiv(site, fake_server, monkeypatch)
    with site.client() as client:
        sign_up(client)
        answer = submit(client, "2611.01234")
        assert answer.status_code == 303
        done = settled(client, answer.headers["location"])
        assert done["state"] == "failed", done
        assert sentence in done["error"] and "\n" not in done["error"]
        page = client.get(answer.headers["location"])
        assert 'role="alert"' in page.text and "Failed:" in page.text
        assert sentence in page.text and 'http-equiv="refresh"' not in page.text
    assert site.services.community.submission("2611.01234") is None


def test_only_the_member_and_admins_see_a_submission(site: Site, arxiv: FakeServer) -> None:
    with site.client() as ada:
        sign_up(ada)
        location = submit(ada, "2611.01234").headers["location"]
        assert settled(ada, location)["state"] == "fetched"
        number = location.rsplit("/", 1)[1]
        assert ada.get(f"/api/submissions/{number}").json()["state"] == "fetched"
    with site.client() as bob:
        sign_up(bob, "bob@example.org", "Bob")
        for path in (location, f"{location}.json", f"/api/submissions/{number}"):
            assert bob.get(path).status_code == 404, path
        assert bob.get("/submissions/999").status_code == 404
        assert site.client().get(location).status_code == 404  # nobody signed in
        bob_id = site.services.members.by_email("bob@example.org")["id"]
        site.services.members.set_role(bob_id, "admin")
        assert bob.get(f"{location}.json").json()["submission"]["state"] == "fetched"


def test_the_api_answers_202_with_the_submission_to_follow(site: Site, arxiv: FakeServer) -> None:
    _, token = member(site)
    with token_client(site, token) as api:
        answer = api.post("/api/papers/submit", json={"id": "2611.05555"})
        assert answer.status_code == 202, answer.text
        submission = answer.json()["submission"]
        assert (
            submission["state"] in ("queued", "fetched") and submission["arxiv_id"] == "2611.05555"
        )
        number = submission["url"].rsplit("/", 1)[1]
        deadline = time.monotonic() + 60
        while api.get(f"/api/submissions/{number}").json()["state"] == "queued":
            assert time.monotonic() < deadline, "the submission never left the queue"
            time.sleep(0.05)
        assert api.get(f"/api/submissions/{number}").json()["state"] == "fetched"
        known = api.post("/api/papers/submit", json={"id": "2611.05555"})
        assert known.status_code == 200 and known.json()["new"] is False


def test_the_worker_fetches_a_submission_the_site_left_queued(
    site: Site, arxiv: FakeServer, cli: Any
) -> None:
    with site.client() as client:
        sign_up(client)
    ada = site.services.members.by_email("ada@example.org")
    requests = site.services.submission_requests
    quota = {"quota": 10, "key": f"arxiv-lookup:member:{ada['id']}", "window": timedelta(days=1)}
    left = requests.queue(ada["id"], "2611.07777", **quota)  # the site stopped before fetching it
    busy = requests.queue(ada["id"], "2611.08888", **quota)
    assert left is not None and busy is not None
    assert requests.claim(busy["id"], datetime.now(UTC)) is not None  # a live site fetching it

    now = datetime.now(UTC)
    fresh = cli("worker", "--once", "--now", now.isoformat())  # left has just been queued
    assert "submissions" not in fresh.output
    assert requests.get(left["id"])["state"] == "queued"

    later = cli("worker", "--once", "--now", (now + timedelta(minutes=6)).isoformat())
    assert "ok  submissions: 2 fetched, 0 failed" in later.stdout, later.output
    assert requests.get(left["id"])["state"] == "fetched"
    assert requests.get(busy["id"])["state"] == "fetched"  # its fetch was abandoned
    today = datetime.now(UTC).date()
    assert site.services.community.submissions_on(ada["id"], today) == 2
    with site.client() as client:
        sign_up(client, "grace@example.org", "Grace")
        assert client.get(f"/submissions/{left['id']}").status_code == 404
    again = cli("worker", "--once", "--now", (now + timedelta(minutes=7)).isoformat())
    assert "submissions" not in again.output
    assert len(arxiv.requests) == 2


def test_an_export_holds_the_submissions_and_deleting_the_account_removes_them(
    site: Site, fake_server: FakeServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake_server.route("/api/query", Reply(200, feed_xml([], total=0)))
    use_arxiv(site, fake_server, monkeypatch)
    with site.client() as client:
        sign_up(client)
        location = submit(client, "2611.01234").headers["location"]
        assert settled(client, location)["state"] == "failed"
        exported = client.get("/account/export").json()["submission_requests"]
        assert [(r["arxiv_id"], r["state"]) for r in exported] == [("2611.01234", "failed")]
        assert exported[0]["error"] == "arXiv has no paper 2611.01234"
        number = int(location.rsplit("/", 1)[1])
        gone = client.post(
            "/account/delete", data={"csrf_token": page_token(client), "password": PASSWORD}
        )
        assert gone.status_code == 303
    assert site.services.submission_requests.get(number) is None
