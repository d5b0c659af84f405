"""What the site answers besides its pages: /healthz for load balancers, robots.txt, the icon."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime, timedelta

from conftest import Site

from paperboard.core.records import PaperRecord


def test_healthz_reports_the_database_and_the_index(site: Site) -> None:
    with site.client() as client:
        answer = client.get("/healthz")
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["status"] == body["database"] == body["lexical_index"] == "ok"
    assert body["papers"] == site.services.papers.stats()["papers"] > 0
    assert body["indexed"] == body["papers"]
    assert answer.headers["cache-control"] == "no-store"


def test_healthz_fails_with_503_when_the_index_cannot_open(site: Site) -> None:
    folder = site.settings.home / "index" / "lexical"
    shutil.rmtree(folder)
    folder.write_text("not an index")  # a file where the index folder belongs
    with site.client() as client:
        answer = client.get("/healthz")
    assert answer.status_code == 503
    body = answer.json()
    assert body["status"] == "failing" and body["database"] == "ok"
    assert body["lexical_index"].startswith("failing: ")


def test_robots_and_favicon(site: Site) -> None:
    with site.client() as client:
        robots = client.get("/robots.txt")
        assert robots.status_code == 200 and robots.headers["content-type"].startswith("text/plain")
        assert "Disallow: /account" in robots.text and "Allow: /" in robots.text
        icon = client.get("/favicon.ico", follow_redirects=True)
        assert icon.status_code == 200 and icon.headers["content-type"] == "image/svg+xml"
        assert icon.text.startswith("<svg")
        home = client.get("/")
        assert 'rel="icon"' in home.text and "/static/favicon.svg" in home.text


def test_new_means_published_in_the_last_24_hours(site: Site) -> None:
    """Every paper of the latest day was "new", 2025 papers still in 2026-12 (issue 12)."""
    now = datetime.now(UTC)
    site.services.papers.write(
        [
            PaperRecord(
                id="2612.00001",
                source="arxiv",
                title="Fresh",
                published_at=now - timedelta(hours=2),
            ),
            PaperRecord(
                id="2612.00002",
                source="arxiv",
                title="Yesterday",
                published_at=now - timedelta(hours=30),
            ),
        ]
    )
    with site.client() as client:
        month = client.get(f"/papers/month/{now:%Y-%m}.json").json()
        seen = {p["id"]: p["new"] for p in month["papers"]}
        demo = client.get("/papers/date/2025-05-19.json").json()["papers"]
    assert seen.get("2612.00001") is True
    if "2612.00002" in seen:  # early in a month, yesterday's paper is on the month before
        assert seen["2612.00002"] is False
    assert demo and not any(p["new"] for p in demo)
