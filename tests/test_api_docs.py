"""``/docs`` (the footer's "API" link) works offline: Swagger UI's files are served by the site
itself (the pinned fastapi-offline package, under ``/docs/static``), so in Debian's Chromium with
every request off the loopback address aborted, the page still lists the API's operations."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from conftest import CHROMIUM, Site, needs_program
from playwright.sync_api import Browser, Route, expect

pytestmark = needs_program(CHROMIUM, "chromium")


@pytest.fixture
def db_url(tmp_path: Path) -> str:
    """SQLite only: what the browser loads does not depend on the database."""
    return f"sqlite:///{tmp_path / 'paperboard.db'}"


def test_docs_list_the_operations_with_only_the_site_reachable(
    browser: Browser, site: Site
) -> None:
    context = browser.new_context(base_url=site.url)
    context.set_default_timeout(15_000)
    asked: list[str] = []
    blocked: list[str] = []

    def only_loopback(route: Route) -> None:
        url = route.request.url
        asked.append(url)
        if urlsplit(url).hostname == "127.0.0.1":
            route.continue_()
        else:
            blocked.append(url)
            route.abort()

    context.route("**/*", only_loopback)
    page = context.new_page()
    problems: list[Any] = []
    page.on("pageerror", lambda error: problems.append(f"script error: {error}"))
    page.on(
        "response",
        lambda answer: (
            problems.append(f"{answer.status} {answer.url}") if answer.status >= 400 else None
        ),
    )
    try:
        page.goto("/")
        page.get_by_role("link", name="API", exact=True).click()
        expect(page).to_have_url(f"{site.url}/docs")
        operations = page.locator(".opblock")
        expect(operations.first).to_be_visible()
        expect(
            page.locator(".opblock-summary-path", has_text="/api/daily_papers").first
        ).to_be_visible()
        assert operations.count() >= 20, operations.count()
        assert any("/docs/static/" in url for url in asked), asked  # its own copy of Swagger UI
        assert not blocked, f"/docs asked for other hosts: {blocked}"
        assert not problems, problems
    finally:
        context.close()
    with site.client() as client:
        assert client.get("/redoc").status_code == 404  # no ReDoc: it would need a CDN
