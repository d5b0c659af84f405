"""Turning results into responses: Jinja2 pages, their JSON twins, paper cards, safe Markdown.

Every page handler builds one ``data`` dict of plain values; ``page`` renders it with a template,
or returns it as JSON when the URL ended in ``.json`` (``middleware.JsonSuffix`` notes that).
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
from fastapi import Request
from fastapi.responses import HTMLResponse, Response
from fastapi.templating import Jinja2Templates
from markdown_it import MarkdownIt
from markupsafe import Markup

from paperboard.core.config import Settings
from paperboard.core.ids import is_arxiv_id
from paperboard.index.highlight import excerpt
from paperboard.index.thumbnails import SUFFIX, file_stem, has_thumbnail
from paperboard.present.serialize import json_ready
from paperboard.present.web.linkify import linkify
from paperboard.present.web.security import ANON_COOKIE, secure_cookies
from paperboard.store.rows import CountedPaperRow, PaperRow

HERE = Path(__file__).parent
templates = Jinja2Templates(directory=str(HERE / "templates"))
templates.env.auto_reload = (
    False  # templates ship with the package; checking their files cost ~10% of a render
)

_markdown = MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False})
_markdown.enable("strikethrough").enable("table").disable("image")


def _link_open(self: Any, tokens: Any, idx: int, options: Any, env: Any) -> str:
    tokens[idx].attrSet("rel", "nofollow ugc noopener")
    return self.renderToken(tokens, idx, options, env)  # type: ignore[no-any-return]


_markdown.add_render_rule("link_open", _link_open)


def markdown(text: str) -> Markup:
    """Comment Markdown as HTML: raw HTML is shown as text, images are off, and only safe link
    schemes survive (markdown-it drops javascript:, vbscript:, file: and data: links)."""
    return Markup(_markdown.render(text or ""))


def json_response(data: Any, *, status_code: int = 200) -> Response:
    return Response(
        orjson.dumps(json_ready(data)), status_code=status_code, media_type="application/json"
    )


def wants_json(request: Request) -> bool:
    return getattr(request.state, "format", None) == "json"


def page(
    request: Request,
    template: str,
    data: dict[str, Any],
    *,
    status_code: int = 200,
    html_only: dict[str, Any] | None = None,
) -> Response:
    """``data`` as the page (with ``html_only`` extras such as forms) or as its JSON twin."""
    if wants_json(request):
        return json_response(data, status_code=status_code)
    viewer = getattr(request.state, "viewer", None)
    context = {
        "request": request,
        "viewer": viewer,
        "settings": request.app.state.services.settings,
    }
    context.update(data)
    context.update(html_only or {})
    response: HTMLResponse = templates.TemplateResponse(
        request, template, context, status_code=status_code
    )
    if viewer is not None and viewer.new_anon_cookie:
        response.set_cookie(
            ANON_COOKIE,
            viewer.new_anon_cookie,
            httponly=True,
            samesite="lax",
            secure=secure_cookies(request, context["settings"]),
            path="/",
        )
    if viewer is not None and (viewer.csrf or viewer._anon_csrf):
        # A page with a form token belongs to one browser: never kept by the page cache or proxies.
        response.headers["Cache-Control"] = "private, no-store"
    return response


def paper_links(row: PaperRow) -> dict[str, Any]:
    pid = row["id"]
    version = f"v{row['version']}" if row.get("version") else ""
    arxiv = is_arxiv_id(pid)
    return {
        "abs": f"https://arxiv.org/abs/{pid}{version}" if arxiv else None,
        "pdf": f"https://arxiv.org/pdf/{pid}{version}" if arxiv else None,
        "code": next(iter(row.get("code_urls") or []), None),
        "code_all": list(row.get("code_urls") or []),
        "project": next(iter(row.get("project_urls") or []), None),
        "doi": f"https://doi.org/{row['doi']}" if row.get("doi") else None,
    }


def card(
    row: CountedPaperRow,
    *,
    voted: set[str] | frozenset[str] = frozenset(),
    new_after: datetime | None = None,
    marks: dict[str, set[str]] | None = None,
) -> dict[str, Any]:
    """What a feed or search entry shows of a paper (also its JSON twin's shape); it is ``new``
    when first published after ``new_after``."""
    authors = list(row.get("authors") or [])
    feed_day = row.get("feed_date")
    published = row.get("published_at")
    return {
        "id": row["id"],
        "url": f"/papers/{row['id']}",
        "title": row.get("title") or "(untitled)",
        "excerpt": excerpt(row.get("abstract")),
        "authors": authors,
        "author_count": max(len(authors), row.get("author_count") or 0),
        "published_at": published,
        "feed_date": feed_day,
        "submitted_by": row.get("submitted_by"),
        "categories": list(row.get("categories") or []),
        "upvotes": int(row.get("total_upvotes") or 0),  # the store's reads add members' votes
        "comments": int(row.get("comment_count") or 0),
        "voted": row["id"] in voted,
        "new": bool(new_after and published and published > new_after),
        "links": paper_links(row),
        **({"marks": sorted(marks.get(row["id"], ()))} if marks is not None else {}),
    }


def thumbnail_url(settings: Settings, paper_id: str) -> str | None:
    """Where the page finds the paper's thumbnail; ``None`` while thumbnails are off or it has
    none yet (one file check per card)."""
    if not has_thumbnail(settings, paper_id):
        return None
    return f"/thumbnails/{file_stem(paper_id)}{SUFFIX}"


def ago(value: datetime | None) -> str:
    if value is None:
        return ""
    seconds = (datetime.now(UTC) - value).total_seconds()
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if seconds >= size:
            count = int(seconds // size)
            return f"{count} {unit}{'s' * (count != 1)} ago"
    return "just now"


templates.env.filters["markdown"] = markdown
templates.env.filters["linkify"] = linkify
templates.env.filters["ago"] = ago
templates.env.globals["now"] = lambda: datetime.now(UTC)
templates.env.globals["thumbnail_url"] = thumbnail_url
