"""The page cache: anonymous pages are shared for a while, members' pages and pages with a form
token never are."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from conftest import Site, _free_port, start_site
from test_members import form_token, sign_up

from paperboard.core.records import PaperRecord


@pytest.fixture
def cached_site(site: Site) -> Iterator[Site]:
    """A second server on the same data, with a 30 s page cache."""
    port = _free_port()
    settings = site.settings.model_copy(
        update={"page_cache_seconds": 30, "base_url": f"http://127.0.0.1:{port}"}
    )
    app, server, thread = start_site(settings)
    yield Site(settings.base_url, settings, app)
    server.should_exit = True
    thread.join(timeout=10)


def test_anonymous_pages_are_served_from_cache_and_members_see_fresh_ones(
    cached_site: Site,
) -> None:
    day = "/papers/date/2019-07-05"
    store = cached_site.services.papers
    store.write(
        [
            PaperRecord(
                id="1907.00001",
                source="hf",
                title="First paper",
                published_at=datetime(2019, 7, 5, 12, tzinfo=UTC),
            )
        ]
    )
    with cached_site.client() as anonymous:
        assert "First paper" in anonymous.get(day).text
        store.write(
            [
                PaperRecord(
                    id="1907.00002",
                    source="hf",
                    title="Second paper",
                    published_at=datetime(2019, 7, 5, 13, tzinfo=UTC),
                )
            ]
        )
        assert "Second paper" not in anonymous.get(day).text  # the cached copy, up to 30 s old
    with cached_site.client() as member:
        sign_up(member)
        assert "Second paper" in member.get(day).text  # signed in: never from the cache


def test_pages_with_a_form_token_are_never_shared(cached_site: Site) -> None:
    tokens = []
    for _ in range(2):
        with cached_site.client() as browser:
            page = browser.get("/signin")
            assert page.headers["cache-control"] == "private, no-store"
            tokens.append(form_token(page.text))
            again = browser.get("/signin")  # now with this browser's cookie
            assert form_token(again.text) == tokens[-1]
    assert tokens[0] != tokens[1]
    assert not re.search("private", cached_site.client().get("/").headers.get("cache-control", ""))
