"""A member's own account (password, API tokens, export, deletion) and paper submission."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from paperboard.core.errors import LimitError, NotFoundError, PaperboardError
from paperboard.core.ids import parse_arxiv_id
from paperboard.core.passwords import check_new_password, hash_password, verify_password
from paperboard.present.serialize import json_ready
from paperboard.present.web.deps import (
    CsrfDep,
    MemberDep,
    RowId,
    ServicesDep,
    SessionMemberDep,
    ViewerDep,
)
from paperboard.present.web.openapi import html, redirect
from paperboard.present.web.rendering import page
from paperboard.present.web.security import claim_or_refuse, clear_session_cookie
from paperboard.present.web.services import Services
from paperboard.store.rows import CountedPaperRow, MemberRow

router = APIRouter(tags=["members"])

Password = Annotated[str, Form(min_length=1, max_length=1024)]
PASSWORD_RESET_NOTICE = "password set; other sessions were signed out and API tokens were revoked"


def _account(request: Request, services: Services, member: MemberRow, **extra: Any) -> Response:
    data = {
        "member": {
            **{k: member[k] for k in ("id", "email", "name", "role", "created_at")},
            "email_verified": member["email_verified_at"] is not None,
        },
        "tokens": services.members.tokens(member["id"]),
        "submitted_today": services.community.submissions_on(
            member["id"], datetime.now(UTC).date()
        ),
        "submit_quota": services.settings.submit_daily_quota,
        "digest": _digest_settings(services, member),
    }
    return page(
        request,
        "account.html",
        data,
        html_only=extra,
        status_code=400 if extra.get("error") else 200,
    )


def _digest_settings(services: Services, member: MemberRow) -> dict[str, Any] | None:
    found = services.digests.for_member(member)
    if found is None:
        return None
    keys = (
        "email",
        "frequency",
        "categories",
        "keywords",
        "for_you",
        "confirmed_at",
        "unsubscribed_at",
    )
    return {key: value for key, value in found.items() if key in keys}


@router.get("/account", summary="One's account", response_class=HTMLResponse, responses=html())
def account(
    request: Request,
    services: ServicesDep,
    viewer: ViewerDep,
    member: MemberDep,
    password: Annotated[str | None, Query(max_length=10)] = None,
    verify: Annotated[str | None, Query(max_length=10)] = None,
) -> Response:
    if password == "reset":  # where a password reset lands
        return _account(request, services, member, notice=PASSWORD_RESET_NOTICE)
    if verify == "sent" and member["email_verified_at"] is None:
        notice = f"a new link is on its way to {member['email']}"
        return _account(request, services, member, notice=notice)
    return _account(request, services, member)


@router.post(
    "/account/password",
    summary="Change one's password",
    response_class=HTMLResponse,
    responses=html(e400="the current password is wrong, or the new one weak"),
)
def change_password(
    request: Request,
    services: ServicesDep,
    viewer: ViewerDep,
    member: SessionMemberDep,
    _csrf: CsrfDep,
    current: Password,
    new: Password,
) -> Response:
    if not verify_password(member["password_hash"], current):
        return _account(request, services, member, error="the current password is not right")
    try:
        check_new_password(new)
    except PaperboardError as error:
        return _account(request, services, member, error=str(error))
    services.members.set_password(
        member["id"], hash_password(new), keep_session=viewer.session_token
    )
    return _account(
        request,
        services,
        member,
        notice="password changed; other sessions were signed out and API tokens were revoked",
    )


@router.post(
    "/account/tokens",
    summary="Create a personal API token",
    response_class=HTMLResponse,
    responses=html(),
)
def create_token(
    request: Request,
    services: ServicesDep,
    viewer: ViewerDep,
    member: SessionMemberDep,
    _csrf: CsrfDep,
    name: Annotated[str, Form(max_length=80)] = "token",
) -> Response:
    token = services.members.create_token(member["id"], name)
    return _account(request, services, member, new_token=token)


@router.post(
    "/account/tokens/{token_id}/delete",
    summary="Revoke a personal API token",
    status_code=303,
    response_class=RedirectResponse,
    responses=redirect(e404="no such token of one's own", to="/account"),
)
def revoke_token(
    services: ServicesDep, member: SessionMemberDep, _csrf: CsrfDep, token_id: RowId
) -> Response:
    if not services.members.revoke_token(member["id"], token_id):
        raise NotFoundError(f"no token {token_id}")
    return RedirectResponse("/account", status_code=303)


@router.get("/account/export", summary="Download everything stored about oneself (JSON)")
def export(services: ServicesDep, member: SessionMemberDep) -> Response:
    body = orjson.dumps(
        json_ready(services.members.export(member["id"])), option=orjson.OPT_INDENT_2
    )
    return Response(
        body,
        media_type="application/json",
        headers={"content-disposition": 'attachment; filename="paperboard-account.json"'},
    )


@router.post(
    "/account/delete",
    summary="Delete one's account",
    response_class=HTMLResponse,
    responses=html(e400="the password is wrong") | redirect(to="/, signed out"),
)
def delete_account(
    request: Request,
    services: ServicesDep,
    viewer: ViewerDep,
    member: SessionMemberDep,
    _csrf: CsrfDep,
    password: Password,
) -> Response:
    if not verify_password(member["password_hash"], password):
        return _account(
            request, services, member, error="the password is not right: the account is kept"
        )
    services.members.delete(member["id"])
    response = RedirectResponse("/", status_code=303)
    clear_session_cookie(response)
    return response


# -- submitting papers -------------------------------------------------------------------------


def submit_paper(services: Services, member: MemberRow, text: str) -> tuple[CountedPaperRow, bool]:
    """Submit an arXiv paper by id or URL: fetched through the arXiv source when not stored yet,
    checked against the quota and the maximum age, put on today's feed. Returns (paper, whether
    this was a new submission)."""
    arxiv_id = parse_arxiv_id(text).id
    today = datetime.now(UTC).date()
    settings = services.settings
    existing = services.community.submission(arxiv_id)
    if existing is not None:
        row = services.papers.get(arxiv_id)
        assert row is not None
        return row, False
    quota = settings.submit_daily_quota
    submitted = services.community.submissions_on(member["id"], today)
    # An early refusal, before fetching from arXiv; ``submit`` checks again as it inserts.
    if submitted >= quota:
        raise LimitError(
            f"you have submitted {quota} papers today, the daily quota: try again tomorrow"
        )
    lookup = None
    row = services.papers.get(arxiv_id)
    if row is None:
        # Each look-up at arXiv counts against the quota until it ends in a submission, so ids
        # arXiv does not have (or papers too old) cannot make the site query arXiv without end.
        lookup = claim_or_refuse(
            services.members,
            {f"arxiv-lookup:member:{member['id']}": quota - submitted},
            timedelta(days=1),
            f"you have used the daily quota of {quota} submissions (looking up papers that "
            "could not be submitted counts too): try again tomorrow",
        )
        row = fetch_from_arxiv(services, arxiv_id)
    published = row.get("published_at")
    if published is not None and published < datetime.now(UTC) - timedelta(
        days=settings.submit_max_age_days
    ):
        raise PaperboardError(
            f"{arxiv_id} first appeared on {published:%Y-%m-%d}: only papers from the last "
            f"{settings.submit_max_age_days} days can be submitted"
        )
    new = services.community.submit(arxiv_id, member["id"], member["name"], today, quota=quota)
    if lookup is not None and new:
        services.members.withdraw_attempt(list(lookup.values()))  # counted as the submission
    refresh_lexical(services)
    stored = services.papers.get(arxiv_id)
    assert stored is not None
    return stored, new


def fetch_from_arxiv(services: Services, arxiv_id: str) -> CountedPaperRow:
    from paperboard.sources.arxiv_api import ArxivApiSource
    from paperboard.sources.http import PoliteClient
    from paperboard.store.importer import run_import

    settings = services.settings
    # One client per process, one request at a time: arXiv's pause holds across submissions.
    with services.arxiv_lock:
        if services.arxiv_client is None:
            services.arxiv_client = PoliteClient.for_url(settings, settings.arxiv_api_url)
        source = ArxivApiSource(services.arxiv_client, settings.arxiv_api_url, ids=[arxiv_id])
        report = run_import(services.papers, source, processes=1)
    if report.failure:
        raise PaperboardError(f"could not fetch {arxiv_id} from arXiv: {report.failure}")
    row = services.papers.get(arxiv_id)
    if row is None:
        raise NotFoundError(f"arXiv has no paper {arxiv_id}")
    return row


def refresh_lexical(services: Services) -> None:
    """Index what just changed so it is searchable at once; when another process holds the index
    writer, the next ``paperboard index`` (or the worker) catches up instead."""
    import logging

    from paperboard.index.indexer import sync_lexical

    try:
        sync_lexical(services.papers, services.search_index(), upgrade=False)
    except Exception as error:  # the submission itself is already stored
        logging.getLogger(__name__).warning("lexical index not updated now: %s", error)


@router.get(
    "/submit", summary="Form to submit a paper", response_class=HTMLResponse, responses=html()
)
def submit_form(
    request: Request, services: ServicesDep, viewer: ViewerDep, member: MemberDep
) -> Response:
    return page(
        request,
        "submit.html",
        {
            "quota": services.settings.submit_daily_quota,
            "max_age_days": services.settings.submit_max_age_days,
        },
    )


@router.post(
    "/submit",
    summary="Submit a paper by arXiv id or URL",
    response_class=HTMLResponse,
    responses=html(e400="refused (quota, age, not on arXiv)") | redirect(to="the paper"),
)
def submit(
    request: Request,
    services: ServicesDep,
    viewer: ViewerDep,
    member: MemberDep,
    _csrf: CsrfDep,
    paper: Annotated[str, Form(min_length=1, max_length=300)],
) -> Response:
    try:
        row, _new = submit_paper(services, member, paper)
    except PaperboardError as error:
        return page(
            request,
            "submit.html",
            {
                "quota": services.settings.submit_daily_quota,
                "max_age_days": services.settings.submit_max_age_days,
                "error": str(error),
                "paper": paper,
            },
            status_code=400,
        )
    return RedirectResponse(f"/papers/{row['id']}", status_code=303)
