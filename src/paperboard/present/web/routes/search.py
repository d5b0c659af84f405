"""The search page (hybrid by default, with highlights and filters) and the map page."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response

from paperboard.core.errors import PaperboardError
from paperboard.index.lexical import Filters
from paperboard.present.metrics import search_timer
from paperboard.present.web.deps import ServicesDep, ViewerDep
from paperboard.present.web.openapi import html, redirect
from paperboard.present.web.rendering import card, page
from paperboard.present.web.routes.feed import Blank
from paperboard.present.web.services import Services
from paperboard.rank.search import MODES, SearchResult, search

router = APIRouter(tags=["pages"])
PAGE_SIZE = 20

QueryText = Annotated[str, Query(max_length=1000)]

# The map is drawn MAP_WIDTH units wide and scaled to the page's width, so its labels shrink with
# the screen: one set of labels per range of widths (style.css shows the one that fits), each
# at least 11 CSS px at the narrowest width it is shown at. For (class, narrowest viewport):
# the map is the viewport less the padding (16 px a side, 10 on a phone) and its border.
MAP_WIDTH = 960
MAP_LABELS = tuple(
    (name, round(11 * MAP_WIDTH / (viewport - 2 * pad - 2), 1))
    for name, viewport, pad in (("wide", 900, 16), ("medium", 600, 16), ("narrow", 360, 10))
)


def run_search(
    services: Services,
    q: str,
    *,
    mode: str = "hybrid",
    k: int = PAGE_SIZE,
    offset: int = 0,
    category: str | None = None,
    since: date | None = None,
    until: date | None = None,
    code: bool | None = None,
    count: bool = False,
) -> SearchResult:
    """A search as the site runs it: hybrid falls back to words when there are no embeddings;
    ``count`` also counts every lexical match (``SearchResult.total``)."""
    if mode not in MODES:
        raise PaperboardError(f"unknown search mode {mode!r}: use one of {', '.join(MODES)}")
    index = services.search_index()
    if mode != "lexical" and not index.dense_ready():
        mode = "lexical"
    filters = None
    if category or since or until or code is not None:
        filters = Filters(
            categories=(category,) if category else (), since=since, until=until, has_code=code
        )
    with search_timer(mode):  # paperboard_search_duration_seconds
        return search(
            index, services.papers, q, mode=mode, k=k, offset=offset, filters=filters, count=count
        )


def hit_cards(services: Services, result: SearchResult, viewer: Any) -> list[dict[str, Any]]:
    ids = [hit.id for hit in result.hits]
    voted = services.community.voted(viewer.member["id"], ids) if viewer.member else set()
    out = []
    for hit in result.hits:
        entry = card(hit.paper, voted=voted)
        entry["title_html"] = hit.title_html
        entry["snippet_html"] = hit.snippet_html
        entry["score"] = round(hit.score, 6)
        out.append(entry)
    return out


@router.get(
    "/papers",
    summary="Search papers (hybrid lexical + semantic)",
    response_class=HTMLResponse,
    responses=html(e400="a query that cannot be run")
    | redirect(to="the paper, when the query is its id"),
)
def search_page(
    request: Request,
    services: ServicesDep,
    viewer: ViewerDep,
    q: QueryText = "",
    mode: Annotated[str, Query(pattern="^(hybrid|lexical|dense)$")] = "hybrid",
    category: Annotated[str | None, Query(max_length=40), Blank] = None,
    since: Annotated[date | None, Query(), Blank] = None,
    until: Annotated[date | None, Query(), Blank] = None,
    code: Annotated[bool | None, Query(), Blank] = None,
    p: Annotated[int, Query(ge=1, le=50)] = 1,
) -> Response:
    data: dict[str, Any] = {
        "q": q,
        "mode": mode,
        "category": category or "",
        "since": since,
        "until": until,
        "code": code,
        "page": p,
        "papers": [],
        "total": None,  # every paper the words, fields and filters match (the lexical matches)
        "notes": [],
        "milliseconds": None,
        "next": None,
        "previous": None,
    }
    if q.strip():
        result = run_search(
            services,
            q,
            mode=mode,
            offset=(p - 1) * PAGE_SIZE,
            category=category or None,
            since=since,
            until=until,
            code=code,
            count=True,
        )
        if (
            result.paper_id is not None
            and result.hits
            and not getattr(request.state, "format", None)
        ):
            from fastapi.responses import RedirectResponse

            return RedirectResponse(f"/papers/{result.paper_id}", status_code=303)
        data.update(
            papers=hit_cards(services, result, viewer),
            notes=result.notes,
            milliseconds=round(result.milliseconds, 1),
            mode=result.mode,
            total=result.total,
        )
        query = request.url.query
        base = "&".join(part for part in query.split("&") if not part.startswith("p=") and part)
        if len(result.hits) == PAGE_SIZE and p < 50:
            data["next"] = f"/papers?{base}&p={p + 1}"
        if p > 1:
            data["previous"] = f"/papers?{base}&p={p - 1}"
        data["feeds"] = {"rss": f"/feeds/search.xml?q={_quote(q)}"}
    return page(request, "search.html", data)


def _quote(text: str) -> str:
    from urllib.parse import quote_plus

    return quote_plus(text)


@router.get(
    "/map",
    summary="The map of the literature, with a search or a day highlighted",
    response_class=HTMLResponse,
    responses=html(),
)
def map_page(
    request: Request,
    services: ServicesDep,
    viewer: ViewerDep,
    q: QueryText = "",
    day: Annotated[date | None, Query(), Blank] = None,
) -> Response:
    from paperboard.present.map_svg import render_svg

    literature_map = services.maps.get(services.index)
    highlighted: list[str] = []
    if q.strip():
        # Papers that contain the words; a query no paper contains falls back to the 20 nearest
        # in meaning (hybrid always returns k papers, which would light up the whole map).
        highlighted = [hit.id for hit in run_search(services, q, mode="lexical", k=100).hits]
        if not highlighted:
            highlighted = [hit.id for hit in run_search(services, q, k=20).hits]
    elif day is not None:
        highlighted = [row["id"] for row in services.papers.list_papers(day, day, limit=500)]
    data: dict[str, Any] = {
        "q": q,
        "day": day,
        "available": literature_map is not None,
        "papers": len(literature_map.points) if literature_map else 0,
        "topics": [
            {"id": c.id, "label": c.label, "size": c.size, "x": c.x, "y": c.y}
            for c in (literature_map.clusters if literature_map else [])
        ],
        "highlighted": [],
    }
    svg = None
    if literature_map is not None:
        rows = services.papers.get_many(
            [h for h in highlighted if literature_map.index_of(h) is not None]
        )
        data["highlighted"] = [card(rows[h]) for h in highlighted if h in rows]
        svg = render_svg(
            literature_map,
            highlighted=highlighted,
            width=MAP_WIDTH,
            height=640,
            max_points=2500,
            link="/papers/{id}",
            titles=lambda ids: {
                i: str(row["title"]) for i, row in services.papers.get_many(ids).items()
            },
            label_sets=MAP_LABELS,
        )
        svg = (
            svg.split("?>", 1)[1].lstrip() if svg.startswith("<?xml") else svg
        )  # inline in HTML: no XML prologue
    return page(request, "map.html", data, html_only={"svg": svg})
