"""Many clients at once over real HTTP, on SQLite and PostgreSQL: no request fails with a server
error, stored counts equal the operations that succeeded, and limits (sign-in failures, the daily
submission quota) hold however many requests arrive together."""

from __future__ import annotations

import os
import random
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx
from conftest import FakeServer, Site
from sqlalchemy import insert
from test_community import serve_fake_arxiv
from test_members import PASSWORD, form_token

from paperboard.core.passwords import hash_password
from paperboard.store.database import write_connection
from paperboard.store.schema import PaperCounts, table_of

CLIENTS = 64
# A short load in the suite; the audit ran PAPERBOARD_LOAD_SECONDS=20 PAPERBOARD_LOAD_AUTH=token.
SECONDS = float(os.environ.get("PAPERBOARD_LOAD_SECONDS", "4"))
AUTH = os.environ.get("PAPERBOARD_LOAD_AUTH", "mixed")  # mixed, token or session
_HASH = hash_password(PASSWORD)


@dataclass
class Identity:
    member_id: int
    options: dict[str, Any]  # httpx.Client options: a session cookie or an API token


def make_members(site: Site, count: int, prefix: str = "m") -> list[Identity]:
    """``count`` members, every other one calling with a session cookie (and its CSRF header),
    the rest with a personal API token (all of them one way with ``PAPERBOARD_LOAD_AUTH``)."""
    members = site.services.members
    identities = []
    for i in range(count):
        member = members.create(f"{prefix}{i}@example.org", f"{prefix}{i}", _HASH)
        if AUTH == "token" or (AUTH == "mixed" and i % 2):
            token = members.create_token(member["id"], "load")
            options: dict[str, Any] = {"headers": {"Authorization": f"Bearer {token}"}}
        else:
            cookie, csrf = members.start_session(member["id"], timedelta(days=1))
            options = {"cookies": {"pb_session": cookie}, "headers": {"X-CSRF-Token": csrf}}
        identities.append(Identity(member["id"], options))
    return identities


def together(count: int, work: Callable[[int, threading.Barrier], Any]) -> list[Any]:
    """Run ``work(i, barrier)`` in ``count`` threads; each waits on the barrier before its first
    request. Returns what each returned, in order."""
    barrier = threading.Barrier(count)
    results: list[Any] = [None] * count
    failures: list[BaseException] = []

    def run(i: int) -> None:
        try:
            results[i] = work(i, barrier)
        except BaseException as error:  # reported below, with the thread's traceback lost
            failures.append(error)
            barrier.abort()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not failures, failures[:3]
    return results


def feed_papers(site: Site, count: int) -> list[str]:
    rows = site.services.papers.list_papers(date(1990, 1, 1), date(2100, 1, 1), limit=count)
    assert len(rows) == count
    return [row["id"] for row in rows]


def test_64_clients_with_cookies_and_tokens_get_no_server_errors(site: Site) -> None:
    identities = make_members(site, CLIENTS // 2)
    papers = feed_papers(site, 3)
    operations = ["upvote", "unvote", "comment", "me", "page", "subscribe"]

    def call(client: httpx.Client, operation: str, paper: str, n: str, rng: Any) -> Any:
        if operation == "upvote":
            return client.post(f"/api/papers/{paper}/upvote")
        if operation == "unvote":
            return client.delete(f"/api/papers/{paper}/upvote")
        if operation == "comment":
            return client.post(f"/api/papers/{paper}/comments", json={"body": f"note {n}"})
        if operation == "me":
            return client.get("/api/me")
        if operation == "page":
            return client.get(rng.choice([f"/papers/{paper}", "/", "/map"]))
        return client.post(
            "/subscribe", data={"email": f"reader{n}@example.org"}, headers={"Origin": site.url}
        )

    def client_loop(i: int, barrier: threading.Barrier) -> list[tuple[str, str, int, Any]]:
        identity = identities[i % len(identities)]
        rng = random.Random(i)
        done: list[tuple[str, str, int, Any]] = []
        with site.client(**identity.options) as client:
            barrier.wait()
            deadline = time.monotonic() + SECONDS
            n = 0
            while n == 0 or time.monotonic() < deadline:  # every client calls at least once
                n += 1
                paper = rng.choice(papers)
                operation = rng.choices(operations, weights=[4, 3, 2, 2, 2, 1])[0]
                try:
                    response = call(client, operation, paper, f"{i}.{n}", rng)
                except httpx.TransportError as error:  # the server dropped the connection
                    done.append((operation, paper, 599, repr(error)))
                    continue
                is_json = response.headers.get("content-type", "").startswith("application/json")
                body = response.json() if is_json else None
                done.append((operation, paper, response.status_code, body))
        return done

    per_client = together(CLIENTS, client_loop)
    results = [item for done in per_client for item in done]
    statuses = Counter(status for _, _, status, _ in results)
    writes = sum(1 for op, *_ in results if op in ("upvote", "unvote", "comment", "subscribe"))
    print(
        f"{len(results)} requests ({writes} writes) by {CLIENTS} clients ({AUTH}) in {SECONDS:g} s"
    )
    server_errors = [(op, status, body) for op, _, status, body in results if status >= 500]
    assert not server_errors, (
        f"{len(server_errors)} of {len(results)} requests failed",
        Counter(op for op, _, _ in server_errors),
        server_errors[:5],
    )

    votes: Counter[str] = Counter()
    comments: Counter[str] = Counter()
    for operation, paper, status, body in results:
        if operation in ("upvote", "unvote"):
            assert status == 200, (operation, status, body)
            if body["changed"]:
                votes[paper] += 1 if operation == "upvote" else -1
        elif operation == "comment":
            # 429 once a member has posted its 10 comments in 10 minutes (test_throttles.py).
            assert status in (201, 429), body
            if status == 201:
                comments[paper] += 1
        elif operation == "me":
            assert status == 200
    # The clients really did run at the same time: each got an answer, none a dropped connection.
    assert all(any(status < 599 for *_, status, _ in done) for done in per_client), statuses
    community = site.services.community
    for paper in papers:
        row = site.services.papers.get(paper)
        assert row is not None
        voters = sum(1 for who in identities if community.voted(who.member_id, [paper]))
        assert row["member_votes"] == voters == votes[paper], paper
        assert row["comment_count"] == len(community.comments(paper)) == comments[paper], paper
    subscribed = sum(1 for operation, _, _, _ in results if operation == "subscribe")
    assert len(site.services.digests.all()) == subscribed


def test_the_first_upvotes_of_a_paper_all_count(site: Site) -> None:
    identities = make_members(site, 32, prefix="v")
    paper = feed_papers(site, 1)[0]

    def upvote(i: int, barrier: threading.Barrier) -> int:
        with site.client(**identities[i].options) as client:
            barrier.wait()
            return client.post(f"/api/papers/{paper}/upvote").status_code

    assert together(32, upvote) == [200] * 32
    row = site.services.papers.get(paper)
    assert row is not None and row["member_votes"] == 32


def test_an_upvote_racing_another_transaction_for_the_first_counts(site: Site) -> None:
    """Another transaction inserts a paper's first counts and commits while an upvote waits on
    it: the upvote adds to that row instead of failing on the duplicate."""
    paper = feed_papers(site, 1)[0]
    voter = make_members(site, 1, prefix="r")[0]
    counts = table_of(PaperCounts)
    outcome: list[Any] = []
    with write_connection(site.services.papers.engine) as other, other.begin():
        other.execute(insert(counts).values(paper_id=paper, votes=1, comments=0))

        def upvote() -> None:
            try:
                outcome.append(site.services.community.upvote(voter.member_id, paper))
            except Exception as error:
                outcome.append(error)

        thread = threading.Thread(target=upvote)
        thread.start()
        time.sleep(0.5)  # the upvote is now waiting for the other transaction
    thread.join(timeout=30)
    assert outcome == [True]
    row = site.services.papers.get(paper)
    assert row is not None and row["member_votes"] == 2


def sign_in_together(site: Site, emails: list[str]) -> Counter[int]:
    """Wrong passwords for ``emails``, all sent at once from one browser; statuses counted."""
    with site.client() as client:
        token = form_token(client.get("/signin").text)
        anon = client.cookies["pb_anon"]

    def attempt(i: int, barrier: threading.Barrier) -> int:
        with site.client(cookies={"pb_anon": anon}) as client:
            barrier.wait()
            data = {"csrf_token": token, "email": emails[i], "password": "not the password"}
            return client.post("/signin", data=data).status_code

    return Counter(together(len(emails), attempt))


def test_concurrent_wrong_passwords_for_one_address_are_held_to_the_limit(site: Site) -> None:
    site.services.members.create("ada@example.org", "Ada", _HASH)
    limit = site.settings.login_attempts
    statuses = sign_in_together(site, ["ada@example.org"] * 40)
    assert statuses == {400: limit, 429: 40 - limit}  # 400: evaluated and wrong; 429: refused
    with site.client() as client:
        token = form_token(client.get("/signin").text)
        right = client.post(
            "/signin", data={"csrf_token": token, "email": "ada@example.org", "password": PASSWORD}
        )
        assert right.status_code == 429  # even the right password, until the window passes


def test_concurrent_wrong_passwords_from_one_client_are_held_to_its_limit(site: Site) -> None:
    limit = site.settings.login_attempts * 4
    statuses = sign_in_together(site, [f"guess{i}@example.org" for i in range(60)])
    assert statuses == {400: limit, 429: 60 - limit}


def test_concurrent_submissions_stay_within_the_daily_quota(
    site: Site, fake_server: FakeServer
) -> None:
    from test_submissions import settled

    serve_fake_arxiv(site, fake_server)
    site.services.settings = site.services.settings.model_copy(update={"submit_daily_quota": 10})
    member = site.services.members.create("ada@example.org", "Ada", _HASH)
    cookie, csrf = site.services.members.start_session(member["id"], timedelta(days=1))

    def submit(i: int, barrier: threading.Barrier) -> int:
        with site.client(cookies={"pb_session": cookie}) as client:
            barrier.wait()
            data = {"csrf_token": csrf, "paper": f"2611.0{i:04d}"}
            return client.post("/submit", data=data).status_code

    statuses = Counter(together(25, submit))
    assert statuses == {303: 10, 400: 15}
    with site.client(cookies={"pb_session": cookie}) as client:
        for number in range(1, 11):  # each queued look-up, fetched in the background
            assert settled(client, f"/submissions/{number}")["state"] == "fetched"
    today = datetime.now(UTC).date()
    assert site.services.community.submissions_on(member["id"], today) == 10


def test_clients_keep_working_while_token_use_is_noted(site: Site) -> None:
    """API token calls note when the token was last used, without a write on every call."""
    identity = make_members(site, 2, prefix="t")[1]
    with httpx.Client(base_url=site.url, **identity.options) as client:
        assert client.get("/api/me").status_code == 200
        first = site.services.members.tokens(identity.member_id)[0]["last_used_at"]
        assert first is not None
        assert client.get("/api/me").status_code == 200
        assert site.services.members.tokens(identity.member_id)[0]["last_used_at"] == first
