"""What a site answers besides its pages: a health check for load balancers and monitors,
robots.txt and the favicon."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse, PlainTextResponse, RedirectResponse, Response

from paperboard.present.web.deps import ServicesDep

router = APIRouter(tags=["site"])
log = logging.getLogger(__name__)

# Crawlers may read the papers; member, admin and form pages are of no use to them.
ROBOTS = """User-agent: *
Disallow: /account
Disallow: /admin/
Disallow: /signin
Disallow: /signup
Disallow: /reset
Disallow: /submit
Disallow: /verify/
Disallow: /subscribe/confirm/
Disallow: /unsubscribe/
Disallow: /metrics
Allow: /
"""


@router.get(
    "/healthz",
    summary="Whether the database and the search index answer, and how far behind the store "
    "this node's indexes are",
    responses={
        503: {
            "description": "the database or the lexical index does not answer, or this node "
            "has not caught up with the store once yet (status: starting)"
        }
    },
)
def healthz(services: ServicesDep) -> Response:
    checks: dict[str, Any] = {}
    healthy = True
    try:
        checks["papers"] = services.papers.stats()["papers"]
        checks["database"] = "ok"
    except Exception as error:  # a health check reports every failure instead of raising it
        log.warning("health check: database: %s", error)
        checks["database"], healthy = f"failing: {type(error).__name__}", False
    try:
        checks["indexed"] = services.search_index().lexical.count()
        checks["lexical_index"] = "ok"
    except Exception as error:
        log.warning("health check: lexical index: %s", error)
        checks["lexical_index"], healthy = f"failing: {type(error).__name__}", False
    ready = True
    try:
        replica = services.replica.status(background=services.refreshes_in_background)
        checks.update(replica)
        ready = bool(replica["ready"])
    except Exception as error:
        log.warning("health check: replica: %s", error)
        checks["replica"], healthy = f"failing: {type(error).__name__}", False
    checks["status"] = ("ok" if ready else "starting") if healthy else "failing"
    healthy = healthy and ready
    return JSONResponse(
        checks, status_code=200 if healthy else 503, headers={"Cache-Control": "no-store"}
    )


@router.get("/robots.txt", summary="What crawlers may read", response_class=PlainTextResponse)
def robots() -> Response:
    return PlainTextResponse(ROBOTS)


@router.get(
    "/favicon.ico",
    summary="The site's icon",
    status_code=301,
    response_class=RedirectResponse,
    responses={301: {"description": "Moved Permanently: /static/favicon.svg"}},
)
def favicon() -> Response:
    return RedirectResponse("/static/favicon.svg", status_code=301)
