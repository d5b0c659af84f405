"""``paperboard mcp`` over stdio, driven by the mcp SDK's own client: its tools, their answers
on the demo papers, and a member's token for "for you" and upvoting."""

from __future__ import annotations

import json
import shutil
import sys
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp.client.session import ClientSession
from mcp.client.stdio import StdioServerParameters, stdio_client

from paperboard.core.config import load_settings
from paperboard.index.indexer import SearchIndex, sync_lexical
from paperboard.present.container import Container
from paperboard.sources.demo import DemoSource
from paperboard.store.importer import run_import

PAPER = "2505.13308"


@pytest.fixture
def mcp_env(
    env: dict[str, str], monkeypatch: pytest.MonkeyPatch, model_cache: Path, demo_indexes: Path
) -> Iterator[dict[str, str]]:
    """A home with the demo papers, their indexes, and a member with a token."""
    monkeypatch.setenv("PAPERBOARD_MODELS_DIR", str(model_cache))
    settings = load_settings()
    shutil.copytree(demo_indexes, settings.home / "index")
    with Container.open(settings) as app:
        run_import(app.papers, DemoSource(), processes=1)
        index = SearchIndex(settings)
        sync_lexical(app.papers, index)
        index.lexical.close()
        member = app.members.create("ada@example.org", "Ada", "x" * 20)
        token = app.members.create_token(member["id"], "agent")
    yield {**env, "PAPERBOARD_MODELS_DIR": str(model_cache), "TOKEN": token}


def session_calls(
    env: dict[str, str], token: str | None, calls: list[tuple[str, dict[str, Any]]]
) -> tuple[list[str], list[Any]]:
    """Launch the server, list its tools and make ``calls``; (tool names, results)."""
    server_env = {k: v for k, v in env.items() if k != "TOKEN"}
    if token is not None:
        server_env["PAPERBOARD_TOKEN"] = token

    async def run() -> tuple[list[str], list[Any]]:
        params = StdioServerParameters(
            command=sys.executable, args=["-m", "paperboard", "mcp"], env=server_env
        )
        async with stdio_client(params) as (read, write), ClientSession(read, write) as session:
            await session.initialize()
            names = [tool.name for tool in (await session.list_tools()).tools]
            results = [await session.call_tool(name, args) for name, args in calls]
            return names, results

    # In a thread of its own: the session's Playwright browser keeps an event loop running in
    # the main thread once any browser test has run, and a second loop may not start there.
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(anyio.run, run).result()


def data(result: Any) -> Any:
    assert not result.is_error, result.content
    return result.structured_content or json.loads(result.content[0].text)


def text(result: Any) -> str:
    return " ".join(part.text for part in result.content)


def test_tools_answer_on_the_demo_papers(mcp_env: dict[str, str]) -> None:
    with Container.open() as app:
        row = app.papers.get(PAPER)
    assert row is not None
    word = row["title"].split()[0]
    names, results = session_calls(
        mcp_env,
        None,
        [
            ("search", {"query": row["title"], "mode": "lexical", "limit": 3}),
            ("get_paper", {"paper_id": f"arXiv:{PAPER}v1"}),
            ("list_papers", {"period": row["feed_date"].isoformat()}),
            ("list_papers", {"period": f"{row['feed_date']:%Y-%m}", "limit": 2}),
            ("similar_papers", {"paper_id": PAPER, "limit": 3}),
            ("get_paper", {"paper_id": "2501.99999"}),
            ("list_papers", {"period": "2025-13"}),
            ("for_you", {}),
            ("upvote", {"paper_id": PAPER}),
            ("similar_papers", {"paper_id": PAPER, "limit": 3, "facet": "method"}),
            ("similar_papers", {"paper_id": PAPER, "facet": "novelty"}),
        ],
    )
    assert set(names) >= {"search", "get_paper", "list_papers", "similar_papers"}
    assert {"for_you", "upvote"} <= set(names)
    found = data(results[0])
    assert found["papers"][0]["id"] == PAPER and word in found["papers"][0]["title"]
    paper = data(results[1])
    assert paper["id"] == PAPER and paper["abstract"] == row["abstract"]
    assert paper["arxiv_url"].startswith(f"https://arxiv.org/abs/{PAPER}")
    day = data(results[2])
    assert PAPER in [p["id"] for p in day["papers"]] and day["kind"] == "date"
    votes = [p["upvotes"] for p in day["papers"]]
    assert votes == sorted(votes, reverse=True) and day["total"] >= len(day["papers"])
    month = data(results[3])
    assert month["kind"] == "month" and len(month["papers"]) <= 2
    similar = data(results[4])["papers"]
    assert len(similar) == 3 and PAPER not in [p["id"] for p in similar]
    assert results[5].is_error and "no paper" in text(results[5])
    assert results[6].is_error and "not a month" in text(results[6])
    for refused in results[7:9]:
        assert refused.is_error and "PAPERBOARD_TOKEN" in text(refused)
    by_method = data(results[9])["papers"]
    assert len(by_method) == 3 and PAPER not in [p["id"] for p in by_method]
    assert all(isinstance(p["facet_similarity"], float) for p in by_method)
    assert results[10].is_error  # not one of background, method, result


def test_a_token_gets_for_you_and_upvotes_and_a_bad_one_is_refused(
    mcp_env: dict[str, str],
) -> None:
    with Container.open() as app:
        before = app.papers.get(PAPER)["total_upvotes"]  # type: ignore[index]
    _names, results = session_calls(
        mcp_env,
        mcp_env["TOKEN"],
        [
            ("upvote", {"paper_id": PAPER}),
            ("upvote", {"paper_id": PAPER}),
            ("for_you", {"limit": 5}),
            ("upvote", {"paper_id": "2501.99999"}),
        ],
    )
    first, again = data(results[0]), data(results[1])
    assert first == {"id": PAPER, "upvoted": True, "changed": True, "upvotes": before + 1}
    assert again["changed"] is False and again["upvotes"] == before + 1
    picks = data(results[2])
    assert picks["member"] == "Ada" and picks["papers"]
    assert all(
        p["id"] != PAPER and p["reason"].endswith("which you upvoted") for p in picks["papers"]
    )
    assert results[3].is_error and "no paper" in text(results[3])
    with Container.open() as app:
        member = app.members.by_email("ada@example.org")
        assert member is not None
        assert [pid for pid, _ in app.community.upvotes_of(member["id"])] == [PAPER]
    _names, library = session_calls(
        mcp_env,
        mcp_env["TOKEN"],
        [
            ("signal", {"paper_id": picks["papers"][0]["id"], "kind": "less"}),
            ("for_you", {"limit": 5}),
            ("save_to_collection", {"paper_id": PAPER, "collection": "Agents", "note": "see §2"}),
            ("follow_author", {"name": "Ada Lovelace"}),
            ("my_library", {}),
            ("signal", {"paper_id": PAPER, "kind": "sideways"}),
        ],
    )
    assert data(library[0]) == {
        "id": picks["papers"][0]["id"],
        "kind": "less",
        "removed": False,
        "changed": True,
    }
    assert picks["papers"][0]["id"] not in [p["id"] for p in data(library[1])["papers"]]
    assert data(library[2])["added"] is True
    assert data(library[3]) == {"name": "Ada Lovelace", "following": True, "changed": True}
    mine = data(library[4])
    assert mine["collections"] == [
        {"name": "Agents", "public": False, "papers": [{"id": PAPER, "note": "see §2"}]}
    ]
    assert mine["follows"] == ["Ada Lovelace"] and mine["saved_searches"] == []
    assert library[5].is_error
    _names, bad = session_calls(mcp_env, "pb_not-a-token", [("upvote", {"paper_id": PAPER})])
    assert bad[0].is_error and "not valid" in text(bad[0])
