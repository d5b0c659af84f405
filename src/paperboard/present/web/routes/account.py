"""A member's own account (password, API tokens, export, deletion) and paper submission, with
the status page of a submission waiting for arXiv."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, BackgroundTasks, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from paperboard.core.errors import LimitError, NotFoundError, PaperboardError
from paperboard.core.ids import parse_arxiv_id
from paperboard.core.passwords import check_new_password, hash_password, verify_password
from paperboard.present.serialize import json_ready
from paperboard.present.submitting import submit_stored
from paperboard.present.web.deps import (
    CsrfDep,
    MemberDep,
    RowId,
    ServicesDep,
    SessionMemberDep,
    Viewer,
    ViewerDep,
)
from paperboard.present.web.openapi import html, redirect
from paperboard.present.web.rendering import page
from paperboard.present.web.security import clear_session_cookie
from paperboard.present.web.services import Services
from paperboard.store.rows import CountedPaperRow, MemberRow, SubmissionRequestRow
from paperboard.store.submission_requests import FETCHED

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


@dataclass
class Submitted:
    """What a submission came to at once: the paper on the feed (``new`` when this member's
    submission put it there), or the ``request`` queued for arXiv to be asked in the background."""

    paper: CountedPaperRow | None = None
    new: bool = False
    request: SubmissionRequestRow | None = None


def submit_paper(services: Services, member: MemberRow, text: str) -> Submitted:
    """Submit an arXiv paper by id or URL, checked against the quota. A stored paper (checked
    against the maximum age) is put on today's feed at once; any other is queued, to be fetched
    from arXiv by :meth:`Services.complete_submission` after the answer is sent."""
    arxiv_id = parse_arxiv_id(text).id
    today = datetime.now(UTC).date()
    settings = services.settings
    if services.community.submission(arxiv_id) is not None:
        row = services.papers.get(arxiv_id)
        assert row is not None
        return Submitted(row)
    pending = services.submission_requests.pending(member["id"], arxiv_id)
    if pending is not None:  # asked again while it is fetched: the same request, no new look-up
        return Submitted(request=pending)
    quota = settings.submit_daily_quota
    submitted = services.community.submissions_on(member["id"], today)
    # An early refusal, before asking arXiv; ``submit`` checks again as it inserts.
    if submitted >= quota:
        raise LimitError(
            f"you have submitted {quota} papers today, the daily quota: try again tomorrow"
        )
    row = services.papers.get(arxiv_id)
    if row is not None:
        paper, new = submit_stored(services, member, row)
        return Submitted(paper, new)
    # Each look-up at arXiv counts against the quota until it ends in a submission, so ids
    # arXiv does not have (or papers too old) cannot make the site query arXiv without end.
    queued = services.submission_requests.queue(
        member["id"],
        arxiv_id,
        quota=quota,
        key=f"arxiv-lookup:member:{member['id']}",
        window=timedelta(days=1),
    )
    if queued is None:
        raise LimitError(
            f"you have used the daily quota of {quota} submissions (looking up papers that "
            "could not be submitted counts too): try again tomorrow"
        )
    return Submitted(request=queued)


def submission_data(request: SubmissionRequestRow) -> dict[str, Any]:
    """A submission as its status page and the API show it."""
    state = request["state"]
    return {
        "id": request["id"],
        "arxiv_id": request["arxiv_id"],
        "state": state,
        "error": request["error"],
        "tries": request["tries"],
        "created_at": request["created_at"],
        "updated_at": request["updated_at"],
        "url": f"/submissions/{request['id']}",
        "paper_url": f"/papers/{request['arxiv_id']}" if state == FETCHED else None,
    }


def own_submission(services: Services, viewer: Viewer, request_id: int) -> SubmissionRequestRow:
    """A submission its member (or an admin) may see; NotFoundError for anyone else, so that
    others cannot even tell it exists."""
    found = services.submission_requests.get(request_id)
    member = viewer.member
    if (
        found is None
        or member is None
        or (found["member_id"] != member["id"] and member["role"] != "admin")
    ):
        raise NotFoundError(f"no submission {request_id}")
    return found


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
    responses=html(e400="refused (a bad id, the quota, a stored paper too old)")
    | redirect(to="the paper when it is stored, else the submission's status page"),
)
def submit(
    request: Request,
    background: BackgroundTasks,
    services: ServicesDep,
    viewer: ViewerDep,
    member: MemberDep,
    _csrf: CsrfDep,
    paper: Annotated[str, Form(min_length=1, max_length=300)],
) -> Response:
    try:
        submitted = submit_paper(services, member, paper)
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
    if submitted.request is not None:
        background.add_task(services.complete_submission, submitted.request["id"])
        return RedirectResponse(f"/submissions/{submitted.request['id']}", status_code=303)
    assert submitted.paper is not None
    return RedirectResponse(f"/papers/{submitted.paper['id']}", status_code=303)


@router.get(
    "/submissions/{submission_id}",
    summary="Where one's submission stands (queued, fetched, failed)",
    response_class=HTMLResponse,
    responses=html(e404="no such submission of one's own"),
)
def submission_status(
    request: Request, services: ServicesDep, viewer: ViewerDep, submission_id: RowId
) -> Response:
    found = own_submission(services, viewer, submission_id)
    return page(request, "submission.html", {"submission": submission_data(found)})
