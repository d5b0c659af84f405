"""``/metrics``: the Prometheus scrape of the site (request and search durations, the database's
sizes). With ``PAPERBOARD_METRICS_TOKEN`` set it asks for ``Authorization: Bearer TOKEN``;
unset, it is open, and should be restricted at the proxy. Never cached, never indexed."""

from __future__ import annotations

import hmac

from fastapi import APIRouter, Request
from fastapi.responses import PlainTextResponse, Response

from paperboard.present.metrics import exposition
from paperboard.present.web.deps import ServicesDep

router = APIRouter(tags=["site"])

_HEADERS = {"Cache-Control": "no-store", "X-Robots-Tag": "noindex, nofollow"}


def _authorized(header: str | None, token: str) -> bool:
    scheme, _, given = (header or "").partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(
        given.strip().encode(), token.encode()
    )


@router.get("/metrics", include_in_schema=False)
def metrics(request: Request, services: ServicesDep) -> Response:
    token = services.settings.metrics_token
    if token and not _authorized(request.headers.get("authorization"), token):
        return PlainTextResponse(
            "/metrics needs Authorization: Bearer <PAPERBOARD_METRICS_TOKEN>\n",
            status_code=401,
            headers={**_HEADERS, "WWW-Authenticate": 'Bearer realm="metrics"'},
        )
    body, content_type = exposition(services, request.headers.get("accept", ""))
    return Response(body, media_type=content_type, headers=_HEADERS)
