"""``/thumbnails/{id}.webp``: the first page of a paper's PDF, when thumbnails are on.

The name is checked to be a canonical arXiv id (``hep-th_9901001`` for old-style ids) before any
path is made from it, so no name reaches outside ``HOME/thumbnails``; anything else is a 404.
"""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import FileResponse, Response

from paperboard.core.errors import NotFoundError
from paperboard.index.thumbnails import MEDIA_TYPE, paper_id_for, thumbnail_path
from paperboard.present.web.deps import ServicesDep

router = APIRouter(tags=["pages"])

CACHE_CONTROL = "public, max-age=86400"
"""A day: a thumbnail changes only when its file is deleted and made again."""


# Not in /openapi.json: an image for the site's own pages, not part of the API.
@router.get("/thumbnails/{stem}.webp", include_in_schema=False)
def thumbnail(stem: str, services: ServicesDep) -> Response:
    settings = services.settings
    paper_id = paper_id_for(stem)
    if not settings.thumbnails or paper_id is None:
        raise NotFoundError("no such thumbnail")
    path = thumbnail_path(settings, paper_id)
    if not path.is_file():
        raise NotFoundError(f"no thumbnail for {paper_id}")
    return FileResponse(path, media_type=MEDIA_TYPE, headers={"Cache-Control": CACHE_CONTROL})
