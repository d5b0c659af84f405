"""The pages over real HTTP: feeds by day, week and month, trending, paper pages, search, the map,
their JSON twins, navigation, empty periods, bad input, and page weight."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
from conftest import CliResult, Site, _free_port, sqlite_only, start_site
from markupsafe import escape

from paperboard.core.config import load_settings
from paperboard.core.records import PaperRecord

PAPER = "2505.13308"


def feed_days(site: Site) -> list[date]:
    rows = site.services.papers.list_papers(date(1900, 1, 1), date(2100, 1, 1))
    return sorted({row["feed_date"] for row in rows if row["feed_date"]})


def test_home_shows_the_latest_day_with_the_seed_banner(site: Site) -> None:
    html = site.client().get("/").text
    latest = feed_days(site)[-1]
    assert latest.strftime("%B %-d, %Y") in html
    assert "Get trending papers in your email inbox!" in html and "Subscribe" in html
    twin = site.client().get("/.json").json()
    assert twin["period"] == latest.isoformat() and twin["kind"] == "date"
    assert twin["papers"] and all(p["feed_date"] == latest.isoformat() for p in twin["papers"])


def test_a_day_lists_its_papers_by_upvotes_with_what_the_seeds_show(site: Site) -> None:
    day = site.services.papers.get(PAPER)["feed_date"]
    data = site.client().get(f"/papers/date/{day}.json").json()
    votes = [p["upvotes"] for p in data["papers"]]
    assert votes == sorted(votes, reverse=True)
    entry = next(p for p in data["papers"] if p["id"] == PAPER)
    assert entry["title"] and entry["excerpt"] and entry["author_count"] > 0
    html = site.client().get(f"/papers/date/{day}").text
    assert entry["title"][:40] in html and f"{entry['author_count']} author" in html
    if entry["authors"]:  # the first three names, then "et al.", the full count in the title
        names = ", ".join(entry["authors"][:3]) + (" et al." if entry["author_count"] > 3 else "")
        assert str(escape(names)) in html and f'title="{entry["author_count"]} author' in html


def test_previous_and_next_skip_to_days_with_papers(site: Site) -> None:
    days = feed_days(site)
    if len(days) < 3:
        pytest.skip("the demo has too few days")
    middle = site.client().get(f"/papers/date/{days[1]}.json").json()
    assert middle["previous"] == f"/papers/date/{days[0]}"
    assert middle["next"] == f"/papers/date/{days[2]}"
    first = site.client().get(f"/papers/date/{days[0]}.json").json()
    assert first["previous"] is None


def test_weeks_months_and_empty_periods(site: Site) -> None:
    day = site.services.papers.get(PAPER)["feed_date"]
    year, week, _ = day.isocalendar()
    weekly = site.client().get(f"/papers/week/{year}-W{week:02d}.json").json()
    monthly = site.client().get(f"/papers/month/{day:%Y-%m}.json").json()
    assert PAPER in [p["id"] for p in weekly["papers"]] and PAPER in [
        p["id"] for p in monthly["papers"]
    ]
    assert weekly["total"] <= monthly["total"] or weekly["start"] < monthly["start"]
    empty = site.client().get("/papers/date/1999-01-01")
    assert empty.status_code == 200 and "No papers on this day" in empty.text


def test_category_filter(site: Site) -> None:
    when = datetime(2024, 3, 5, 12, tzinfo=UTC)
    site.services.papers.write(
        [
            PaperRecord(
                id="2403.00001",
                source="test",
                title="Learning",
                abstract="a",
                categories=["cs.LG", "stat.ML"],
                published_at=when,
            ),
            PaperRecord(
                id="2403.00002",
                source="test",
                title="Neurons",
                abstract="b",
                categories=["q-bio.NC"],
                published_at=when,
            ),
        ]
    )
    client = site.client()
    assert {p["id"] for p in client.get("/papers/date/2024-03-05.json").json()["papers"]} == {
        "2403.00001",
        "2403.00002",
    }
    for category, expected in [
        ("cs.LG", ["2403.00001"]),
        ("stat.ML", ["2403.00001"]),
        ("q-bio", ["2403.00002"]),
        ("math.AG", []),
    ]:
        data = client.get("/papers/date/2024-03-05.json", params={"category": category}).json()
        assert [p["id"] for p in data["papers"]] == expected, category
    html = client.get("/papers/date/2024-03-05", params={"category": "math.AG"}).text
    assert "No papers on this day in math.AG" in html


@pytest.mark.parametrize(
    ("path", "status", "message"),
    [
        ("/papers/date/2025-13-45", 400, "not a day"),
        ("/papers/week/2025-W99", 400, "no such week"),
        ("/papers/month/May", 400, "not a month"),
        ("/papers/9999.99999", 404, "no paper"),
        ("/papers/date/2025-05-20?p=0", 422, "bad p"),
        ("/papers/date/2025-05-20?category=%3Cscript%3E", 422, "bad category"),
        ("/no/such/page", 404, "no such page"),
    ],
)
@sqlite_only  # refused while reading the address (or an id no engine holds): the message's shape
def test_bad_input_gets_a_clear_message(site: Site, path: str, status: int, message: str) -> None:
    response = site.client().get(path)
    assert response.status_code == status
    assert message in response.text
    twin = site.client().get(
        path.split("?")[0] + ".json" + ("?" + path.split("?")[1] if "?" in path else "")
    )
    assert twin.status_code == status and message in twin.json()["error"]


def test_trending_shows_its_formula_and_scores(site: Site) -> None:
    data = site.client().get("/papers/trending.json").json()
    assert data["formula"] == "upvotes / (age in hours + 2) ^ 1.5"
    scores = [p["trending_score"] for p in data["papers"]]
    assert scores == sorted(scores, reverse=True) and scores[0] > 0
    about = site.client().get("/about").text
    assert "upvotes / (age in hours + 2) ^ 1.5" in about


def test_paper_page_has_everything(site: Site) -> None:
    client = site.client()
    html = client.get(f"/papers/{PAPER}").text
    row = site.services.papers.get(PAPER)
    assert row["title"][:30] in html and row["abstract"][:60] in html
    assert f"https://arxiv.org/abs/{PAPER}" in html and f"https://arxiv.org/pdf/{PAPER}" in html
    assert "Similar papers" in html and "Comments (0)" in html
    data = client.get(f"/papers/{PAPER}.json").json()
    assert data["paper"]["id"] == PAPER and len(data["similar"]) == 6
    assert PAPER not in [s["id"] for s in data["similar"]]
    assert data["map"] is not None and data["map"]["topic"]
    versioned = client.get(f"/papers/{PAPER}v2", follow_redirects=False)
    assert versioned.status_code == 301 and versioned.headers["location"] == f"/papers/{PAPER}"


def test_search_page_highlights_and_filters(site: Site) -> None:
    client = site.client()
    html = client.get("/papers", params={"q": "latent space"}).text
    assert "<mark>" in html
    data = client.get("/papers.json", params={"q": "latent space"}).json()
    assert data["papers"] and data["mode"] == "hybrid"
    lexical = client.get(
        "/papers.json", params={"q": "latent", "mode": "lexical", "code": "true"}
    ).json()
    assert all(p["links"]["code"] for p in lexical["papers"])
    jump = client.get(
        "/papers", params={"q": f"https://arxiv.org/abs/{PAPER}v1"}, follow_redirects=False
    )
    assert jump.status_code == 303 and jump.headers["location"] == f"/papers/{PAPER}"
    for bad in ('"unbalanced', "au:", "x" * 5000):
        response = client.get("/papers", params={"q": bad})
        assert response.status_code in (200, 400, 422), bad


@pytest.fixture
def site_without_vectors(
    env: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
    model_cache: Path,
    cli: Callable[..., CliResult],
) -> Iterator[Site]:
    """The site on the demo papers, searchable by words, before any ``paperboard index``."""
    monkeypatch.setenv("PAPERBOARD_MODELS_DIR", str(model_cache))
    monkeypatch.setenv("PAPERBOARD_BASE_URL", f"http://127.0.0.1:{_free_port()}")
    monkeypatch.setenv("PAPERBOARD_PAGE_CACHE_SECONDS", "0")
    assert cli("demo", "--seeds-only", "--quiet").exit_code == 0  # imports and indexes the words
    settings = load_settings()
    app, server, thread = start_site(settings)
    yield Site(settings.base_url, settings, app)
    server.should_exit = True
    thread.join(timeout=10)


def test_a_running_site_searches_by_meaning_once_paperboard_index_has_run(
    site_without_vectors: Site, cli: Callable[..., CliResult]
) -> None:
    site = site_without_vectors
    client = site.client()
    nowhere = {"q": "zebras grazing on the savanna", "mode": "dense"}  # no paper has these words

    def search(params: dict[str, str]) -> dict[str, Any]:
        response = client.get("/papers.json", params=params)
        assert response.status_code == 200
        return response.json()

    words = search({"q": "latent space"})
    assert words["papers"] and words["mode"] == "lexical"
    assert search(nowhere)["mode"] == "lexical" and not search(nowhere)["papers"]
    assert client.get(f"/api/papers/{PAPER}/similar").json() == []
    assert "embedder" not in site.services.index.__dict__  # the model is not loaded for words

    assert cli("index", "--quiet").exit_code == 0  # the same home, another SearchIndex
    deadline = time.monotonic() + 30  # the server looks at the vector files every 2 s
    while search({"q": "latent space"})["mode"] != "hybrid":
        assert time.monotonic() < deadline, "the running site never used the new vectors"
        time.sleep(0.1)
    meaning = search(nowhere)
    assert meaning["mode"] == "dense" and meaning["papers"]
    similar = client.get(f"/api/papers/{PAPER}/similar").json()
    assert similar and all(isinstance(s["similarity"], float) for s in similar)


def test_map_page_draws_the_map_and_highlights_a_search(site: Site) -> None:
    html = site.client().get("/map", params={"q": "latent"}).text
    assert "<svg" in html and 'class="highlighted"' in html
    data = site.client().get("/map.json", params={"q": "latent"}).json()
    assert data["available"] and data["topics"] and data["highlighted"]


@pytest.mark.parametrize(
    "path",
    [
        "/",
        "/papers/trending",
        f"/papers/{PAPER}",
        "/papers?q=latent+space",
        "/map",
        "/signin",
        "/about",
    ],
)
@sqlite_only  # the weight of the markup around rows both engines hand back alike
def test_pages_stay_small(site: Site, path: str) -> None:
    response = site.client().get(path)
    assert response.status_code == 200
    css = site.client().get("/static/style.css")
    assert len(response.content) + len(css.content) < 200_000, (
        f"{path}: {len(response.content):,} bytes"
    )


def test_pages_link_their_feeds_and_json_twins(site: Site) -> None:
    day = site.services.papers.get(PAPER)["feed_date"]
    html = site.client().get(f"/papers/date/{day}").text
    assert (
        '<link rel="alternate" type="application/rss+xml" title="This page as RSS" '
        f'href="/feeds/date/{day}.xml">' in html
    )
    assert 'type="application/json"' in html


@sqlite_only  # the API's description, built from no stored rows
def test_openapi_docs_are_served(site: Site) -> None:
    schema = site.client().get("/openapi.json").json()
    for path in ("/api/daily_papers", "/api/papers/search", "/api/papers/{paper_id}"):
        assert path in schema["paths"], path
    assert site.client().get("/docs").status_code == 200


ERROR = {"error": {"type": "string"}}


def _answers(schema: dict, path: str, method: str = "get") -> dict:
    return schema["paths"][path][method]["responses"]


@sqlite_only  # the API's description, built from no stored rows
def test_openapi_tells_pages_redirects_and_errors_as_they_are(site: Site) -> None:
    schema = site.client().get("/openapi.json").json()
    paper = _answers(schema, "/papers/{paper_id}")
    assert set(paper["200"]["content"]) == {"text/html", "application/json"}
    assert set(paper) >= {"200", "301", "404"}
    body = paper["404"]["content"]["application/json"]["schema"]
    assert body["required"] == ["error"] and body["properties"]["error"]["type"] == "string"
    # The error body really is that shape, on a page's twin and on the API.
    assert set(site.client().get("/papers/9999.99999.json").json()) == {"error"}
    api = _answers(schema, "/api/papers/{paper_id}")
    assert "text/html" not in api["404"]["content"] and "422" not in api
    assert set(site.client().get("/api/papers/9999.99999").json()) == {"error"}
    signout = _answers(schema, "/signout", "post")
    assert "200" not in signout and "Location" in signout["303"]["headers"]
    assert "403" in signout  # the CSRF check
    assert {"303", "403", "404"} <= set(_answers(schema, "/comments/{comment_id}/edit"))
    assert {"202", "401", "429"} <= set(_answers(schema, "/api/papers/submit", "post"))
    assert "429" in _answers(schema, "/signin", "post")
    daily = _answers(schema, "/api/daily_papers")
    assert daily["422"]["content"]["application/json"]["schema"]["properties"]["error"]
    assert set(site.client().get("/api/daily_papers?limit=0").json()) == {"error"}
    feed = _answers(schema, "/feeds/trending.xml")
    assert set(feed["200"]["content"]) == {"application/rss+xml", "application/atom+xml"}
    assert "HTTPValidationError" not in str(schema)


@sqlite_only  # the API's description, built from no stored rows
def test_docs_load_only_same_origin_assets(site: Site) -> None:
    import re

    with site.client() as client:
        docs = client.get("/docs")
        assert docs.status_code == 200
        assert "http://" not in docs.text and "https://" not in docs.text
        assets = re.findall(r'(?:src|href)="([^"]+)"', docs.text)
        assert len(assets) >= 3, assets  # the script, the style sheet, the icon
        for asset in assets:
            assert asset.startswith("/") and not asset.startswith("//"), asset
            assert client.get(asset).status_code == 200, asset
        assert client.get("/redoc").status_code == 404


def test_the_documented_trending_formula_is_the_one_computed() -> None:
    from pathlib import Path

    from paperboard.rank import trending

    text = (Path(__file__).resolve().parent.parent / "docs" / "site.md").read_text()
    assert f"score = {trending.FORMULA}" in text
    assert f"last {trending.WINDOW_DAYS} days" in text
