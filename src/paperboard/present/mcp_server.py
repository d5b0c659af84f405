"""The MCP server behind ``paperboard mcp`` (stdio): tools for agents to search papers, read one,
list a day, week or month, find similar papers and, with a personal API token, read the member's
"for you" picks and library, upvote, give "more like this" / "not interested" / read signals,
follow authors and save papers to collections. Built on the official ``mcp`` SDK's
``MCPServer`` (FastMCP's name since mcp 2); every tool answers a compact JSON-able dict, and a
bad id, a bad period or a missing or invalid token is a tool error with one clear line."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated, Any, Literal

from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp_types import ToolAnnotations
from pydantic import Field

from paperboard import __version__
from paperboard.core.errors import PaperboardError
from paperboard.present.serialize import json_ready, paper_dict
from paperboard.present.web.rendering import card
from paperboard.present.web.routes.papers import find_paper, similar_cards
from paperboard.present.web.routes.search import run_search
from paperboard.present.web.services import Services
from paperboard.rank import periods
from paperboard.rank import trending as trending_rank
from paperboard.store.rows import CountedPaperRow, MemberRow

Limit = Annotated[int, Field(ge=1, le=100, description="How many papers (1-100).")]
READ = ToolAnnotations(read_only_hint=True, open_world_hint=False)
NO_TOKEN = (
    "this needs a personal API token: create one on the site's account page, then set "
    "PAPERBOARD_TOKEN or run paperboard mcp --token"
)


@contextmanager
def _tool_errors() -> Iterator[None]:
    """paperboard's own errors (no such paper, a bad period) as MCP tool errors."""
    try:
        yield
    except PaperboardError as error:
        raise ToolError(str(error)) from None


def _brief(services: Services, row: CountedPaperRow) -> dict[str, Any]:
    entry = card(row)
    authors = entry["authors"]
    brief: dict[str, Any] = json_ready(
        {
            "id": entry["id"],
            "title": entry["title"],
            "authors": authors[:5] + ([f"and {len(authors) - 5} more"] if len(authors) > 5 else []),
            "published": entry["published_at"].date() if entry["published_at"] else None,
            "categories": entry["categories"],
            "upvotes": entry["upvotes"],
            "excerpt": entry["excerpt"],
            "url": f"{services.settings.base_url}{entry['url']}",
        }
    )
    return brief


def _period(text: str | None, services: Services) -> periods.Period:
    if not text or text == "latest":
        latest = services.papers.latest_feed_date()
        if latest is None:
            raise ToolError("there are no papers yet")
        return periods.day(latest.isoformat())
    if re.fullmatch(r"\d{4}-W\d{2}", text):
        return periods.week(text)
    if re.fullmatch(r"\d{4}-\d{2}", text):
        return periods.month(text)
    if re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
        return periods.day(text)
    raise ToolError(
        f"not a period: {text[:40]!r}; give a day (YYYY-MM-DD), an ISO week (YYYY-Www), "
        "a month (YYYY-MM), 'latest' or 'trending'"
    )


def build_server(services: Services, token: str | None = None) -> MCPServer:
    """The server's tools over ``services``; ``token`` is the member's personal API token."""
    server: MCPServer = MCPServer(
        name="paperboard",
        version=__version__,
        instructions="Search and read the research papers of a paperboard (a Daily Papers site).",
    )

    def member() -> MemberRow:
        if not token:
            raise ToolError(NO_TOKEN)
        found = services.members.token_member(token)
        if found is None:
            raise ToolError("that API token is not valid (revoked, or from another site)")
        return found

    @server.tool(annotations=READ)
    def search(
        query: Annotated[str, Field(min_length=1, max_length=1000)],
        mode: Literal["hybrid", "lexical", "dense"] = "hybrid",
        category: Annotated[str | None, Field(max_length=40)] = None,
        limit: Limit = 10,
    ) -> dict[str, Any]:
        """Search papers by words and meaning. The query takes words, "a phrase", au:name,
        ti:word, cat:cs.LG or an arXiv id; category filters (an archive such as cs covers its
        categories)."""
        with _tool_errors():
            result = run_search(services, query, mode=mode, k=limit, category=category)
        return {
            "query": result.query,
            "mode": result.mode,
            "notes": result.notes,
            "papers": [_brief(services, hit.paper) for hit in result.hits],
        }

    @server.tool(annotations=READ)
    def get_paper(paper_id: Annotated[str, Field(min_length=1, max_length=300)]) -> dict[str, Any]:
        """One paper by arXiv id or URL (any version): title, authors, abstract, dates,
        categories, upvotes and links."""
        with _tool_errors():
            row = find_paper(services, paper_id)
        data = paper_dict(row)
        keys = ["id", "title", "authors", "abstract", "published_at", "updated_at", "categories"]
        keys += ["doi", "journal_ref", "feed_date", "submitted_by", "arxiv_url", "pdf_url"]
        return {
            **{key: data.get(key) for key in keys},
            "upvotes": int(row["total_upvotes"] or 0),
            "comments": int(row["comment_count"] or 0),
            "code_urls": data.get("code_urls") or [],
            "project_urls": data.get("project_urls") or [],
            "url": f"{services.settings.base_url}/papers/{row['id']}",
        }

    @server.tool(annotations=READ)
    def list_papers(
        period: Annotated[str | None, Field(max_length=20)] = None,
        category: Annotated[str | None, Field(max_length=40)] = None,
        limit: Limit = 30,
    ) -> dict[str, Any]:
        """The feed, most upvoted first: a day (YYYY-MM-DD), an ISO week (YYYY-Www), a month
        (YYYY-MM), 'trending', or the latest day with papers when no period is given."""
        if period == "trending":
            hot, _at = trending_rank.trending(services.papers, limit=limit)
            return {"period": "trending", "papers": [_brief(services, r) for r in hot]}
        with _tool_errors():
            found = _period(period, services)
        store = services.papers
        rows = store.list_papers(found.start, found.end, category=category, limit=limit)
        return {
            "period": found.label,
            "kind": found.kind,
            "start": found.start.isoformat(),
            "end": found.end.isoformat(),
            "category": category,
            "total": store.count_papers(found.start, found.end, category=category),
            "papers": [_brief(services, row) for row in rows],
        }

    @server.tool(annotations=READ)
    def similar_papers(
        paper_id: Annotated[str, Field(min_length=1, max_length=300)],
        limit: Annotated[int, Field(ge=1, le=50)] = 10,
        facet: Literal["background", "method", "result"] | None = None,
    ) -> dict[str, Any]:
        """Papers most like one paper (embeddings plus shared terms), with their cosine; with
        a facet, papers like it in that respect only (its background, method or result)."""
        with _tool_errors():
            row = find_paper(services, paper_id)
        if not services.index.dense_ready():
            raise ToolError("similar papers need the embeddings: run paperboard index")
        with _tool_errors():
            cards = similar_cards(services, row["id"], k=limit, facet=facet)
        rows = services.papers.get_many([c["id"] for c in cards])
        return {
            "paper_id": row["id"],
            "papers": [
                {
                    **_brief(services, rows[c["id"]]),
                    "similarity": c["similarity"],
                    **({"facet_similarity": c["facet_similarity"]} if facet else {}),
                }
                for c in cards
                if c["id"] in rows
            ],
        }

    @server.tool(annotations=READ)
    def for_you(limit: Annotated[int, Field(ge=1, le=50)] = 10) -> dict[str, Any]:
        """Papers picked for the token's member by their own model (upvotes, saved papers,
        "more like this", "not interested", follows, saved searches), each with the reason.
        Needs PAPERBOARD_TOKEN."""
        from paperboard.rank.recommend import interests_of, recommend_for

        who = member()
        interests = interests_of(services.community, services.interests, who["id"])
        subscriber = services.digests.for_member(who)
        if subscriber is not None:
            interests.keywords = list(subscriber["keywords"] or [])
            interests.categories = interests.categories or list(subscriber["categories"] or [])
        with _tool_errors():
            pool = services.pools.get(services.papers)
            picks = recommend_for(
                services.search_index(), services.papers, interests, pool, k=limit
            )
        return {
            "member": who["name"],
            "papers": [{**_brief(services, p.paper), "reason": p.reason} for p in picks],
        }

    @server.tool(annotations=ToolAnnotations(idempotent_hint=True, open_world_hint=False))
    def signal(
        paper_id: Annotated[str, Field(min_length=1, max_length=300)],
        kind: Literal["more", "less", "read"],
        remove: bool = False,
    ) -> dict[str, Any]:
        """Tell the token's member's "for you" about a paper: more (more like this), less (not
        interested) or read; remove=true takes it back. Needs PAPERBOARD_TOKEN."""
        who = member()
        with _tool_errors():
            row = find_paper(services, paper_id)
            if remove:
                changed = services.interests.clear_signal(who["id"], row["id"], kind)
            else:
                changed = services.interests.set_signal(who["id"], row["id"], kind)
        return {"id": row["id"], "kind": kind, "removed": remove, "changed": changed}

    @server.tool(annotations=ToolAnnotations(idempotent_hint=True, open_world_hint=False))
    def follow_author(
        name: Annotated[str, Field(min_length=1, max_length=200)], remove: bool = False
    ) -> dict[str, Any]:
        """Follow an author by name (remove=true unfollows): their new papers come first in
        "for you" and the digest. Needs PAPERBOARD_TOKEN."""
        who = member()
        with _tool_errors():
            if remove:
                changed = services.interests.unfollow(who["id"], name)
            else:
                changed = services.interests.follow(who["id"], name)
        return {"name": name, "following": not remove, "changed": changed}

    @server.tool(annotations=ToolAnnotations(idempotent_hint=True, open_world_hint=False))
    def save_to_collection(
        paper_id: Annotated[str, Field(min_length=1, max_length=300)],
        collection: Annotated[str, Field(min_length=1, max_length=120)],
        note: Annotated[str | None, Field(max_length=4000)] = None,
    ) -> dict[str, Any]:
        """Save a paper into the token's member's collection of that name (made if need be),
        with an optional note. Needs PAPERBOARD_TOKEN."""
        who = member()
        with _tool_errors():
            row = find_paper(services, paper_id)
            found = services.interests.collection_named(who["id"], " ".join(collection.split()))
            cid = (
                found["id"]
                if found
                else services.interests.create_collection(who["id"], collection)
            )
            added = services.interests.add_to_collection(who["id"], cid, [row["id"]], note)
        return {"id": row["id"], "collection": cid, "added": bool(added)}

    @server.tool(annotations=READ)
    def my_library() -> dict[str, Any]:
        """The token's member's collections (with their papers' ids and notes), followed
        authors and saved searches (with their private feed URLs). Needs PAPERBOARD_TOKEN."""
        who = member()
        interests = services.interests
        base = services.settings.base_url
        library: dict[str, Any] = json_ready(
            {
                "collections": [
                    {
                        "name": c["name"],
                        "public": c["public"],
                        "papers": [
                            {"id": i["paper_id"], "note": i["note"]}
                            for i in interests.collection_items(c["id"])
                        ],
                    }
                    for c in interests.collections_of(who["id"])
                ],
                "follows": [f["name"] for f in interests.follows_of(who["id"])],
                "saved_searches": [
                    {
                        "name": s["name"],
                        "query": s["query"],
                        "feed": f"{base}/feeds/saved/{s['token']}.atom",
                    }
                    for s in interests.saved_searches_of(who["id"])
                ],
            }
        )
        return library

    @server.tool(annotations=ToolAnnotations(idempotent_hint=True, open_world_hint=False))
    def upvote(
        paper_id: Annotated[str, Field(min_length=1, max_length=300)], remove: bool = False
    ) -> dict[str, Any]:
        """Upvote a paper as the token's member (remove=true takes the upvote back). Needs
        PAPERBOARD_TOKEN."""
        who = member()
        with _tool_errors():
            row = find_paper(services, paper_id)
            if remove:
                changed = services.community.unvote(who["id"], row["id"])
            else:
                changed = services.community.upvote(who["id"], row["id"])
        after = services.papers.get(row["id"])
        return {
            "id": row["id"],
            "upvoted": not remove,
            "changed": changed,
            "upvotes": int(after["total_upvotes"]) if after else 0,
        }

    return server
