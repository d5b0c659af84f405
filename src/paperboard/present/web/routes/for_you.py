""" "For you": a member's picks with their reasons, the signals that teach it ("more like this",
"not interested", read) from any card or paper page, the mix they tune, and a first-run start
(categories, then about ten papers to rate). Every page works without JavaScript and has a JSON
twin; the API under ``/api/me/...`` does the same with a personal token."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import BaseModel, Field

from paperboard.core.errors import PaperboardError
from paperboard.present.web.deps import CsrfDep, MemberDep, RowId, ServicesDep, Viewer, ViewerDep
from paperboard.present.web.openapi import html, redirect
from paperboard.present.web.rendering import card, page
from paperboard.present.web.services import Services
from paperboard.rank.for_you import Signal
from paperboard.rank.recommend import MAX_SIGNALS, MemberInterests, interests_of, recommend_for
from paperboard.store.interests import SIGNALS
from paperboard.store.rows import MemberRow

router = APIRouter(tags=["for you"])
START_PAPERS = 10
Kind = Literal["more", "less", "read"]


def _picks(services: Services, member: MemberRow, k: int) -> list[dict[str, Any]]:
    interests = interests_of(services.community, services.interests, member["id"])
    subscriber = services.digests.for_member(member)
    if subscriber is not None:
        interests.keywords = list(subscriber["keywords"] or [])
        interests.categories = interests.categories or list(subscriber["categories"] or [])
    pool = services.pools.get(services.papers)
    picks = recommend_for(services.search_index(), services.papers, interests, pool, k=k)
    marks = services.interests.marks(member["id"], [p.id for p in picks])
    out = []
    for pick in picks:
        entry = card(pick.paper)
        entry.update(
            reason=pick.reason,
            because=pick.because,
            score=round(pick.score, 4),
            marks=sorted(marks.get(pick.id, ())),
        )
        out.append(entry)
    return out


def _settings(services: Services, member: MemberRow) -> dict[str, Any]:
    return dict(services.interests.settings(member["id"]))


@router.get("/for-you", summary="Papers picked for you, each with why", responses=html())
def for_you_page(
    request: Request,
    services: ServicesDep,
    member: MemberDep,
    k: Annotated[int, Query(ge=1, le=100)] = 30,
) -> Response:
    settings = _settings(services, member)
    papers = _picks(services, member, k)
    started = bool(settings["onboarded_at"]) or bool(papers)
    return page(
        request,
        "for_you.html",
        {"papers": papers, "mix": settings, "start": None if started else "/for-you/start"},
    )


@router.post(
    "/for-you/settings",
    summary="Tune the mix of your picks",
    status_code=303,
    response_class=RedirectResponse,
    responses=redirect(to="back to /for-you"),
)
def save_mix(
    services: ServicesDep,
    member: MemberDep,
    _csrf: CsrfDep,
    exploration: Annotated[float, Form(ge=0, le=1)] = 0.0,
    popularity: Annotated[float, Form(ge=0, le=1)] = 0.0,
    only_categories: Annotated[bool, Form()] = False,
    hide_read: Annotated[bool, Form()] = False,
    categories: Annotated[str, Form(max_length=500)] = "",
) -> Response:
    services.interests.save_settings(
        member["id"],
        exploration=exploration,
        popularity=popularity,
        only_categories=only_categories,
        hide_read=hide_read,
        categories=categories.replace(",", " ").split(),
    )
    return RedirectResponse("/for-you", status_code=303)


@router.post(
    "/papers/{paper_id:path}/signal",
    summary="More like this, not interested, or read (undo=true takes it back)",
    status_code=303,
    response_class=RedirectResponse,
    responses=redirect(e404="no such paper", to="back to the page"),
)
def signal_form(
    request: Request,
    services: ServicesDep,
    member: MemberDep,
    _csrf: CsrfDep,
    paper_id: str,
    kind: Annotated[Kind, Form()],
    undo: Annotated[bool, Form()] = False,
) -> Response:
    from paperboard.present.web.routes.papers import _same_site, find_paper

    row = find_paper(services, paper_id)
    if undo:
        services.interests.clear_signal(member["id"], row["id"], kind)
    else:
        services.interests.set_signal(member["id"], row["id"], kind)
    back = request.headers.get("referer") or f"/papers/{row['id']}"
    return RedirectResponse(_same_site(back, row["id"]), status_code=303)


def _start_papers(services: Services, categories: list[str]) -> list[dict[str, Any]]:
    """About ten papers that cover the chosen categories: the most upvoted of the last months in
    each, taken in turn, so every area gets a say."""
    from datetime import timedelta

    end = services.papers.latest_feed_date()
    if end is None:
        return []
    start = end - timedelta(days=120)
    lists = [
        services.papers.list_papers(start, end, category=category, limit=START_PAPERS)
        for category in (categories or [None])  # type: ignore[list-item]
    ]
    chosen: dict[str, Any] = {}
    for turn in range(START_PAPERS):
        for rows in lists:
            if turn < len(rows) and len(chosen) < START_PAPERS:
                chosen.setdefault(rows[turn]["id"], rows[turn])
    return [card(row) for row in chosen.values()]


def _top_categories(services: Services, limit: int = 24) -> list[str]:
    counts = services.papers.stats()["by_primary_category"]
    return [name for name in counts if name != "unknown"][:limit]


@router.get("/for-you/start", summary="Start: choose categories, rate ten papers", responses=html())
def start_page(
    request: Request,
    services: ServicesDep,
    member: MemberDep,
    categories: Annotated[list[str] | None, Query(max_length=50)] = None,
    step: Annotated[Literal["areas", "rate"], Query()] = "areas",
) -> Response:
    chosen = [c for c in categories or [] if c.strip()][:50]
    return page(
        request,
        "for_you_start.html",
        {
            "categories": _top_categories(services),
            "chosen": chosen,
            "papers": _start_papers(services, chosen) if step == "rate" else [],
        },
    )


@router.post(
    "/for-you/start",
    summary="Save the start's ratings and categories",
    status_code=303,
    response_class=RedirectResponse,
    responses=redirect(to="/for-you"),
)
async def start_save(
    request: Request, services: ServicesDep, member: MemberDep, _csrf: CsrfDep
) -> Response:
    from datetime import UTC, datetime

    form = await request.form()
    categories = [str(c) for c in form.getlist("categories")][:50]
    for key, value in form.multi_items():
        if key.startswith("rate:") and value in ("more", "less"):
            try:
                services.interests.set_signal(member["id"], key[5:], value)  # type: ignore[arg-type]
            except PaperboardError:
                continue  # a paper deleted meanwhile: the rest still count
    services.interests.save_settings(
        member["id"], categories=categories, onboarded_at=datetime.now(UTC)
    )
    return RedirectResponse("/for-you", status_code=303)


def _collection_picks(
    services: Services, viewer: Viewer, collection_id: int, k: int
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """A collection's own "for you": a model trained on its papers alone (Semantic Scholar's
    per-folder feed), over the same pool; the collection's papers never come back."""
    from paperboard.present.web.routes.collections import visible_collection

    found = visible_collection(services, viewer, collection_id)
    items = services.interests.collection_items(collection_id)[:MAX_SIGNALS]
    why = f"in the collection “{found['name']}”"
    member = MemberInterests(
        signals=[Signal(i["paper_id"], 1.0, why, i["added_at"]) for i in items],
        hidden={i["paper_id"] for i in items},
    )
    if viewer.member is not None:  # what the reader refused or read stays out
        mine = interests_of(services.community, services.interests, viewer.member["id"])
        member.hidden |= {s.paper_id for s in mine.signals if s.weight < 0}
    pool = services.pools.get(services.papers)
    picks = recommend_for(services.search_index(), services.papers, member, pool, k=k)
    out = []
    for pick in picks:
        entry = card(pick.paper)
        entry.update(reason=pick.reason, because=pick.because, score=round(pick.score, 4))
        out.append(entry)
    about = {"id": found["id"], "name": found["name"], "url": f"/collections/{found['id']}"}
    return about, out


@router.get(
    "/collections/{collection_id}/for-you",
    summary="Papers picked for a collection, from its papers alone",
    responses=html(e404="no such collection, or a private one of someone else"),
)
def collection_for_you(
    request: Request,
    services: ServicesDep,
    viewer: ViewerDep,
    collection_id: RowId,
    k: Annotated[int, Query(ge=1, le=100)] = 30,
) -> Response:
    about, papers = _collection_picks(services, viewer, collection_id, k)
    return page(
        request, "for_you.html", {"papers": papers, "collection": about, "mix": None, "start": None}
    )


@router.get(
    "/api/collections/{collection_id}/for-you",
    summary="Papers picked for a collection, each with its reason",
    tags=["api"],
)
def api_collection_for_you(
    services: ServicesDep,
    viewer: ViewerDep,
    collection_id: RowId,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
) -> dict[str, Any]:
    about, papers = _collection_picks(services, viewer, collection_id, limit)
    return {"collection": about, "papers": papers}


# -- API ------------------------------------------------------------------------------------------


class MixSettings(BaseModel):
    exploration: float | None = Field(None, ge=0, le=1)
    popularity: float | None = Field(None, ge=0, le=1)
    only_categories: bool | None = None
    hide_read: bool | None = None
    categories: list[Annotated[str, Field(max_length=40)]] | None = Field(None, max_length=50)


@router.get("/api/me/for-you", summary="Your picks, each with its reason", tags=["api"])
def api_for_you(
    services: ServicesDep,
    member: MemberDep,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
) -> dict[str, Any]:
    return {"papers": _picks(services, member, limit)}


@router.get("/api/me/signals", summary="Your signals by kind, newest first", tags=["api"])
def api_signals(services: ServicesDep, member: MemberDep) -> dict[str, Any]:
    marks = services.interests.signals_of(member["id"])
    return {kind: [{"id": pid, "at": at} for pid, at in marks.get(kind, [])] for kind in SIGNALS}


@router.put(
    "/api/me/signals/{kind}/{paper_id:path}", summary="Give a signal on a paper", tags=["api"]
)
def api_signal(
    services: ServicesDep, member: MemberDep, _csrf: CsrfDep, kind: Kind, paper_id: str
) -> dict[str, Any]:
    from paperboard.present.web.routes.papers import find_paper

    row = find_paper(services, paper_id)
    changed = services.interests.set_signal(member["id"], row["id"], kind)
    return {"id": row["id"], "kind": kind, "changed": changed}


@router.delete("/api/me/signals/{kind}/{paper_id:path}", summary="Take a signal back", tags=["api"])
def api_unsignal(
    services: ServicesDep, member: MemberDep, _csrf: CsrfDep, kind: Kind, paper_id: str
) -> dict[str, Any]:
    from paperboard.present.web.routes.papers import find_paper

    row = find_paper(services, paper_id)
    changed = services.interests.clear_signal(member["id"], row["id"], kind)
    return {"id": row["id"], "kind": kind, "changed": changed}


@router.get("/api/me/for-you/settings", summary="How your picks mix", tags=["api"])
def api_mix(services: ServicesDep, member: MemberDep) -> dict[str, Any]:
    return _settings(services, member)


@router.patch("/api/me/for-you/settings", summary="Tune how your picks mix", tags=["api"])
def api_save_mix(
    services: ServicesDep, member: MemberDep, _csrf: CsrfDep, body: MixSettings
) -> dict[str, Any]:
    changes = body.model_dump(exclude_none=True)
    return dict(services.interests.save_settings(member["id"], **changes))
