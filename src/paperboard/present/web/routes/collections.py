"""A member's collections, their library: named lists of papers, private or public, with a note
per paper. Pages (``/collections``, ``/collections/{id}``), the BibTeX export, the "save to a
collection" form of a paper's page, and the same under ``/api/collections`` for API tokens.

A private collection is its member's alone: anyone else gets 404, as if it did not exist. A
public one anyone may read; only its member changes it.
"""

from __future__ import annotations

import re
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Form, Query, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse
from pydantic import BaseModel, BeforeValidator, Field

from paperboard.core.errors import NotFoundError, PaperboardError
from paperboard.present.web.deps import (
    MAX_ROW_ID,
    CsrfDep,
    MemberDep,
    RowId,
    ServicesDep,
    Viewer,
    ViewerDep,
)
from paperboard.present.web.openapi import Responses, errors, html, redirect
from paperboard.present.web.rendering import card, page
from paperboard.present.web.services import Services
from paperboard.sources.references import to_bibtex
from paperboard.store.interests import MAX_ITEMS, MAX_NOTE, CollectionRow
from paperboard.store.rows import CountedPaperRow, MemberRow

pages = APIRouter(tags=["members"])
api = APIRouter(prefix="/api", tags=["api"])
PAGE_SIZE = 50
MAX_NAME_FIELD = 500  # the store refuses names over 120 characters with a clearer message
BIBTEX = "application/x-bibtex; charset=utf-8"

# Browsers send an emptied form field as "": no value, not a bad one.
Blank = BeforeValidator(lambda value: value or None)
Name = Annotated[str, Form(max_length=MAX_NAME_FIELD)]
Description = Annotated[str, Form(max_length=MAX_NOTE)]
Note = Annotated[str, Form(max_length=MAX_NOTE)]
Public = Annotated[bool, Form()]
PaperField = Annotated[str, Form(min_length=1, max_length=300)]


# -- shared -------------------------------------------------------------------------------------


def _paper(services: Services, paper_id: str) -> CountedPaperRow:
    # Imported here: routes/papers.py imports this module for the paper page's form.
    from paperboard.present.web.routes.papers import find_paper

    return find_paper(services, paper_id)


def _paper_ids(services: Services, ids: list[str]) -> list[str]:
    """The stored ids of ``ids`` as typed (any arXiv form); NotFoundError names the first
    unknown one."""
    found = services.papers.get_many(ids)
    return [pid if pid in found else _paper(services, pid)["id"] for pid in ids]


def collection_data(row: CollectionRow, owner: str | None = None) -> dict[str, Any]:
    return {
        "id": row["id"],
        "name": row["name"],
        "description": row["description"],
        "public": row["public"],
        "size": row["size"],
        "created_at": row["created_at"],
        "owner": owner,
        "url": f"/collections/{row['id']}",
        "bibtex_url": f"/collections/{row['id']}.bib",
    }


def visible_collection(services: Services, viewer: Viewer, collection_id: int) -> CollectionRow:
    """The collection if the viewer may read it: their own, or a public one; else NotFoundError,
    so that nobody learns a private collection exists."""
    found = services.interests.collection(collection_id)
    if found is None or not (found["public"] or found["member_id"] == _id(viewer)):
        raise NotFoundError(f"no collection {collection_id}")
    return found


def _id(viewer: Viewer) -> int | None:
    return viewer.member["id"] if viewer.member else None


def own_collection(services: Services, member: MemberRow, collection_id: int) -> CollectionRow:
    found = services.interests.collection(collection_id)
    if found is None or found["member_id"] != member["id"]:
        raise NotFoundError(f"no collection {collection_id} of yours")
    return found


def _owner(services: Services, row: CollectionRow) -> str | None:
    return services.members.names([row["member_id"]]).get(row["member_id"])


def collection_choices(services: Services, viewer: Viewer) -> list[dict[str, Any]]:
    """What the "save to a collection" form of a paper's page offers: the viewer's collections
    (none for anonymous visitors)."""
    if viewer.member is None:
        return []
    return [
        {"id": c["id"], "name": c["name"], "size": c["size"]}
        for c in services.interests.collections_of(viewer.member["id"])
    ]


def _create(
    services: Services, member: MemberRow, name: str, description: str, public: bool
) -> CollectionRow:
    new_id = services.interests.create_collection(
        member["id"], name, description=description.strip(), public=public
    )
    found = services.interests.collection(new_id)
    assert found is not None
    return found


def _attachment(row: CollectionRow) -> str:
    """The Content-Disposition of the export: the name in ASCII for old clients, and in full
    (RFC 6266's ``filename*``) for the rest; no slashes either way."""
    fallback = f"collection-{row['id']}"
    plain = re.sub(r"[^A-Za-z0-9._-]+", "-", row["name"]).strip("-.") or fallback
    full = re.sub(r"[/\\]+", "-", row["name"]).strip() or fallback
    return f"attachment; filename=\"{plain}.bib\"; filename*=UTF-8''{quote(full, safe='')}.bib"


# -- pages --------------------------------------------------------------------------------------


@pages.get(
    "/collections",
    summary="One's collections, with a form to make one",
    response_class=HTMLResponse,
    responses=html(),
)
def collections_page(
    request: Request, services: ServicesDep, viewer: ViewerDep, member: MemberDep
) -> Response:
    rows = services.interests.collections_of(member["id"])
    return page(
        request,
        "collections.html",
        {"collections": [collection_data(row, member["name"]) for row in rows]},
    )


@pages.post(
    "/collections",
    summary="Make a collection",
    status_code=303,
    response_class=RedirectResponse,
    responses=redirect(
        e400="a blank or too long name",
        e409="one already has a collection of that name",
        e429="the most collections a member may have",
        to="the new collection",
    ),
)
def create_collection(
    services: ServicesDep,
    member: MemberDep,
    _csrf: CsrfDep,
    name: Name,
    description: Description = "",
    public: Public = False,
) -> Response:
    created = _create(services, member, name, description, public)
    return RedirectResponse(f"/collections/{created['id']}", status_code=303)


BIB_ANSWER: Responses = {
    200: {
        "description": "The collection's papers as BibTeX `@misc` entries, with the notes",
        "content": {"application/x-bibtex": {"schema": {"type": "string"}}},
    }
}


@pages.get(
    "/collections/{collection_id}.bib",
    summary="A collection as BibTeX",
    response_class=Response,
    responses=BIB_ANSWER | errors(e404="no such collection, or a private one of someone else"),
)
def collection_bibtex(services: ServicesDep, viewer: ViewerDep, collection_id: RowId) -> Response:
    found = visible_collection(services, viewer, collection_id)
    items = services.interests.collection_items(collection_id)
    rows = services.papers.get_many([item["paper_id"] for item in items])
    entries = [
        {**rows[item["paper_id"]], "note": item["note"]}
        for item in reversed(items)  # oldest first: the order they were collected in
        if item["paper_id"] in rows
    ]
    return Response(
        to_bibtex(entries), media_type=BIBTEX, headers={"content-disposition": _attachment(found)}
    )


@pages.get(
    "/collections/{collection_id}",
    summary="A collection's papers, with their notes",
    response_class=HTMLResponse,
    responses=html(e404="no such collection, or a private one of someone else"),
)
def collection_page(
    request: Request,
    services: ServicesDep,
    viewer: ViewerDep,
    collection_id: RowId,
    p: Annotated[int, Query(ge=1, le=10_000)] = 1,
) -> Response:
    found = visible_collection(services, viewer, collection_id)
    mine = found["member_id"] == _id(viewer)
    items = services.interests.collection_items(collection_id)
    shown = items[(p - 1) * PAGE_SIZE : p * PAGE_SIZE]
    rows = services.papers.get_many([item["paper_id"] for item in shown])
    voted = services.community.voted(viewer.member["id"], list(rows)) if viewer.member else set()
    papers = [
        {
            **card(rows[item["paper_id"]], voted=voted),
            "note": item["note"],
            "added_at": item["added_at"],
        }
        for item in shown
        if item["paper_id"] in rows
    ]
    data = {
        "collection": collection_data(found, _owner(services, found)),
        "mine": mine,
        "papers": papers,
        "page": p,
        "pages": max(1, -(-len(items) // PAGE_SIZE)),
    }
    return page(request, "collection.html", data)


@pages.post(
    "/collections/{collection_id}/edit",
    summary="Rename a collection, describe it, make it public or private",
    status_code=303,
    response_class=RedirectResponse,
    responses=redirect(
        e400="a blank or too long name",
        e404="no such collection of one's own",
        e409="one already has a collection of that name",
        to="the collection",
    ),
)
def edit_collection(
    services: ServicesDep,
    member: MemberDep,
    _csrf: CsrfDep,
    collection_id: RowId,
    name: Name,
    description: Description = "",
    public: Public = False,
) -> Response:
    services.interests.update_collection(
        member["id"], collection_id, name=name, description=description.strip(), public=public
    )
    return RedirectResponse(f"/collections/{collection_id}", status_code=303)


@pages.post(
    "/collections/{collection_id}/delete",
    summary="Delete a collection (the papers stay on the site)",
    status_code=303,
    response_class=RedirectResponse,
    responses=redirect(e404="no such collection of one's own", to="/collections"),
)
def delete_collection(
    services: ServicesDep, member: MemberDep, _csrf: CsrfDep, collection_id: RowId
) -> Response:
    services.interests.delete_collection(member["id"], collection_id)
    return RedirectResponse("/collections", status_code=303)


def _held(services: Services, collection_id: int, paper_id: str) -> str:
    """The stored id of ``paper_id`` when the collection holds it; else NotFoundError."""
    held = {item["paper_id"] for item in services.interests.collection_items(collection_id)}
    if paper_id not in held:
        paper_id = _paper(services, paper_id)["id"]
    if paper_id not in held:
        raise NotFoundError(f"the collection does not hold {paper_id[:80]}")
    return paper_id


@pages.post(
    "/collections/{collection_id}/note",
    summary="Change one's note on a paper of a collection",
    status_code=303,
    response_class=RedirectResponse,
    responses=redirect(
        e404="no such collection of one's own, or the paper is not in it", to="the collection"
    ),
)
def edit_note(
    services: ServicesDep,
    member: MemberDep,
    _csrf: CsrfDep,
    collection_id: RowId,
    paper_id: PaperField,
    note: Note = "",
) -> Response:
    own_collection(services, member, collection_id)
    held = _held(services, collection_id, paper_id)
    services.interests.add_to_collection(member["id"], collection_id, [held], note.strip())
    return RedirectResponse(f"/collections/{collection_id}", status_code=303)


@pages.post(
    "/collections/{collection_id}/remove",
    summary="Take a paper out of a collection",
    status_code=303,
    response_class=RedirectResponse,
    responses=redirect(e404="no such collection of one's own", to="the collection"),
)
def remove_paper(
    services: ServicesDep,
    member: MemberDep,
    _csrf: CsrfDep,
    collection_id: RowId,
    paper_id: PaperField,
) -> Response:
    services.interests.remove_from_collection(member["id"], collection_id, paper_id)
    return RedirectResponse(f"/collections/{collection_id}", status_code=303)


@pages.post(
    "/papers/{paper_id:path}/collect",
    summary="Save a paper to one of one's collections, or to a new one",
    status_code=303,
    response_class=RedirectResponse,
    responses=redirect(
        429,
        e400="neither a collection nor a new name, or a bad name",
        e404="no such paper, or no such collection of one's own",
        to="back to the paper's page",
    ),
)
def collect(
    services: ServicesDep,
    member: MemberDep,
    _csrf: CsrfDep,
    paper_id: str,
    collection: Annotated[int | None, Form(ge=1, le=MAX_ROW_ID), Blank] = None,
    name: Name = "",
    note: Note = "",
) -> Response:
    row = _paper(services, paper_id)
    if name.strip():
        clean = " ".join(name.split())
        found = services.interests.collection_named(member["id"], clean)
        target = found["id"] if found else _create(services, member, clean, "", False)["id"]
    elif collection is not None:
        target = collection
    else:
        raise PaperboardError("choose one of your collections or name a new one")
    services.interests.add_to_collection(member["id"], target, [row["id"]], note.strip() or None)
    return RedirectResponse(f"/papers/{row['id']}?saved={target}#collect", status_code=303)


# -- API ----------------------------------------------------------------------------------------


class NewCollection(BaseModel):
    name: str = Field(min_length=1, max_length=MAX_NAME_FIELD)
    description: str = Field("", max_length=MAX_NOTE)
    public: bool = False


class CollectionChanges(BaseModel):
    name: str | None = Field(None, min_length=1, max_length=MAX_NAME_FIELD)
    description: str | None = Field(None, max_length=MAX_NOTE)
    public: bool | None = None


class NewItems(BaseModel):
    ids: list[Annotated[str, Field(min_length=1, max_length=300)]] = Field(
        min_length=1, max_length=MAX_ITEMS, description="arXiv ids (any form) of stored papers"
    )
    note: str | None = Field(
        None, max_length=MAX_NOTE, description="Set on each of the papers (replaces old notes)"
    )


def _api_collection(services: Services, row: CollectionRow) -> dict[str, Any]:
    items = services.interests.collection_items(row["id"])
    rows = services.papers.get_many([item["paper_id"] for item in items])
    papers = []
    for item in items:
        paper = rows.get(item["paper_id"])
        if paper is not None:
            papers.append(
                {
                    "id": paper["id"],
                    "title": paper.get("title"),
                    "authors": list(paper.get("authors") or []),
                    "published_at": paper.get("published_at"),
                    "url": f"/papers/{paper['id']}",
                    "note": item["note"],
                    "added_at": item["added_at"],
                }
            )
    return {**collection_data(row, _owner(services, row)), "papers": papers}


@api.get("/collections", summary="One's collections (without their papers)")
def api_collections(services: ServicesDep, member: MemberDep) -> list[dict[str, Any]]:
    return [
        collection_data(row, member["name"])
        for row in services.interests.collections_of(member["id"])
    ]


@api.post(
    "/collections",
    summary="Make a collection",
    status_code=201,
    responses=errors(
        e400="a blank or too long name",
        e409="one already has a collection of that name",
        e429="the most collections a member may have",
    ),
)
def api_create(
    services: ServicesDep, member: MemberDep, _csrf: CsrfDep, body: NewCollection
) -> dict[str, Any]:
    created = _create(services, member, body.name, body.description, body.public)
    return collection_data(created, member["name"])


@api.get(
    "/collections/{collection_id}",
    summary="A collection with its papers and notes (a public one for anyone)",
    responses=errors(e404="no such collection, or a private one of someone else"),
)
def api_collection(
    services: ServicesDep, viewer: ViewerDep, collection_id: RowId
) -> dict[str, Any]:
    return _api_collection(services, visible_collection(services, viewer, collection_id))


@api.patch(
    "/collections/{collection_id}",
    summary="Rename a collection, describe it, make it public or private",
    responses=errors(
        e400="a blank or too long name",
        e404="no such collection of one's own",
        e409="one already has a collection of that name",
    ),
)
def api_update(
    services: ServicesDep,
    member: MemberDep,
    _csrf: CsrfDep,
    collection_id: RowId,
    body: CollectionChanges,
) -> dict[str, Any]:
    services.interests.update_collection(
        member["id"],
        collection_id,
        name=body.name,
        description=None if body.description is None else body.description.strip(),
        public=body.public,
    )
    return _api_collection(services, own_collection(services, member, collection_id))


@api.delete(
    "/collections/{collection_id}",
    summary="Delete a collection (the papers stay on the site)",
    responses=errors(e404="no such collection of one's own"),
)
def api_delete(
    services: ServicesDep, member: MemberDep, _csrf: CsrfDep, collection_id: RowId
) -> dict[str, Any]:
    services.interests.delete_collection(member["id"], collection_id)
    return {"id": collection_id, "deleted": True}


@api.post(
    "/collections/{collection_id}/papers",
    summary="Add papers to a collection, with a note",
    responses=errors(
        e404="no such collection of one's own, or no such paper",
        e429="the most papers a collection holds",
    ),
)
def api_add(
    services: ServicesDep,
    member: MemberDep,
    _csrf: CsrfDep,
    collection_id: RowId,
    body: NewItems,
) -> dict[str, Any]:
    own_collection(services, member, collection_id)
    ids = _paper_ids(services, body.ids)
    note = None if body.note is None else body.note.strip()
    added = services.interests.add_to_collection(member["id"], collection_id, ids, note)
    found = own_collection(services, member, collection_id)
    return {
        "id": collection_id,
        "ids": list(dict.fromkeys(ids)),
        "added": added,
        "size": found["size"],
    }


@api.delete(
    "/collections/{collection_id}/papers/{paper_id:path}",
    summary="Take a paper out of a collection",
    responses=errors(e404="no such collection of one's own"),
)
def api_remove(
    services: ServicesDep, member: MemberDep, _csrf: CsrfDep, collection_id: RowId, paper_id: str
) -> dict[str, Any]:
    removed = services.interests.remove_from_collection(member["id"], collection_id, paper_id)
    return {"id": collection_id, "paper": paper_id, "removed": removed}


# One router for app.py, holding the routes themselves (each made with its router's prefix and
# tags): ``include_router`` would nest them, out of sight of ``openapi.describe``.
router = APIRouter()
router.routes.extend([*pages.routes, *api.routes])
