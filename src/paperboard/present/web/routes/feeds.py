"""RSS 2.0 feeds (Atom 1.0 with ``?format=atom``): trending, a day, a category, a search."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi.responses import Response
from feedgen.feed import FeedGenerator

from paperboard.present.web.deps import ServicesDep
from paperboard.present.web.rendering import excerpt
from paperboard.present.web.routes.search import run_search
from paperboard.present.web.services import Services
from paperboard.rank import periods, trending as trending_rank

router = APIRouter(prefix="/feeds", tags=["feeds"])
ITEMS = 50
CATEGORY_DAYS = 7

Format = Annotated[str, Query(pattern="^(rss|atom)$")]


def _when(row: dict[str, Any]) -> datetime:
    day = row.get("submitted_on_daily") or row.get("feed_date")
    if row.get("published_at") is not None and (day is None or row["published_at"].date() == day):
        return row["published_at"]
    return datetime.combine(day, time(), UTC) if day else datetime.now(UTC)


def _xml_safe(text: str) -> str:
    # Characters XML 1.0 forbids (control codes) would make the whole feed unreadable.
    return "".join(ch for ch in text if ch in "\t\n\r" or ord(ch) >= 0x20)


def render_feed(services: Services, title: str, path: str, rows: list[dict[str, Any]], fmt: str) -> Response:
    base = services.settings.base_url
    generator = FeedGenerator()
    generator.id(f"{base}{path}")
    generator.title(title)
    generator.link(href=f"{base}{path}", rel="self")
    generator.link(href=f"{base}/", rel="alternate")
    generator.description(f"{title} on paperboard")
    generator.language("en")
    generator.updated(max((_when(r) for r in rows), default=datetime.now(UTC)))
    for row in reversed(rows):  # feedgen prepends entries: reversed keeps the ranking order
        entry = generator.add_entry()
        url = f"{base}/papers/{row['id']}"
        entry.id(url)
        entry.guid(url, permalink=True)
        entry.title(_xml_safe(row.get("title") or row["id"]))
        entry.link(href=url)
        authors = row.get("authors") or []
        shown = ", ".join(authors[:10]) + (f" and {len(authors) - 10} more" if len(authors) > 10 else "")
        votes = int(row.get("total_upvotes") or 0)
        summary = excerpt(row.get("abstract"), 1200)
        entry.description(_xml_safe(f"{summary}\n\n{shown}\n▲ {votes} upvote{'s' * (votes != 1)}".strip()))
        if authors:
            entry.author({"name": _xml_safe(authors[0]) + (" et al." if len(authors) > 1 else "")})
        for category in row.get("categories") or []:
            entry.category(term=category)
        entry.published(_when(row))
        entry.updated(row.get("changed_at") or _when(row))
    if fmt == "atom":
        return Response(generator.atom_str(pretty=True), media_type="application/atom+xml; charset=utf-8")
    return Response(generator.rss_str(pretty=True), media_type="application/rss+xml; charset=utf-8")


@router.get("/trending.xml", summary="Trending papers")
def trending(services: ServicesDep, format: Format = "rss") -> Response:
    rows, _ = trending_rank.trending(services.papers, limit=ITEMS)
    return render_feed(services, "Trending papers", "/feeds/trending.xml", rows, format)


@router.get("/date/{day}.xml", summary="One day's papers by upvotes")
def by_day(services: ServicesDep, day: str, format: Format = "rss") -> Response:
    period = periods.day(day)
    rows = services.papers.list_papers(period.start, period.end, limit=ITEMS)
    return render_feed(services, f"Papers of {period.label}", f"/feeds/date/{period.label}.xml", rows, format)


@router.get("/category/{category}.xml", summary="A category's papers of the last week, newest first")
def by_category(services: ServicesDep, category: str, format: Format = "rss") -> Response:
    from paperboard.core.errors import PaperboardError

    if len(category) > 40 or not all(ch.isalnum() or ch in ".-" for ch in category):
        raise PaperboardError(f"not a category: {category[:40]!r}")
    latest = services.papers.latest_feed_date(category) or datetime.now(UTC).date()
    rows = services.papers.list_papers(
        latest - timedelta(days=CATEGORY_DAYS - 1), latest, category=category, sort="published", limit=ITEMS
    )
    return render_feed(services, f"{category} papers", f"/feeds/category/{category}.xml", rows, format)


@router.get("/search.xml", summary="Results of a search")
def search(services: ServicesDep, q: Annotated[str, Query(min_length=1, max_length=1000)], format: Format = "rss") -> Response:
    from urllib.parse import quote_plus

    result = run_search(services, q, k=ITEMS)
    rows = services.papers.get_many([hit.id for hit in result.hits])
    ordered = [rows[hit.id] for hit in result.hits if hit.id in rows]
    return render_feed(services, f"Papers about “{q}”", f"/feeds/search.xml?q={quote_plus(q)}", ordered, format)
