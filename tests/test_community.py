"""Upvotes, comments and submissions over real HTTP, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from conftest import FakeServer, Reply, Site
from sqlalchemy.exc import IntegrityError
from test_members import page_token, sign_up
from test_source_arxiv import entry_xml, feed_xml

from paperboard.core.records import PaperRecord

PAPER = "2505.13308"


def upvotes(site: Site, paper_id: str = PAPER) -> int:
    return int(site.services.papers.get(paper_id)["total_upvotes"])


def test_upvote_once_per_member_and_take_it_back(site: Site) -> None:
    before = upvotes(site)
    with site.client() as client:
        sign_up(client)
        token = page_token(client, f"/papers/{PAPER}")
        for _ in range(2):  # the second is a no-op: one upvote per member
            assert (
                client.post(f"/papers/{PAPER}/upvote", data={"csrf_token": token}).status_code
                == 303
            )
        assert upvotes(site) == before + 1
        page = client.get(f"/papers/{PAPER}")
        assert 'aria-pressed="true"' in page.text
        client.post(f"/papers/{PAPER}/upvote", data={"csrf_token": token, "action": "remove"})
        assert upvotes(site) == before
    with site.client() as other:
        sign_up(other, email="bob@example.org", name="Bob")
        other.post(f"/papers/{PAPER}/upvote", data={"csrf_token": page_token(other, "/")})
    assert upvotes(site) == before + 1


def test_the_database_itself_refuses_a_second_vote(site: Site) -> None:
    from sqlalchemy import insert

    from paperboard.store.schema import Vote

    with site.client() as client:
        sign_up(client)
    site.services.community.upvote(1, PAPER)
    with pytest.raises(IntegrityError), site.services.papers.engine.begin() as connection:
        connection.execute(
            insert(Vote.__table__).values(member_id=1, paper_id=PAPER, created_at=datetime.now(UTC))
        )


def test_upvotes_reorder_the_month_and_show_in_the_json_twin(site: Site) -> None:
    when = datetime(2019, 7, 5, 12, tzinfo=UTC)
    site.services.papers.write(
        [
            PaperRecord(
                id="1907.00001", source="hf", title="Popular", upvotes=2, published_at=when
            ),
            PaperRecord(
                id="1907.00002", source="hf", title="Overlooked", upvotes=0, published_at=when
            ),
        ]
    )
    month = "2019-07"
    listed = site.client().get(f"/papers/month/{month}.json").json()["papers"]
    assert [p["id"] for p in listed] == ["1907.00001", "1907.00002"]
    target = listed[-1]
    with site.client() as client:
        for n in range(listed[0]["upvotes"] - target["upvotes"] + 1):
            sign_up(client, email=f"voter{n}@example.org", name=f"Voter {n}")
            client.post(
                f"/papers/{target['id']}/upvote", data={"csrf_token": page_token(client, "/")}
            )
            client.post("/signout", data={"csrf_token": page_token(client, "/")})
    now = site.client().get(f"/papers/month/{month}.json").json()["papers"]
    assert now[0]["id"] == target["id"]
    assert now[0]["upvotes"] == listed[0]["upvotes"] + 1


def test_comments_render_markdown_safely_and_only_the_author_edits(site: Site) -> None:
    attack = (
        "**bold** <script>alert(1)</script> [x](javascript:alert(2)) <img src=x onerror=alert(3)> "
        "[a real link](https://example.org/paper)"
    )
    with site.client() as ada:
        sign_up(ada)
        token = page_token(ada, f"/papers/{PAPER}")
        response = ada.post(f"/papers/{PAPER}/comments", data={"csrf_token": token, "body": attack})
        assert response.status_code == 303
        page = ada.get(f"/papers/{PAPER}").text
        assert "<strong>bold</strong>" in page
        assert "<script>alert(1)" not in page and "&lt;script&gt;" in page
        assert 'href="javascript:' not in page and "<img" not in page
        assert (
            '<a href="https://example.org/paper" rel="nofollow ugc noopener">a real link</a>'
            in page
        )
        comment_id = site.services.community.comments(PAPER)[0]["id"]
        edited = ada.post(
            f"/comments/{comment_id}/edit", data={"csrf_token": token, "body": "Edited _text_"}
        )
        assert edited.status_code == 303
        assert "<em>text</em>" in ada.get(f"/papers/{PAPER}").text
    with site.client() as bob:
        sign_up(bob, email="bob@example.org", name="Bob")
        token = page_token(bob, f"/papers/{PAPER}")
        assert bob.get(f"/comments/{comment_id}/edit").status_code == 403
        assert (
            bob.post(
                f"/comments/{comment_id}/edit", data={"csrf_token": token, "body": "hijacked"}
            ).status_code
            == 403
        )
        assert (
            bob.post(f"/comments/{comment_id}/delete", data={"csrf_token": token}).status_code
            == 403
        )
    assert site.services.community.comments(PAPER)[0]["body"] == "Edited _text_"


def test_moderators_delete_any_comment(site: Site) -> None:
    with site.client() as ada:
        sign_up(ada)
        ada.post(
            f"/papers/{PAPER}/comments",
            data={"csrf_token": page_token(ada, f"/papers/{PAPER}"), "body": "spam"},
        )
    comment_id = site.services.community.comments(PAPER)[0]["id"]
    with site.client() as mod:
        sign_up(mod, email="mod@example.org", name="Mod")
        site.services.members.set_role(2, "moderator")
        response = mod.post(
            f"/comments/{comment_id}/delete",
            data={"csrf_token": page_token(mod, f"/papers/{PAPER}")},
        )
        assert response.status_code == 303
    assert site.services.community.comments(PAPER) == []
    assert site.services.papers.get(PAPER)["comment_count"] == 0


def test_oversized_and_empty_comments_are_refused(site: Site) -> None:
    with site.client() as client:
        sign_up(client)
        token = page_token(client, f"/papers/{PAPER}")
        too_long = client.post(
            f"/papers/{PAPER}/comments", data={"csrf_token": token, "body": "x" * 10_001}
        )
        assert too_long.status_code == 422
        huge = client.post(
            f"/papers/{PAPER}/comments", data={"csrf_token": token, "body": "x" * 200_000}
        )
        assert huge.status_code == 413 and "request too large" in huge.text
        blank = client.post(f"/papers/{PAPER}/comments", data={"csrf_token": token, "body": "   "})
        assert blank.status_code == 400
    assert site.services.community.comments(PAPER) == []


# -- submissions --------------------------------------------------------------------------------


def recent(days: int) -> str:
    return (datetime.now(UTC) - timedelta(days=days)).strftime("%Y-%m-%dT%H:%M:%SZ")


def serve_fake_arxiv(site: Site, fake_server: FakeServer) -> FakeServer:
    """Point the site's submissions at a fake arXiv API that knows every id it is asked for."""
    fake_server.route(
        "/api/query",
        lambda seen: Reply(
            200,
            feed_xml(
                [
                    entry_xml(
                        i,
                        title=f"Fresh paper {i}",
                        published=recent(2 if i.startswith("2611.0") else 90),
                    )
                    for i in seen.query["id_list"][0].split(",")
                ],
                total=1,
            ),
        ),
    )
    site.services.settings = site.services.settings.model_copy(
        update={"arxiv_api_url": f"{fake_server.url}/api/query", "submit_daily_quota": 2}
    )
    return fake_server


@pytest.fixture
def arxiv(site: Site, fake_server: FakeServer) -> FakeServer:
    return serve_fake_arxiv(site, fake_server)


def submit(client: Any, paper: str) -> Any:
    return client.post(
        "/submit", data={"csrf_token": page_token(client, "/submit"), "paper": paper}
    )


def settle(client: Any, response: Any) -> dict[str, Any]:
    """A submission sent to arXiv (the submit answer's status page), once it has settled."""
    from test_submissions import settled

    assert response.status_code == 303 and response.headers["location"].startswith("/submissions/")
    return settled(client, response.headers["location"])


def test_submit_fetches_from_arxiv_and_puts_the_paper_on_todays_feed(
    site: Site, arxiv: FakeServer
) -> None:
    with site.client() as client:
        sign_up(client)
        response = submit(client, "https://arxiv.org/abs/2611.01234v1")
        assert settle(client, response)["paper_url"] == "/papers/2611.01234"
        today = datetime.now(UTC).date().isoformat()
        feed = client.get(f"/papers/date/{today}.json").json()
        assert [p["id"] for p in feed["papers"]] == ["2611.01234"]
        assert feed["papers"][0]["submitted_by"] == "Ada"
        again = submit(client, "2611.01234")  # already submitted: no second entry, no quota used
        assert again.status_code == 303 and again.headers["location"] == "/papers/2611.01234"
    assert len(arxiv.requests) == 1
    hits = (
        site.client()
        .get("/papers.json", params={"q": "Fresh paper 2611.01234", "mode": "lexical"})
        .json()
    )
    assert "2611.01234" in [p["id"] for p in hits["papers"]]


def test_submit_refuses_old_papers_bad_ids_and_over_quota(site: Site, arxiv: FakeServer) -> None:
    with site.client() as client:
        sign_up(client, "grace@example.org", "Grace")
        old = settle(client, submit(client, "2608.00001"))
        assert old["state"] == "failed" and "only papers from the last 30 days" in old["error"]
    with site.client() as client:
        sign_up(client)
        bad = submit(client, "not an id")  # refused before any look-up: no quota used
        assert bad.status_code == 400 and "arXiv" in bad.text
        assert settle(client, submit(client, "2611.00001"))["state"] == "fetched"
        assert settle(client, submit(client, "2611.00002"))["state"] == "fetched"
        over = submit(client, "2611.00003")
        assert over.status_code == 400 and "daily quota" in over.text
    assert site.services.papers.get("2611.00003") is None


def test_look_ups_arxiv_does_not_answer_count_against_the_quota(
    site: Site, fake_server: FakeServer
) -> None:
    """Audit finding 9: ids arXiv does not have were looked up without limit (45 outbound
    queries, the quota still at 0 of 10)."""
    fake_server.route("/api/query", Reply(200, feed_xml([], total=0)))
    site.services.settings = site.services.settings.model_copy(
        update={"arxiv_api_url": f"{fake_server.url}/api/query", "submit_daily_quota": 3}
    )
    with site.client() as client:
        sign_up(client)
        answers = [submit(client, f"2611.{n:05d}") for n in range(1, 9)]
        assert [a.status_code for a in answers] == [303] * 3 + [400] * 5
        assert all("arXiv has no paper" in settle(client, a)["error"] for a in answers[:3])
        assert all("daily quota" in a.text for a in answers[3:])
    assert len(fake_server.requests) == 3
    with site.client() as other:  # the quota is each member's own
        sign_up(other, "grace@example.org", "Grace")
        assert "arXiv has no paper" in settle(other, submit(other, "2611.00009"))["error"]
    assert len(fake_server.requests) == 4


def test_a_look_up_that_ends_in_a_submission_counts_once(site: Site, arxiv: FakeServer) -> None:
    with site.client() as client:
        sign_up(client)
        too_old = settle(client, submit(client, "2608.00001"))  # the look-up counts
        assert too_old["state"] == "failed"
        # counts as the submission:
        assert settle(client, submit(client, "2611.00001"))["state"] == "fetched"
        over = submit(client, "2611.00002")
        assert over.status_code == 400 and "daily quota" in over.text
    assert len(arxiv.requests) == 2


def test_submit_reports_a_dead_arxiv(site: Site, fake_server: FakeServer) -> None:
    fake_server.route("/api/query", Reply(503, "down"))
    site.services.settings = site.services.settings.model_copy(
        update={"arxiv_api_url": f"{fake_server.url}/api/query", "http_retries": 1}
    )
    with site.client() as client:
        sign_up(client)
        failed = settle(client, submit(client, "2611.01234"))
        assert failed["state"] == "failed"
        assert failed["error"].startswith("could not fetch 2611.01234 from arXiv")
