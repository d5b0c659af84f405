"""RSS 2.0 feeds (Atom 1.0 with ``?format=atom``): trending, a day, a category, a search."""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import UTC, datetime, time, timedelta
from html import escape
from typing import Annotated
from urllib.parse import quote_plus

from fastapi import APIRouter, Query
from fastapi.responses import Response
from feedgen.feed import FeedGenerator

from paperboard.core.errors import NotFoundError
from paperboard.index.highlight import excerpt
from paperboard.present.web.deps import ServicesDep
from paperboard.present.web.openapi import Responses, errors
from paperboard.present.web.routes.search import run_search
from paperboard.present.web.services import Services
from paperboard.rank import periods
from paperboard.rank import trending as trending_rank
from paperboard.store.rows import CountedPaperRow, PaperRow

router = APIRouter(prefix="/feeds", tags=["feeds"])
ITEMS = 50
CATEGORY_DAYS = 7

Format = Annotated[str, Query(pattern="^(rss|atom)$")]
# An arXiv archive or category, as the pages accept it: ``cs``, ``q-bio``, ``cs.LG``,
# ``cond-mat.stat-mech``.
CATEGORY = re.compile(r"^[A-Za-z\-]+(\.[A-Za-z\-]+)?$")
Category = Annotated[str | None, Query(max_length=40, pattern=CATEGORY.pattern)]

# What XML 1.0 cannot carry at all (control codes, U+FFFE/U+FFFF, lone surrogates): one such
# character in a title would make the whole feed unreadable (or fail to render).
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def _xml_safe(text: str) -> str:
    return _NOT_XML.sub("", text)


def _when(row: PaperRow) -> datetime:
    day = row.get("submitted_on_daily") or row.get("feed_date")
    published = row.get("published_at")
    if published is not None and (day is None or published.date() == day):
        return published
    return datetime.combine(day, time(), UTC) if day else datetime.now(UTC)


def _updated(row: PaperRow) -> datetime:
    return max(row.get("changed_at") or _when(row), _when(row))


def _description(row: CountedPaperRow) -> str:
    """The entry's text as HTML (what readers expect of an RSS description): the abstract, the
    authors and the upvotes, each escaped, so ``x<y`` in an abstract is shown as written."""
    authors = row.get("authors") or []
    shown = ", ".join(authors[:10]) + (
        f" and {len(authors) - 10} more" if len(authors) > 10 else ""
    )
    votes = int(row.get("total_upvotes") or 0)
    parts = [excerpt(row.get("abstract"), 1200), shown, f"▲ {votes} upvote{'s' * (votes != 1)}"]
    return "".join(f"<p>{escape(_xml_safe(part), quote=False)}</p>" for part in parts if part)


def render_feed(
    services: Services,
    title: str,
    path: str,
    page: str,
    rows: Sequence[CountedPaperRow],
    fmt: str,
) -> Response:
    """``rows`` as a feed, in their order. ``path`` is the feed's own address (without the
    format), ``page`` the HTML page it mirrors."""
    base = services.settings.base_url
    title = _xml_safe(title)
    self_url = (
        f"{base}{path}" if fmt == "rss" else f"{base}{path}{'&' if '?' in path else '?'}format=atom"
    )
    generator = FeedGenerator()
    generator.id(f"{base}{path}")
    generator.title(title)
    generator.author({"name": "paperboard"})  # Atom wants an author for entries that have none
    generator.link(href=self_url, rel="self")
    generator.link(href=f"{base}{page}", rel="alternate")
    generator.description(f"{title} on paperboard")
    generator.language("en")
    generator.updated(max((_updated(r) for r in rows), default=datetime.now(UTC)))
    for row in reversed(rows):  # feedgen prepends entries: reversed keeps the ranking order
        entry = generator.add_entry()
        url = f"{base}/papers/{row['id']}"
        entry.id(url)
        entry.guid(url, permalink=True)
        entry.title(_xml_safe(row.get("title") or row["id"]))
        entry.link(href=url)
        if fmt == "atom":
            entry.summary(_description(row), type="html")
        else:
            entry.description(_description(row))
        authors = row.get("authors") or []
        if authors:
            entry.author({"name": _xml_safe(authors[0]) + (" et al." if len(authors) > 1 else "")})
        for category in row.get("categories") or []:
            if _xml_safe(category).strip():
                entry.category(term=_xml_safe(category))
        entry.published(_when(row))
        entry.updated(_updated(row))
    if fmt == "atom":
        return Response(
            generator.atom_str(pretty=True), media_type="application/atom+xml; charset=utf-8"
        )
    return Response(generator.rss_str(pretty=True), media_type="application/rss+xml; charset=utf-8")


FEED: Responses = {
    200: {
        "description": "RSS 2.0, or Atom 1.0 with `?format=atom`",
        "content": {
            "application/rss+xml": {"schema": {"type": "string"}},
            "application/atom+xml": {"schema": {"type": "string"}},
        },
    }
}


@router.get("/trending.xml", summary="Trending papers", response_class=Response, responses=FEED)
def trending(services: ServicesDep, format: Format = "rss") -> Response:
    rows, _ = trending_rank.trending(services.papers, limit=ITEMS)
    return render_feed(
        services, "Trending papers", "/feeds/trending.xml", "/papers/trending", rows, format
    )


@router.get(
    "/date/{day}.xml",
    summary="One day's papers by upvotes (of one category with ?category=)",
    response_class=Response,
    responses=FEED | errors(e400="not a day (YYYY-MM-DD)"),
)
def by_day(
    services: ServicesDep, day: str, format: Format = "rss", category: Category = None
) -> Response:
    period = periods.day(day)
    rows = services.papers.list_papers(period.start, period.end, category=category, limit=ITEMS)
    query = f"?category={quote_plus(category)}" if category else ""
    title = f"Papers of {period.label}" + (f" in {category}" if category else "")
    return render_feed(
        services,
        title,
        f"/feeds/date/{period.label}.xml{query}",
        f"/papers/date/{period.label}{query}",
        rows,
        format,
    )


@router.get(
    "/category/{category}.xml",
    summary="A category's papers of the last week, newest first",
    response_class=Response,
    responses=FEED | errors(e404="no such category"),
)
def by_category(services: ServicesDep, category: str, format: Format = "rss") -> Response:
    # fullmatch: with match, "$" also matches before a final line break ("cs.LG\n").
    if len(category) > 40 or not CATEGORY.fullmatch(category):
        raise NotFoundError(f"no such category (such as cs.LG or q-bio): {category[:40]!r}")
    latest = services.papers.latest_feed_date(category) or datetime.now(UTC).date()
    rows = services.papers.list_papers(
        latest - timedelta(days=CATEGORY_DAYS - 1),
        latest,
        category=category,
        sort="published",
        limit=ITEMS,
    )
    path, page = f"/feeds/category/{category}.xml", f"/?category={category}"
    return render_feed(services, f"{category} papers", path, page, rows, format)


@router.get("/search.xml", summary="Results of a search", response_class=Response, responses=FEED)
def search(
    services: ServicesDep,
    q: Annotated[str, Query(min_length=1, max_length=1000)],
    format: Format = "rss",
) -> Response:
    result = run_search(services, q, k=ITEMS)
    rows = services.papers.get_many([hit.id for hit in result.hits])
    ordered = [rows[hit.id] for hit in result.hits if hit.id in rows]
    query = f"?q={quote_plus(q)}"
    return render_feed(
        services,
        f"Papers about “{q}”",
        f"/feeds/search.xml{query}",
        f"/papers{query}",
        ordered,
        format,
    )
