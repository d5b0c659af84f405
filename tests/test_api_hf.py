"""The JSON API over real HTTP. Hugging Face's own ``huggingface_hub`` client, unchanged and pointed
at the site, lists daily papers (by day, week, month, submitter; sorted, paged), reads one paper and
searches; our own calls (similar papers, upvotes, comments, submissions) work with a personal API
token; bad input gets a one-line JSON error."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import httpx
import pytest
from conftest import FakeServer, Site, sqlite_only
from huggingface_hub import HfApi
from huggingface_hub.errors import HfHubHTTPError
from huggingface_hub.hf_api import PaperAuthor, PaperInfo, User

from paperboard.core.passwords import hash_password
from paperboard.core.records import PaperRecord
from paperboard.index.indexer import sync_lexical

PAPER = "2505.13308"  # a demo paper: "Seek in the Dark ... Latent Space", 4 upvotes, 2025-05-19
DAY = date(2025, 9, 22)  # a Monday after the demo's newest day (2025-09-19)
PASSWORD = "correct horse battery"


def at(hour: int, minute: int = 0, second: int = 0, micro: int = 0) -> datetime:
    return datetime.combine(DAY, time(hour, minute, second, micro), UTC)


# Four papers on DAY, with author names (the demo papers have none) and distinct upvote counts.
RECORDS = [
    PaperRecord(
        id="2509.90001",
        source="test",
        title="Sparse Latent Atlases",
        abstract="We map latent atlases.",
        authors=["Ada Lovelace", "Alan Turing", "Grace Hopper"],
        categories=["cs.LG"],
        upvotes=7,
        published_at=at(8, 30, 15, 250_000),
        code_urls=["https://github.com/example/atlas"],
    ),
    PaperRecord(
        id="2509.90002",
        source="test",
        title="Quiet Gradients",
        abstract="Gradients, quietly.",
        authors=["Emmy Noether"],
        categories=["math.OC"],
        upvotes=12,
        published_at=at(17, 5),
    ),
    PaperRecord(
        id="2509.90003",
        source="test",
        title="Loud Gradients",
        abstract="Gradients, loudly.",
        authors=["Kurt Gödel", "Hedy Lamarr"],
        categories=["cs.LG"],
        upvotes=3,
        published_at=at(1),
    ),
    PaperRecord(
        id="2509.90004",
        source="test",
        title="An Unvoted Paper",
        abstract="Nobody voted yet.",
        authors=["Nobody Special"],
        categories=["cs.CL"],
        upvotes=0,
        published_at=at(12),
    ),
]


@pytest.fixture
def hf(site: Site, monkeypatch: pytest.MonkeyPatch) -> HfApi:
    """HF's client pointed at the site, with our test papers on DAY (the newest feed day)."""
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    site.services.papers.write(RECORDS)
    sync_lexical(site.services.papers, site.services.search_index())  # searchable by words at once
    return HfApi(endpoint=site.url, token=False)


def every_row(site: Site) -> list[dict[str, Any]]:
    return site.services.papers.list_papers(date(1, 1, 1), date(9999, 12, 31))


def by_upvotes(rows: list[dict[str, Any]]) -> list[str]:
    votes = [r["total_upvotes"] for r in rows]
    assert len(set(votes)) == len(votes), "the test data should have no ties"
    return [r["id"] for r in sorted(rows, key=lambda r: -r["total_upvotes"])]


def member(
    site: Site, name: str = "Ada Lovelace", email: str = "ada@example.org"
) -> tuple[dict[str, Any], str]:
    """A member and a personal API token of theirs."""
    created = site.services.members.create(email, name, hash_password(PASSWORD))
    return created, site.services.members.create_token(created["id"], "t")


def token_client(site: Site, token: str) -> httpx.Client:
    return site.client(headers={"Authorization": f"Bearer {token}"})


def midnight(day: date) -> datetime:
    return datetime.combine(day, time(), UTC)


# -- Hugging Face's client ------------------------------------------------------------------------


def test_daily_papers_default_to_the_newest_day_with_everything_the_client_reads(
    site: Site, hf: HfApi
) -> None:
    papers = list(hf.list_daily_papers())
    assert all(isinstance(p, PaperInfo) for p in papers)
    assert [p.id for p in papers] == [
        "2509.90002",
        "2509.90001",
        "2509.90003",
        "2509.90004",
    ]  # by upvotes
    stored = site.services.papers.get_many([p.id for p in papers])
    record = {r.id: r for r in RECORDS}
    for paper in papers:
        row = stored[paper.id]
        assert paper.title == record[paper.id].title
        assert paper.summary == record[paper.id].abstract
        assert paper.authors is not None and all(isinstance(a, PaperAuthor) for a in paper.authors)
        assert [a.name for a in paper.authors] == record[paper.id].authors
        assert paper.upvotes == row["total_upvotes"] == record[paper.id].upvotes  # 0 too, not None
        assert (
            paper.published_at == record[paper.id].published_at
        )  # the paper's own date, to the ms
        assert paper.submitted_at == midnight(DAY)  # the day it is on the feed
        assert paper.comments == 0 and paper.submitted_by is None
    atlas = next(p for p in papers if p.id == "2509.90001")
    assert atlas.published_at == datetime(2025, 9, 22, 8, 30, 15, 250_000, tzinfo=UTC)
    assert atlas.github_repo == "https://github.com/example/atlas"


def test_daily_papers_by_date_week_and_month(site: Site, hf: HfApi) -> None:
    on_day = list(hf.list_daily_papers(date="2025-05-19"))
    assert [p.id for p in on_day] == [PAPER]
    row = site.services.papers.get(PAPER)
    assert on_day[0].title == row["title"] and on_day[0].upvotes == row["total_upvotes"] == 4
    assert on_day[0].published_at == datetime(2025, 5, 19, tzinfo=UTC)

    rows = every_row(site)
    year, week, _ = DAY.isocalendar()
    weekly = [p.id for p in hf.list_daily_papers(week=f"{year}-W{week:02d}")]
    in_week = [r for r in rows if r["feed_date"].isocalendar()[:2] == (year, week)]
    assert weekly == by_upvotes(in_week)
    assert set(weekly) == {r.id for r in RECORDS}  # the demo's 2025-09-19 is the week before

    monthly = [p.id for p in hf.list_daily_papers(month="2025-09")]
    in_month = [r for r in rows if (r["feed_date"].year, r["feed_date"].month) == (2025, 9)]
    assert monthly == by_upvotes(in_month)
    assert len(monthly) == len(RECORDS) + 1  # and the demo's paper of 2025-09-19
    assert list(hf.list_daily_papers(date="1999-01-01")) == []


def test_daily_papers_sorted_and_paged(site: Site, hf: HfApi) -> None:
    rows = [r for r in every_row(site) if (r["feed_date"].year, r["feed_date"].month) == (2025, 9)]
    newest_first = [r["id"] for r in sorted(rows, key=lambda r: r["published_at"], reverse=True)]
    assert [p.id for p in hf.list_daily_papers(month="2025-09", sort="publishedAt")] == newest_first

    most_voted = by_upvotes(rows)
    pages = [[p.id for p in hf.list_daily_papers(month="2025-09", limit=2, p=n)] for n in range(4)]
    assert pages == [most_voted[0:2], most_voted[2:4], most_voted[4:6], []]
    assert [p.id for p in hf.list_daily_papers(month="2025-09", limit=3)] == most_voted[:3]


def trending_score(upvotes: int, feed_day: date, reference: datetime) -> float:
    """docs/site.md, "Trending": upvotes / (age in hours + 2) ^ 1.5, age from the start of the feed
    day."""
    hours = (reference - midnight(feed_day)).total_seconds() / 3600
    return upvotes / (hours + 2) ** 1.5


def test_trending_matches_the_formula_and_the_trending_page(site: Site, hf: HfApi) -> None:
    rows = every_row(site)
    newest = max(r["feed_date"] for r in rows)
    reference = min(datetime.now(UTC), midnight(newest + timedelta(days=1)))
    window = [r for r in rows if r["feed_date"] >= reference.date() - timedelta(days=14)]
    voted = sorted(
        (r for r in window if r["total_upvotes"] > 0),
        key=lambda r: -trending_score(r["total_upvotes"], r["feed_date"], reference),
    )
    unvoted = sorted(
        (r for r in window if r["total_upvotes"] == 0),
        key=lambda r: r["published_at"],
        reverse=True,
    )
    expected = [r["id"] for r in voted + unvoted]
    # The demo's 2025-09-19 paper (5 upvotes, three days older) trends below DAY's 3-upvote paper.
    zoning = "demo:latent-zoning-network-a-unified-principle-for-generative-mod"
    assert expected == ["2509.90002", "2509.90001", "2509.90003", zoning, "2509.90004"]

    trending = [p.id for p in hf.list_daily_papers(sort="trending")]
    assert trending == expected
    page = site.client().get("/papers/trending.json").json()
    assert [p["id"] for p in page["papers"]] == trending
    assert [p.id for p in hf.list_daily_papers(sort="trending", limit=2, p=1)] == expected[2:4]

    in_month = [r for r in rows if (r["feed_date"].year, r["feed_date"].month) == (2025, 9)]
    monthly = [p.id for p in hf.list_daily_papers(month="2025-09", sort="trending")]
    by_score = sorted(
        in_month, key=lambda r: -trending_score(r["total_upvotes"], r["feed_date"], reference)
    )
    assert monthly == [r["id"] for r in by_score]
    assert monthly != by_upvotes(in_month)  # the decay reorders: 5 older upvotes < 3 newer ones


def test_a_member_submitted_paper_names_its_submitter(site: Site, hf: HfApi) -> None:
    ada, _ = member(site)
    bob, _ = member(site, "Bob Ross", "bob@example.org")
    submitted_on = date(2025, 9, 24)
    assert site.services.community.submit(PAPER, ada["id"], ada["name"], submitted_on)
    assert site.services.community.submit("2509.90003", bob["id"], bob["name"], submitted_on)

    mine = list(hf.list_daily_papers(submitter="Ada Lovelace"))
    assert [p.id for p in mine] == [PAPER]
    assert isinstance(mine[0].submitted_by, User)
    assert (
        mine[0].submitted_by.username == "Ada Lovelace"
        and mine[0].submitted_by.fullname == "Ada Lovelace"
    )
    assert mine[0].submitted_at == midnight(submitted_on)
    assert mine[0].published_at == datetime(2025, 5, 19, tzinfo=UTC)  # still the paper's own date
    assert [p.id for p in hf.list_daily_papers(submitter="Bob Ross")] == ["2509.90003"]
    assert list(hf.list_daily_papers(submitter="Nobody")) == []
    assert [
        p.id for p in hf.list_daily_papers(submitter="Ada Lovelace", date=submitted_on.isoformat())
    ] == [PAPER]
    assert list(hf.list_daily_papers(submitter="Ada Lovelace", date="2025-05-19")) == []

    newest = list(hf.list_daily_papers())  # the submission day is now the newest feed day
    assert [p.id for p in newest] == [PAPER, "2509.90003"]  # 4 upvotes, then 3
    assert [p.submitted_by.username for p in newest] == ["Ada Lovelace", "Bob Ross"]

    info = hf.paper_info(PAPER)
    assert info.submitted_by is not None and info.submitted_by.username == "Ada Lovelace"
    assert info.submitted_at == midnight(submitted_on)


def test_paper_info_of_a_paper(site: Site, hf: HfApi) -> None:
    row = site.services.papers.get(PAPER)
    info = hf.paper_info(PAPER)
    assert info.id == PAPER
    assert info.title == row["title"] and info.title.startswith("Seek in the Dark")
    assert info.summary == row["abstract"] and "LatentSeek" in info.summary
    assert info.upvotes == row["total_upvotes"] == 4
    assert info.published_at == datetime(2025, 5, 19, tzinfo=UTC)
    assert info.submitted_at == midnight(row["feed_date"])
    assert info.comments == 0 and info.submitted_by is None
    assert info.github_repo == ((row["code_urls"] or [None])[0])

    atlas = hf.paper_info("2509.90001v2")  # any arXiv form of the id
    assert atlas.id == "2509.90001"
    assert [a.name for a in atlas.authors] == ["Ada Lovelace", "Alan Turing", "Grace Hopper"]
    assert all(isinstance(a, PaperAuthor) for a in atlas.authors)
    assert atlas.published_at == datetime(2025, 9, 22, 8, 30, 15, 250_000, tzinfo=UTC)


def test_paper_info_of_an_unknown_paper_raises_the_clients_error_with_our_message(
    hf: HfApi,
) -> None:
    with pytest.raises(HfHubHTTPError) as raised:
        hf.paper_info("9999.99999")
    assert raised.value.response.status_code == 404
    assert "no paper '9999.99999'" in str(raised.value)
    with pytest.raises(HfHubHTTPError) as raised:
        list(hf.list_daily_papers(date="2025-13-45"))
    assert raised.value.response.status_code == 400 and "not a day (YYYY-MM-DD)" in str(
        raised.value
    )


def test_search_papers(site: Site, hf: HfApi) -> None:
    found = list(hf.list_papers(query="latent space"))
    assert 0 < len(found) <= 20
    ids = [p.id for p in found]
    assert len(set(ids)) == len(ids)
    page = site.client().get("/papers.json", params={"q": "latent space"}).json()
    assert ids == [p["id"] for p in page["papers"]][: len(ids)]  # the site's own ranking
    stored = site.services.papers.get_many(ids)
    for paper in found:
        assert (
            paper.title == stored[paper.id]["title"]
            and paper.summary == stored[paper.id]["abstract"]
        )
        assert paper.upvotes == stored[paper.id]["total_upvotes"]
    assert "latent" in " ".join(p.title.lower() for p in found[:3])

    assert (
        next(p.id for p in hf.list_papers(query="LatentSeek")) == PAPER
    )  # a word only its abstract has
    assert [p.id for p in hf.list_papers(query="latent space", limit=3)] == ids[:3]
    atlas = list(hf.list_papers(query="atlases"))
    assert atlas and atlas[0].id == "2509.90001"
    assert [a.name for a in atlas[0].authors] == ["Ada Lovelace", "Alan Turing", "Grace Hopper"]


# -- our own calls, with a personal API token ------------------------------------------------------


def test_similar_papers(site: Site) -> None:
    client = site.client()
    similar = client.get(f"/api/papers/{PAPER}/similar", params={"limit": 6}).json()
    assert len(similar) == 6 and PAPER not in [s["paper"]["id"] for s in similar]
    page = client.get(f"/papers/{PAPER}.json").json()
    assert [s["paper"]["id"] for s in similar] == [s["id"] for s in page["similar"]]
    # Ranked by fused (embedding + words) evidence; "similarity" is the embeddings' cosine.
    assert [s["similarity"] for s in similar] == [s["similarity"] for s in page["similar"]]
    assert all(isinstance(s["similarity"], float) and 0 < s["similarity"] < 1 for s in similar)
    stored = site.services.papers.get_many([s["paper"]["id"] for s in similar])
    assert [s["title"] for s in similar] == [stored[s["paper"]["id"]]["title"] for s in similar]
    assert [
        s["paper"]["id"]
        for s in client.get(f"/api/papers/{PAPER}/similar", params={"limit": 2}).json()
    ] == [s["paper"]["id"] for s in similar[:2]]
    missing = client.get("/api/papers/9999.99999/similar")
    assert missing.status_code == 404 and missing.json() == {"error": "no paper '9999.99999'"}
    bad = client.get(f"/api/papers/{PAPER}/similar", params={"limit": 0})
    assert bad.status_code == 422 and bad.json()["error"].startswith("bad limit")


def test_upvote_and_take_it_back_with_a_token(site: Site, hf: HfApi) -> None:
    _, token = member(site)
    before = site.services.papers.get("2509.90003")["total_upvotes"]
    with token_client(site, token) as api:
        first = api.post("/api/papers/2509.90003/upvote")
        assert first.status_code == 200
        assert first.json() == {
            "id": "2509.90003",
            "upvoted": True,
            "changed": True,
            "upvotes": before + 1,
        }
        again = api.post(
            "/api/papers/2509.90003v1/upvote"
        )  # one vote per member, any form of the id
        assert again.json() == {
            "id": "2509.90003",
            "upvoted": True,
            "changed": False,
            "upvotes": before + 1,
        }
        assert site.services.papers.get("2509.90003")["total_upvotes"] == before + 1
        assert hf.paper_info("2509.90003").upvotes == before + 1
        assert {p.id: p.upvotes for p in hf.list_daily_papers()}["2509.90003"] == before + 1

        taken = api.delete("/api/papers/2509.90003/upvote")
        assert taken.json() == {
            "id": "2509.90003",
            "upvoted": False,
            "changed": True,
            "upvotes": before,
        }
        assert api.delete("/api/papers/2509.90003/upvote").json()["changed"] is False
        assert site.services.papers.get("2509.90003")["total_upvotes"] == before

        missing = api.post("/api/papers/9999.99999/upvote")
        assert missing.status_code == 404 and "no paper" in missing.json()["error"]

    anonymous = site.client().post("/api/papers/2509.90003/upvote")
    assert anonymous.status_code == 401 and anonymous.json() == {"error": "sign in first"}
    with token_client(site, "pb_not-a-real-token") as forged:
        refused = forged.post("/api/papers/2509.90003/upvote")
        assert refused.status_code == 401 and refused.json() == {
            "error": "that API token is not valid"
        }
    assert site.services.papers.get("2509.90003")["total_upvotes"] == before


def test_a_session_needs_the_csrf_header_but_a_token_does_not(site: Site) -> None:
    from test_members import page_token, sign_up

    with site.client() as browser:
        assert sign_up(browser).status_code == 303
        refused = browser.post(f"/api/papers/{PAPER}/upvote")
        assert refused.status_code == 403 and refused.json()["error"]
        assert site.services.papers.get(PAPER)["member_votes"] == 0
        token = page_token(browser, f"/papers/{PAPER}")
        done = browser.post(f"/api/papers/{PAPER}/upvote", headers={"X-CSRF-Token": token})
        assert done.status_code == 200 and done.json()["changed"] is True
    assert site.services.papers.get(PAPER)["member_votes"] == 1


def test_comment_with_a_token(site: Site, hf: HfApi) -> None:
    _, token = member(site)
    with token_client(site, token) as api:
        made = api.post(f"/api/papers/{PAPER}/comments", json={"body": "  Nice *result*  "})
        assert made.status_code == 201
        comment_id = made.json()["id"]
        assert made.json() == {"id": comment_id, "paper": PAPER}
        listed = api.get(f"/api/papers/{PAPER}/comments").json()
        assert [(c["id"], c["author"], c["body"]) for c in listed] == [
            (comment_id, "Ada Lovelace", "Nice *result*")
        ]
        created = datetime.strptime(listed[0]["createdAt"], "%Y-%m-%dT%H:%M:%S.%fZ").replace(
            tzinfo=UTC
        )
        assert (
            abs(created - datetime.now(UTC)) < timedelta(minutes=5)
            and listed[0]["editedAt"] is None
        )

        empty = api.post(f"/api/papers/{PAPER}/comments", json={"body": "   "})
        assert empty.status_code == 400 and empty.json() == {"error": "the comment is empty"}
        missing_body = api.post(f"/api/papers/{PAPER}/comments", json={})
        assert missing_body.status_code == 422 and "body" in missing_body.json()["error"]
        unknown = api.post("/api/papers/9999.99999/comments", json={"body": "hello"})
        assert unknown.status_code == 404 and "no paper" in unknown.json()["error"]

    assert site.services.papers.get(PAPER)["comment_count"] == 1
    assert hf.paper_info(PAPER).comments == 1
    assert [p.comments for p in hf.list_daily_papers(date="2025-05-19")] == [1]
    anonymous = site.client().post(f"/api/papers/{PAPER}/comments", json={"body": "drive-by"})
    assert anonymous.status_code == 401 and anonymous.json() == {"error": "sign in first"}
    assert len(site.services.community.comments(PAPER)) == 1


def test_submit_a_stored_paper_by_url_with_a_token(site: Site, hf: HfApi) -> None:
    ada, token = member(site)
    recent = datetime.now(UTC) - timedelta(days=2)
    site.services.papers.write(
        [
            PaperRecord(
                id="2611.00042",
                source="test",
                title="A Fresh Result",
                abstract="Brand new.",
                authors=["Ada Lovelace"],
                published_at=recent,
            )
        ]
    )
    with token_client(site, token) as api:
        answer = api.post("/api/papers/submit", json={"id": "https://arxiv.org/abs/2611.00042v2"})
        assert answer.status_code == 200, answer.text
        body = answer.json()
        assert body["new"] is True and body["paper"]["id"] == "2611.00042"
        assert body["paper"]["submittedOnDailyBy"]["user"] == "Ada Lovelace"
        again = api.post("/api/papers/submit", json={"id": "2611.00042"})
        assert again.status_code == 200 and again.json()["new"] is False
    today = datetime.now(UTC).date()
    newest = list(hf.list_daily_papers())
    assert [p.id for p in newest] == ["2611.00042"]
    assert newest[0].submitted_by.username == "Ada Lovelace" and newest[0].submitted_at == midnight(
        today
    )
    assert [p.id for p in hf.list_daily_papers(submitter="Ada Lovelace")] == ["2611.00042"]
    assert site.services.community.submissions_on(ada["id"], today) == 1


@pytest.mark.parametrize(
    ("payload", "status", "message"),
    [
        ({"id": "not a paper"}, 400, "not an arXiv id: 'not a paper'"),
        ({"id": "2505.13308v0"}, 400, "arXiv versions start at v1"),
        ({"id": PAPER}, 400, "only papers from the last 30 days can be submitted"),
        ({"id": ""}, 422, "bad id"),
        ({"paper": PAPER}, 422, "bad id"),
    ],
)
def test_submit_refuses_bad_input_with_a_json_error(
    site: Site, payload: dict[str, str], status: int, message: str
) -> None:
    _, token = member(site)
    with token_client(site, token) as api:
        response = api.post("/api/papers/submit", json=payload)
    assert response.status_code == status
    assert response.headers["content-type"].startswith("application/json")
    assert message in response.json()["error"]
    assert site.services.community.submission(PAPER) is None


def test_submit_needs_a_member_and_respects_the_quota(site: Site) -> None:
    anonymous = site.client().post("/api/papers/submit", json={"id": "2611.00042"})
    assert anonymous.status_code == 401 and anonymous.json() == {"error": "sign in first"}
    _, token = member(site)
    site.services.settings = site.settings.model_copy(update={"submit_daily_quota": 0})
    with token_client(site, token) as api:
        limited = api.post("/api/papers/submit", json={"id": "2611.00042"})
    assert limited.status_code == 429 and "daily quota" in limited.json()["error"]


def test_submit_of_an_unknown_paper_when_arxiv_fails(site: Site, fake_server: FakeServer) -> None:
    from test_submissions import settled

    site.services.settings = site.settings.model_copy(
        update={"arxiv_api_url": f"{fake_server.url}/api/query"}
    )
    _, token = member(site)
    with token_client(site, token) as api:
        response = api.post("/api/papers/submit", json={"id": "2611.99999"})
        assert response.status_code == 202  # not stored: fetched in the background
        status = settled(api, response.json()["submission"]["url"])
    assert status["state"] == "failed"
    assert status["error"].startswith("could not fetch 2611.99999 from arXiv")
    assert fake_server.requests and fake_server.requests[0].path == "/api/query"
    assert site.services.papers.get("2611.99999") is None


@pytest.mark.parametrize(
    ("query", "status", "message"),
    [
        ("limit=0", 422, "bad limit"),
        ("limit=101", 422, "bad limit"),
        ("p=-1", 422, "bad p"),
        ("date=garbage", 400, "not a day (YYYY-MM-DD): 'garbage'"),
        ("date=2025-05-20&week=2025-W21", 400, "give at most one of date, week and month"),
        ("week=2025-W21&month=2025-05", 400, "give at most one of date, week and month"),
        ("week=2025-W99", 400, "no such week"),
        ("week=21", 400, "not an ISO week"),
        ("month=2025-13", 400, "not a month"),
        ("sort=random", 422, "bad sort"),
    ],
)
@sqlite_only  # refused while reading the parameters, before any SQL
def test_bad_query_parameters_get_a_clear_json_error(
    site: Site, query: str, status: int, message: str
) -> None:
    response = site.client().get(f"/api/daily_papers?{query}")
    assert response.status_code == status
    assert response.headers["content-type"].startswith("application/json")
    assert list(response.json()) == ["error"] and message in response.json()["error"]


@sqlite_only  # refused while reading the parameters and the query, before any SQL
def test_search_with_bad_input(site: Site) -> None:
    client = site.client()
    assert client.get("/api/papers/search").json() == []
    only_exclusions = client.get("/api/papers/search", params={"q": "-latent"})
    assert (
        only_exclusions.status_code == 400 and "only exclusions" in only_exclusions.json()["error"]
    )
    for params, message in [
        ({"q": "latent", "limit": 0}, "bad limit"),
        ({"q": "latent", "mode": "magic"}, "bad mode"),
        ({"q": "x" * 1001}, "bad q"),
    ]:
        response = client.get("/api/papers/search", params=params)
        assert response.status_code == 422 and message in response.json()["error"]
