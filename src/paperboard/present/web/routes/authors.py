"""Author pages (an author's papers and co-authors), following authors, and the same through
the API. An author is a folded name (:func:`paperboard.core.names.author_key`): spellings that
differ only in case, accents or punctuation are one author; namesakes are not told apart, but
their co-authors show who is who."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any
from urllib.parse import quote, urlsplit

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from paperboard.core.errors import NotFoundError, PaperboardError
from paperboard.core.names import author_key
from paperboard.index.indexer import SearchIndex
from paperboard.present.web.deps import CsrfDep, MemberDep, ServicesDep, ViewerDep
from paperboard.present.web.openapi import errors, html, redirect
from paperboard.present.web.rendering import card, page, wants_json
from paperboard.present.web.routes.api import daily_entry
from paperboard.present.web.routes.feed import new_after
from paperboard.present.web.services import Services
from paperboard.rank.authors import coauthors, papers_by_author, spelling
from paperboard.store.rows import CountedPaperRow, MemberRow

router = APIRouter()
PAGE_SIZE = 30
MAX_PAPERS = 500  # an author's papers read for a page: the newest this many
MAX_NAME = 200  # the longest name the follows table takes
SHOWN_COAUTHORS = 20

PageNumber = Annotated[int, Query(ge=1, le=1_000)]


@dataclass
class Author:
    """An author found in the store: the name as most of their papers spell it, its folded
    key, and their papers, newest first (at most ``MAX_PAPERS``)."""

    name: str
    key: str
    papers: list[CountedPaperRow]

    @property
    def url(self) -> str:
        return author_url(self.name)


def author_url(name: str) -> str:
    """The author's page; every character that is not plain in a path is quoted, a slash too."""
    return "/authors/" + quote(name, safe="")


def clean_name(name: str) -> str:
    """The name with its white space tidied; a one-line error when it is too long to be one."""
    clean = " ".join(name.split())
    if len(clean) > MAX_NAME:
        raise PaperboardError(f"an author name may have at most {MAX_NAME} characters")
    return clean


def _index(services: Services) -> SearchIndex | None:
    try:
        return services.search_index()
    except PaperboardError:  # a lexical index that cannot be opened: the store alone answers
        return None


def find_author(services: Services, name: str, limit: int = MAX_PAPERS) -> Author:
    """The author of that name with their papers; NotFoundError when no stored paper has it."""
    clean = clean_name(name)
    key = author_key(clean)
    rows = papers_by_author(_index(services), services.papers, clean, limit) if key else []
    if not rows:
        raise NotFoundError(f"no papers by an author named {clean[:80]!r}")
    return Author(spelling(rows, clean), key, rows)


def coauthor_list(author: Author, shown: int = SHOWN_COAUTHORS) -> list[dict[str, Any]]:
    return [
        {"name": name, "papers": count, "url": author_url(name)}
        for name, count in coauthors(author.papers, author.name)[:shown]
    ]


def follow_list(services: Services, member: MemberRow) -> list[dict[str, Any]]:
    return [
        {
            "name": row["name"],
            "key": row["key"],
            "followed_at": row["created_at"],
            "url": author_url(row["name"]),
        }
        for row in services.interests.follows_of(member["id"])
    ]


def _follows(services: Services, member: MemberRow | None, key: str) -> bool | None:
    if member is None:
        return None
    return any(row["key"] == key for row in services.interests.follows_of(member["id"]))


def _back(request: Request, default: str) -> str:
    """The page the form was on (a path of this site), else ``default``."""
    parts = urlsplit(request.headers.get("referer") or "")
    path = parts.path
    if parts.netloc not in ("", request.url.netloc) or not path.startswith("/"):
        return default
    if path.startswith("//") or "\\" in path:  # browsers read "/\host" as another site
        return default
    return path + (f"?{parts.query}" if parts.query else "")


# -- pages ----------------------------------------------------------------------------------------


@router.get(
    "/account/follows",
    tags=["members"],
    summary="The authors one follows",
    response_class=HTMLResponse,
    responses=html(),
)
def follows_page(
    request: Request, services: ServicesDep, viewer: ViewerDep, member: MemberDep
) -> Response:
    return page(request, "follows.html", {"follows": follow_list(services, member)})


@router.post(
    "/authors/{name:path}/follow",
    tags=["members"],
    summary="Follow an author",
    status_code=303,
    response_class=RedirectResponse,
    responses=redirect(
        429,
        e400="the name is too long",
        e404="no papers by an author of that name",
        to="back to the page",
    ),
)
def follow_form(
    request: Request, services: ServicesDep, member: MemberDep, _csrf: CsrfDep, name: str
) -> Response:
    author = find_author(services, name)
    services.interests.follow(member["id"], author.name)
    return RedirectResponse(_back(request, author.url), status_code=303)


@router.post(
    "/authors/{name:path}/unfollow",
    tags=["members"],
    summary="Stop following an author",
    status_code=303,
    response_class=RedirectResponse,
    responses=redirect(e400="the name is too long", to="back to the page"),
)
def unfollow_form(
    request: Request, services: ServicesDep, member: MemberDep, _csrf: CsrfDep, name: str
) -> Response:
    clean = clean_name(name)
    services.interests.unfollow(member["id"], clean)
    return RedirectResponse(_back(request, author_url(clean)), status_code=303)


@router.get(
    "/authors/{name:path}",
    tags=["pages"],
    summary="An author's papers and co-authors",
    response_class=HTMLResponse,
    responses=html(301, e400="the name is too long", e404="no papers by an author of that name"),
)
def author_page(
    request: Request, services: ServicesDep, viewer: ViewerDep, name: str, p: PageNumber = 1
) -> Response:
    author = find_author(services, name)
    if author.name != name:  # one address per author: the spelling most papers use
        suffix = ".json" if wants_json(request) else ""
        query = f"?p={p}" if p > 1 else ""
        return RedirectResponse(f"{author.url}{suffix}{query}", status_code=301)
    total = len(author.papers)
    shown = author.papers[(p - 1) * PAGE_SIZE : p * PAGE_SIZE]
    member = viewer.member
    voted = (
        services.community.voted(member["id"], [row["id"] for row in shown]) if member else set()
    )
    since = new_after()
    data = {
        "author": {"name": author.name, "key": author.key, "url": author.url},
        "paper_count": total,
        "capped": total >= MAX_PAPERS,  # there may be older papers than those listed
        "page": p,
        "pages": max(1, -(-total // PAGE_SIZE)),
        "papers": [card(row, voted=voted, new_after=since) for row in shown],
        "coauthors": coauthor_list(author),
        "following": _follows(services, member, author.key),
    }
    return page(request, "author.html", data)


# -- API ------------------------------------------------------------------------------------------


@router.get(
    "/api/authors/{name:path}",
    tags=["api"],
    summary="An author's papers (newest first) and co-authors",
    responses=errors(e400="the name is too long", e404="no papers by an author of that name"),
)
def author_api(
    services: ServicesDep,
    name: str,
    limit: Annotated[int, Query(ge=1, le=MAX_PAPERS)] = 100,
) -> dict[str, Any]:
    author = find_author(services, name)
    return {
        "name": author.name,
        "key": author.key,
        "url": author.url,
        "paper_count": len(author.papers),
        "capped": len(author.papers) >= MAX_PAPERS,
        "papers": [daily_entry(row) for row in author.papers[:limit]],
        "coauthors": coauthor_list(author, shown=100),
    }


@router.get("/api/me/follows", tags=["api"], summary="The authors one follows")
def follows_api(services: ServicesDep, member: MemberDep) -> list[dict[str, Any]]:
    return follow_list(services, member)


@router.put(
    "/api/me/follows/{name:path}",
    tags=["api"],
    summary="Follow an author",
    responses=errors(429, e400="the name is too long", e404="no papers by an author of that name"),
)
def follow_api(
    services: ServicesDep, member: MemberDep, _csrf: CsrfDep, name: str
) -> dict[str, Any]:
    author = find_author(services, name)
    changed = services.interests.follow(member["id"], author.name)
    return {"name": author.name, "key": author.key, "following": True, "changed": changed}


@router.delete(
    "/api/me/follows/{name:path}",
    tags=["api"],
    summary="Stop following an author",
    responses=errors(e400="the name is too long"),
)
def unfollow_api(
    services: ServicesDep, member: MemberDep, _csrf: CsrfDep, name: str
) -> dict[str, Any]:
    clean = clean_name(name)
    changed = services.interests.unfollow(member["id"], clean)
    return {"name": clean, "key": author_key(clean), "following": False, "changed": changed}
