"""Saved searches: saving one from the search page, the member's list (with each one's private
feeds, webhook and recent deliveries), the private feeds themselves and the API calls.

A saved search's feeds need no sign-in: the unguessable token in their address is the secret, so
a feed reader can fetch them; only the member who saved the search sees that address."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Form, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse
from pydantic import BaseModel, Field

from paperboard.core.errors import NotFoundError
from paperboard.present.web.deps import CsrfDep, MemberDep, RowId, ServicesDep, ViewerDep
from paperboard.present.web.openapi import Responses, errors, html, redirect
from paperboard.present.web.rendering import page
from paperboard.present.web.routes.feed import Blank
from paperboard.present.web.routes.feeds import CATEGORY, render_feed
from paperboard.present.web.services import Services
from paperboard.present.webhooks import (
    MAX_URL,
    check_search,
    clean_filters,
    clean_webhook_url,
    newest_matches,
    search_link,
)
from paperboard.store.interests import MAX_NAME, SavedSearchRow
from paperboard.store.rows import MemberRow

router = APIRouter()
RECENT_DELIVERIES = 10

Mode = Literal["hybrid", "lexical", "dense"]


def saved_data(services: Services, row: SavedSearchRow) -> dict[str, Any]:
    """A saved search as its owner sees it (on the list page, in its JSON twin and the API)."""
    base = services.settings.base_url
    deliveries = services.interests.deliveries_of(row["id"])
    counts = dict.fromkeys(("pending", "sent", "failed"), 0)
    for delivery in deliveries:
        counts[delivery["state"]] = counts.get(delivery["state"], 0) + 1
    return {
        "id": row["id"],
        "name": row["name"],
        "query": row["query"],
        "mode": row["mode"],
        "filters": row["filters"] or {},
        "url": search_link(row),
        "feeds": {
            "atom": f"{base}/feeds/saved/{row['token']}.atom",
            "rss": f"{base}/feeds/saved/{row['token']}.rss",
        },
        "webhook_url": row["webhook_url"],
        "created_at": row["created_at"],
        "checked_at": row["checked_at"],
        "deliveries": {
            **counts,
            "recent": [
                {
                    "paper_id": d["paper_id"],
                    "state": d["state"],
                    "attempts": d["attempts"],
                    "last_error": d["last_error"],
                }
                for d in reversed(deliveries[-RECENT_DELIVERIES:])
            ],
        },
    }


def own_saved_search(services: Services, member: MemberRow, search_id: int) -> SavedSearchRow:
    """The member's saved search; NotFoundError for anyone else's (theirs cannot be told apart
    from none)."""
    found = services.interests.saved_search(search_id)
    if found is None or found["member_id"] != member["id"]:
        raise NotFoundError(f"no saved search {search_id} of yours")
    return found


def create_saved_search(
    services: Services,
    member: MemberRow,
    name: str,
    query: str,
    mode: str,
    filters: dict[str, Any],
    webhook_url: str | None = None,
) -> SavedSearchRow:
    check_search(query, mode, filters)
    return services.interests.save_search(
        member["id"],
        name,
        query,
        mode=mode,
        filters=filters,
        webhook_url=clean_webhook_url(webhook_url),
    )


# -- pages -----------------------------------------------------------------------------------------


@router.get(
    "/saved-searches",
    tags=["members"],
    summary="One's saved searches, with their private feeds and webhooks",
    response_class=HTMLResponse,
    responses=html(),
)
def saved_searches(
    request: Request, services: ServicesDep, viewer: ViewerDep, member: MemberDep
) -> Response:
    rows = services.interests.saved_searches_of(member["id"])
    data = {
        "saved_searches": [saved_data(services, row) for row in rows],
        "max_url": MAX_URL,
    }
    return page(request, "saved_searches.html", data)


@router.post(
    "/saved-searches",
    tags=["members"],
    summary="Save a search (its words, ranking and filters) under a name",
    status_code=303,
    response_class=RedirectResponse,
    responses=redirect(
        e400="no name, a query that cannot be run, or no words nor filters",
        e409="one's saved search of that name exists",
        e429="too many saved searches",
        to="/saved-searches",
    ),
)
def save(
    services: ServicesDep,
    viewer: ViewerDep,
    member: MemberDep,
    _csrf: CsrfDep,
    name: Annotated[str, Form(max_length=MAX_NAME * 4)],
    q: Annotated[str, Form(max_length=1000)] = "",
    mode: Annotated[Mode, Form()] = "hybrid",
    category: Annotated[str | None, Form(max_length=40, pattern=CATEGORY.pattern), Blank] = None,
    since: Annotated[date | None, Form(), Blank] = None,
    until: Annotated[date | None, Form(), Blank] = None,
    code: Annotated[bool | None, Form(), Blank] = None,
) -> Response:
    filters = clean_filters(category, since, until, code)
    create_saved_search(services, member, name, q, mode, filters)
    return RedirectResponse("/saved-searches", status_code=303)


@router.post(
    "/saved-searches/{search_id}/webhook",
    tags=["members"],
    summary="Set or clear a saved search's webhook",
    status_code=303,
    response_class=RedirectResponse,
    responses=redirect(
        e400="not an http(s) URL, or too long",
        e404="no such saved search of one's own",
        to="/saved-searches",
    ),
)
def set_webhook(
    services: ServicesDep,
    member: MemberDep,
    _csrf: CsrfDep,
    search_id: RowId,
    webhook_url: Annotated[str, Form(max_length=MAX_URL * 4)] = "",
) -> Response:
    own_saved_search(services, member, search_id)
    url = clean_webhook_url(webhook_url)
    services.interests.update_saved_search(member["id"], search_id, webhook_url=url)
    return RedirectResponse("/saved-searches", status_code=303)


@router.post(
    "/saved-searches/{search_id}/delete",
    tags=["members"],
    summary="Delete a saved search (its feeds stop, its webhook gets nothing more)",
    status_code=303,
    response_class=RedirectResponse,
    responses=redirect(e404="no such saved search of one's own", to="/saved-searches"),
)
def delete(services: ServicesDep, member: MemberDep, _csrf: CsrfDep, search_id: RowId) -> Response:
    services.interests.delete_saved_search(member["id"], search_id)
    return RedirectResponse("/saved-searches", status_code=303)


# -- private feeds ---------------------------------------------------------------------------------


def _feed(services: Services, token: str, fmt: str) -> Response:
    found = services.interests.saved_search_by_token(token)
    if found is None:
        raise NotFoundError("no such saved search feed")
    rows = newest_matches(services, found)
    response = render_feed(
        services,
        f"{found['name']}: papers about “{found['query']}”"
        if found["query"]
        else f"{found['name']}: papers",
        f"/feeds/saved/{token}.{fmt}",
        search_link(found),
        rows,
        fmt,
    )
    response.headers["Cache-Control"] = "private, max-age=60"
    response.headers["X-Robots-Tag"] = "noindex"
    return response


def _feed_answer(media: str, what: str) -> Responses:
    return {
        200: {
            "description": f"{what}: the newest 50 papers the saved search matches",
            "content": {media: {"schema": {"type": "string"}}},
        },
        **errors(e404="no saved search has this token"),
    }


@router.get(
    "/feeds/saved/{token}.atom",
    tags=["feeds"],
    summary="A saved search's private feed (Atom 1.0)",
    response_class=Response,
    responses=_feed_answer("application/atom+xml", "Atom 1.0"),
)
def saved_atom(services: ServicesDep, token: str) -> Response:
    return _feed(services, token, "atom")


@router.get(
    "/feeds/saved/{token}.rss",
    tags=["feeds"],
    summary="A saved search's private feed (RSS 2.0)",
    response_class=Response,
    responses=_feed_answer("application/rss+xml", "RSS 2.0"),
)
def saved_rss(services: ServicesDep, token: str) -> Response:
    return _feed(services, token, "rss")


# -- API -------------------------------------------------------------------------------------------


class SavedFilters(BaseModel):
    category: Annotated[str | None, Field(max_length=40, pattern=CATEGORY.pattern)] = None
    since: date | None = None
    until: date | None = None
    code: Annotated[
        bool | None, Field(description="only papers with (true) or without (false) a code link")
    ] = None


class NewSavedSearch(BaseModel):
    name: str = Field(min_length=1, max_length=MAX_NAME)
    query: str = Field("", max_length=500, description="the search's words, as on /papers")
    mode: Mode = "hybrid"
    filters: SavedFilters = Field(default_factory=lambda: SavedFilters())
    webhook_url: str | None = Field(None, max_length=MAX_URL)


class SavedSearchChange(BaseModel):
    name: str | None = Field(None, min_length=1, max_length=MAX_NAME)
    webhook_url: str | None = Field(
        None, max_length=MAX_URL, description="an http(s) URL; null or empty clears the webhook"
    )


class SavedDelivery(BaseModel):
    paper_id: str
    state: str = Field(description="pending, sent or failed")
    attempts: int
    last_error: str | None


class SavedDeliveries(BaseModel):
    pending: int
    sent: int
    failed: int
    recent: list[SavedDelivery] = Field(description="the newest ten, newest first")


class SavedFeeds(BaseModel):
    atom: str
    rss: str


class SavedSearch(BaseModel):
    id: int
    name: str
    query: str
    mode: str
    filters: dict[str, Any]
    url: str = Field(description="the search page that runs it")
    feeds: SavedFeeds = Field(description="its private feeds (the token in them is the secret)")
    webhook_url: str | None
    created_at: datetime
    checked_at: datetime | None = Field(description="how far its webhook has looked")
    deliveries: SavedDeliveries


@router.get(
    "/api/saved-searches",
    tags=["api"],
    summary="One's saved searches",
    response_model=list[SavedSearch],
)
def api_list(services: ServicesDep, member: MemberDep) -> list[dict[str, Any]]:
    return [saved_data(services, row) for row in services.interests.saved_searches_of(member["id"])]


@router.post(
    "/api/saved-searches",
    tags=["api"],
    summary="Save a search",
    status_code=201,
    response_model=SavedSearch,
    responses=errors(
        e400="a query that cannot be run, no words nor filters, or a bad webhook URL",
        e409="one's saved search of that name exists",
        e429="too many saved searches",
    ),
)
def api_create(
    services: ServicesDep, member: MemberDep, _csrf: CsrfDep, body: NewSavedSearch
) -> dict[str, Any]:
    filters = clean_filters(**body.filters.model_dump())
    row = create_saved_search(
        services, member, body.name, body.query, body.mode, filters, body.webhook_url
    )
    return saved_data(services, row)


@router.get(
    "/api/saved-searches/{search_id}",
    tags=["api"],
    summary="One saved search, with its recent deliveries",
    response_model=SavedSearch,
    responses=errors(e404="no such saved search of one's own"),
)
def api_get(services: ServicesDep, member: MemberDep, search_id: RowId) -> dict[str, Any]:
    return saved_data(services, own_saved_search(services, member, search_id))


@router.patch(
    "/api/saved-searches/{search_id}",
    tags=["api"],
    summary="Rename a saved search, or set or clear its webhook",
    response_model=SavedSearch,
    responses=errors(
        e400="an empty name or a bad webhook URL",
        e404="no such saved search of one's own",
        e409="one's saved search of that name exists",
    ),
)
def api_change(
    services: ServicesDep,
    member: MemberDep,
    _csrf: CsrfDep,
    search_id: RowId,
    body: SavedSearchChange,
) -> dict[str, Any]:
    own_saved_search(services, member, search_id)
    changes: dict[str, Any] = {}
    if body.name is not None:
        changes["name"] = body.name
    if "webhook_url" in body.model_fields_set:
        changes["webhook_url"] = clean_webhook_url(body.webhook_url)
    row = services.interests.update_saved_search(member["id"], search_id, **changes)
    return saved_data(services, row)


@router.delete(
    "/api/saved-searches/{search_id}",
    tags=["api"],
    summary="Delete a saved search",
    responses=errors(e404="no such saved search of one's own"),
)
def api_delete(
    services: ServicesDep, member: MemberDep, _csrf: CsrfDep, search_id: RowId
) -> dict[str, Any]:
    services.interests.delete_saved_search(member["id"], search_id)
    return {"id": search_id, "deleted": True}
