"""The about page: what this site is and how trending is computed."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from paperboard.present.web.deps import ServicesDep, ViewerDep
from paperboard.present.web.openapi import html
from paperboard.present.web.rendering import page
from paperboard.rank import trending
from paperboard.store import demo_activity

router = APIRouter(tags=["pages"])


@router.get(
    "/about",
    summary="About this site and the trending formula",
    response_class=HTMLResponse,
    responses=html(),
)
def about(request: Request, services: ServicesDep, viewer: ViewerDep) -> Response:
    stats = services.papers.stats()
    demo = demo_activity.counts(services.papers.engine)
    data = {
        "papers": stats["papers"],
        "feed_days": stats["feed_days"],
        "sources": stats["by_source"],
        "demo_activity": {
            "members": demo.members,
            "upvotes": demo.upvotes,
            "comments": demo.comments,
            "member_domain": demo_activity.DEMO_DOMAIN,
        }
        if demo.members
        else None,
        "trending": {
            "formula": trending.FORMULA,
            "gravity": trending.GRAVITY,
            "window_days": trending.WINDOW_DAYS,
        },
    }
    return page(request, "about.html", data)
