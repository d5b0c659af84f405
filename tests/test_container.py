"""The container: one place that opens settings, the engine, every store and the search index."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

import pytest
from conftest import CliResult
from sqlalchemy import inspect

from paperboard.core.config import Settings
from paperboard.core.records import PaperRecord
from paperboard.present.container import Container


def test_open_upgrades_the_schema_and_every_store_shares_one_engine(settings: Settings) -> None:
    with Container.open(settings) as app:
        assert "papers" in inspect(app.engine).get_table_names()
        for store in (app.papers, app.members, app.community, app.digests):
            assert store.engine is app.engine
        assert app.members is app.members  # made once
        assert app.settings is settings


def test_parts_work_together_on_a_real_database(settings: Settings) -> None:
    published = datetime(2025, 5, 19, tzinfo=UTC)
    with Container.open(settings) as app:
        app.papers.write(
            [PaperRecord(id="2505.00001", source="test", title="T", published_at=published)]
        )
        member = app.members.create("ada@example.org", "Ada", "hash")
        app.community.upvote(member["id"], "2505.00001")
        subscriber = app.digests.subscribe("ada@example.org", member_id=member["id"])
        paper = app.papers.get("2505.00001")
        assert paper is not None and paper["total_upvotes"] == 1
        assert subscriber["member_id"] == member["id"]


def test_the_search_index_opens_lazily_in_the_home(settings: Settings) -> None:
    with Container.open(settings) as app:
        assert "index" not in app.__dict__  # nothing loaded until asked
        index = app.index
        assert index.folder == settings.home / "index"
        assert "embedder" not in index.__dict__  # the model loads only when a part needs it
        assert app.index is index


def test_close_releases_the_engine(settings: Settings) -> None:
    app = Container.open(settings)
    app.papers.count()
    assert app.engine.pool.checkedin() >= 1  # a pooled connection, kept open
    app.close()
    assert app.engine.pool.checkedin() == 0


def test_a_broken_database_url_is_one_line(
    monkeypatch: pytest.MonkeyPatch, cli: Callable[..., CliResult]
) -> None:
    monkeypatch.setenv("PAPERBOARD_DATABASE_URL", "nosuchdb://x")
    result = cli("stats")
    assert result.exit_code == 2
    assert result.stderr.count("\n") == 1 and "database" in result.stderr.lower()
