"""A paper's page and what members do there: upvote, comment, edit and delete comments."""

from __future__ import annotations

import logging
from typing import Annotated, Any

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from paperboard.core.errors import ForbiddenError, InvalidIdError, NotFoundError, PaperboardError
from paperboard.core.ids import canonical_id
from paperboard.index.facets import FACETS
from paperboard.present.markdown import MEDIA_TYPE, error_markdown, paper_markdown, prefers_markdown
from paperboard.present.serialize import paper_dict
from paperboard.present.web.deps import CsrfDep, MemberDep, RowId, ServicesDep, Viewer, ViewerDep
from paperboard.present.web.openapi import html, redirect
from paperboard.present.web.rendering import card, markdown, page, paper_links
from paperboard.present.web.routes.collections import collection_choices
from paperboard.present.web.security import claim_comment
from paperboard.present.web.services import Services
from paperboard.store.rows import AuthoredCommentRow, CountedPaperRow, PaperRow

router = APIRouter(tags=["pages"])
log = logging.getLogger(__name__)
MAX_COMMENT = 10_000

CommentBody = Annotated[str, Form(min_length=1, max_length=MAX_COMMENT)]


def find_paper(services: Services, paper_id: str) -> CountedPaperRow:
    """The stored paper for an id as typed (any arXiv form, with or without version)."""
    row = services.papers.get(paper_id)
    if row is None:
        try:
            canonical = canonical_id(paper_id)
        except InvalidIdError:
            raise NotFoundError(f"no paper {paper_id[:80]!r}") from None
        row = services.papers.get(canonical)
    if row is None:
        raise NotFoundError(f"no paper {paper_id[:80]}")
    return row


def similar_cards(
    services: Services, paper_id: str, k: int = 6, facet: str | None = None
) -> list[dict[str, Any]]:
    """Similar papers (in one facet, when asked), or none while dense search is not ready (the
    page still works). An unknown facet raises FacetError (a 400)."""
    from paperboard.rank.similar import check_facet, similar

    if facet is not None:
        check_facet(facet)
    if not services.index.dense_ready():
        return []
    try:
        hits = similar(services.index, services.papers, paper_id, k=k, facet=facet)
    except PaperboardError as error:
        log.warning("similar papers of %s: %s", paper_id, error)
        return []
    out = []
    for hit in hits:
        entry = card(hit.paper)
        entry["similarity"] = None if hit.similarity is None else round(hit.similarity, 4)
        if facet is not None:
            entry["facet_similarity"] = (
                None if hit.facet_similarity is None else round(hit.facet_similarity, 4)
            )
        out.append(entry)
    return out


def abstract_roles(services: Services, row: PaperRow) -> list[dict[str, str]]:
    """The abstract's sentences with their tagged role, while dense search is ready."""
    from paperboard.rank.similar import tagged_sentences

    if not services.index.dense_ready():
        return []
    return [
        {"sentence": sentence, "role": role}
        for sentence, role in tagged_sentences(services.index, row)
    ]


def map_position(services: Services, paper_id: str) -> dict[str, Any] | None:
    literature_map = services.maps.get(services.index)
    if literature_map is None:
        return None
    i = literature_map.index_of(paper_id)
    if i is None:
        return None
    point = literature_map.points[i]
    cluster = next((c for c in literature_map.clusters if c.id == point.cluster), None)
    return {
        "x": point.x,
        "y": point.y,
        "cluster": point.cluster,
        "topic": cluster.label if cluster else None,
    }


def comment_view(comment: AuthoredCommentRow, viewer: Viewer) -> dict[str, Any]:
    mine = viewer.member is not None and comment["member_id"] == viewer.member["id"]
    return {
        "id": comment["id"],
        "author": comment["author"] or "(deleted member)",
        "body": comment["body"],
        "created_at": comment["created_at"],
        "edited_at": comment["edited_at"],
        "can_edit": mine,
        "can_delete": mine or viewer.is_moderator,
    }


@router.post(
    "/papers/{paper_id:path}/upvote",
    summary="Upvote (or take back with action=remove)",
    status_code=303,
    response_class=RedirectResponse,
    responses=redirect(e404="no such paper", to="back to the page"),
)
def upvote(
    request: Request,
    services: ServicesDep,
    member: MemberDep,
    _csrf: CsrfDep,
    paper_id: str,
    action: Annotated[str, Form(pattern="^(add|remove)$")] = "add",
) -> Response:
    row = find_paper(services, paper_id)
    if action == "add":
        services.community.upvote(member["id"], row["id"])
    else:
        services.community.unvote(member["id"], row["id"])
    back = request.headers.get("referer") or f"/papers/{row['id']}"
    return RedirectResponse(_same_site(back, row["id"]), status_code=303)


def _same_site(url: str, paper_id: str) -> str:
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    path = parts.path or "/"
    if not path.startswith("/") or path.startswith("//"):
        return f"/papers/{paper_id}"
    return path + (f"?{parts.query}" if parts.query else "")


@router.post(
    "/papers/{paper_id:path}/comments",
    summary="Comment on a paper",
    status_code=303,
    response_class=RedirectResponse,
    responses=redirect(
        429, e400="the comment is empty", e404="no such paper", to="the new comment"
    ),
)
def add_comment(
    services: ServicesDep, member: MemberDep, _csrf: CsrfDep, paper_id: str, body: CommentBody
) -> Response:
    row = find_paper(services, paper_id)
    if not body.strip():
        raise PaperboardError("the comment is empty")
    claim_comment(services.members, member)
    comment_id = services.community.add_comment(row["id"], member["id"], body.strip())
    return RedirectResponse(f"/papers/{row['id']}#comment-{comment_id}", status_code=303)


@router.get(
    "/comments/{comment_id}/edit",
    summary="Form to edit one's comment",
    response_class=HTMLResponse,
    responses=html(e403="that comment is not yours", e404="no such comment"),
)
def edit_comment_form(
    request: Request, services: ServicesDep, viewer: ViewerDep, member: MemberDep, comment_id: RowId
) -> Response:
    comment = services.community.comment(comment_id)
    if comment is None:
        raise NotFoundError(f"no comment {comment_id}")
    if comment["member_id"] != member["id"]:
        raise ForbiddenError("that comment is not yours")
    return page(
        request,
        "comment_edit.html",
        {"comment": {"id": comment_id, "body": comment["body"], "paper_id": comment["paper_id"]}},
    )


@router.post(
    "/comments/{comment_id}/edit",
    summary="Edit one's comment",
    status_code=303,
    response_class=RedirectResponse,
    responses=redirect(
        e400="the comment is empty",
        e403="that comment is not yours",
        e404="no such comment",
        to="the comment",
    ),
)
def edit_comment(
    services: ServicesDep, member: MemberDep, _csrf: CsrfDep, comment_id: RowId, body: CommentBody
) -> Response:
    if not body.strip():
        raise PaperboardError("the comment is empty")
    services.community.edit_comment(comment_id, member, body.strip())
    comment = services.community.comment(comment_id)
    assert comment is not None
    return RedirectResponse(f"/papers/{comment['paper_id']}#comment-{comment_id}", status_code=303)


@router.post(
    "/comments/{comment_id}/delete",
    summary="Delete a comment (one's own, or any as moderator)",
    status_code=303,
    response_class=RedirectResponse,
    responses=redirect(
        e403="not one's comment, and not a moderator",
        e404="no such comment",
        to="the paper's comments",
    ),
)
def delete_comment(
    services: ServicesDep, member: MemberDep, _csrf: CsrfDep, comment_id: RowId
) -> Response:
    paper_id = services.community.delete_comment(comment_id, member)
    return RedirectResponse(f"/papers/{paper_id}#comments", status_code=303)


_MARKDOWN = {"text/markdown": {"schema": {"type": "string"}}}


def markdown_answer(services: Services, paper_id: str, suffix: str) -> Response:
    """The paper as Markdown (404 in Markdown too); a non-canonical id redirects."""
    try:
        row = find_paper(services, paper_id)
    except NotFoundError as error:
        return Response(error_markdown(404, str(error)), status_code=404, media_type=MEDIA_TYPE)
    if row["id"] != paper_id:
        return RedirectResponse(f"/papers/{row['id']}{suffix}", status_code=301)
    text = paper_markdown(
        row, similar_cards(services, row["id"]), base_url=services.settings.base_url
    )
    return Response(text, media_type=MEDIA_TYPE)


@router.get(
    "/papers/{paper_id:path}.md",
    summary="A paper as Markdown",
    response_class=Response,
    responses={
        200: {"description": "The paper as Markdown", "content": _MARKDOWN},
        301: {"description": "Moved Permanently: to the paper's canonical id"},
        404: {"description": "no such paper (in Markdown)", "content": _MARKDOWN},
    },
)
def paper_as_markdown(services: ServicesDep, paper_id: str) -> Response:
    return markdown_answer(services, paper_id, ".md")


@router.get(
    "/papers/{paper_id:path}",
    summary="A paper's page (Markdown with Accept: text/markdown)",
    response_class=HTMLResponse,
    responses=html(301, e400="an unknown facet in similar", e404="no such paper"),
)
def paper_page(
    request: Request,
    services: ServicesDep,
    viewer: ViewerDep,
    paper_id: str,
    similar: Annotated[
        str | None,
        Query(
            max_length=40,
            description="Show papers similar in one facet: background, method or result.",
        ),
    ] = None,
) -> Response:
    if getattr(request.state, "format", None) is None and prefers_markdown(
        request.headers.get("accept", "")
    ):
        response = markdown_answer(services, paper_id, "")
    else:
        response = _paper_html(request, services, viewer, paper_id, similar or None)
    response.headers["Vary"] = "Accept"
    return response


def _paper_html(
    request: Request, services: Services, viewer: Viewer, paper_id: str, facet: str | None
) -> Response:
    from paperboard.rank.similar import check_facet

    if facet is not None:
        check_facet(facet)  # before it goes into a redirect's address
    row = find_paper(services, paper_id)
    if row["id"] != paper_id:
        suffix = ".json" if getattr(request.state, "format", None) == "json" else ""
        query = f"?similar={facet}" if facet else ""
        return RedirectResponse(f"/papers/{row['id']}{suffix}{query}", status_code=301)
    similar = similar_cards(services, row["id"], facet=facet)
    voted = services.community.voted(viewer.member["id"], [row["id"]]) if viewer.member else set()
    comments = [comment_view(c, viewer) for c in services.community.comments(row["id"])]
    data = {
        "paper": {
            **paper_dict(row),
            "arxiv_comments": row.get("comments"),
            **card(row, voted=voted),
            "abstract": row.get("abstract") or "",
        },
        "links": paper_links(row),
        "comments": comments,
        "similar": similar,
        "similar_facet": facet,
        "facets": list(FACETS),
        "abstract_roles": abstract_roles(services, row) if facet else [],
        "map": map_position(services, row["id"]),
    }
    html_only = {
        "comment_html": {c["id"]: markdown(c["body"]) for c in comments},
        "my_collections": collection_choices(services, viewer),
    }
    return page(request, "paper.html", data, html_only=html_only)
