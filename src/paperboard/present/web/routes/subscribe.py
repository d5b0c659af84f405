"""Subscribing to digests without an account (double opt-in), confirming, one-click unsubscribe,
digest settings on the account page, and the admin's view of mail problems."""

from __future__ import annotations

import logging
from typing import Annotated
from urllib.parse import urlsplit

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from paperboard.core.errors import ForbiddenError, NotFoundError, PaperboardError
from paperboard.present.mail.subscriptions import request_confirmation
from paperboard.present.mail.tokens import read_confirm_token, read_unsubscribe_token
from paperboard.present.mail.transport import can_send_mail
from paperboard.present.web.deps import (
    CsrfDep,
    MemberDep,
    ServicesDep,
    SessionMemberDep,
    ViewerDep,
)
from paperboard.present.web.openapi import html, redirect
from paperboard.present.web.rendering import page
from paperboard.present.web.security import CsrfError
from paperboard.present.web.services import Services
from paperboard.store.rows import SubscriberRow

router = APIRouter(tags=["digests"])
log = logging.getLogger(__name__)

Email = Annotated[str, Form(min_length=3, max_length=320, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")]


def _same_origin(request: Request, services: Services) -> None:
    """The subscribe form sits on cached feed pages, so it carries no per-browser token; a
    cross-site form post is refused by its Origin (or Referer) instead. Double opt-in means a
    forged subscription could at most cause one confirmation e-mail anyway."""
    claimed = request.headers.get("origin") or request.headers.get("referer")
    if not claimed or claimed == "null":
        return
    host = urlsplit(claimed).netloc
    allowed = {request.headers.get("host", ""), urlsplit(services.settings.base_url).netloc}
    if host not in allowed:
        raise CsrfError("this form was sent from another site")


def _send_confirmation(services: Services, subscriber: SubscriberRow) -> None:
    # Without an SMTP host the message goes to the outbox; only broken SMTP settings refuse.
    if not can_send_mail(services.settings):
        raise PaperboardError("this site cannot send e-mail yet: ask its administrator")
    try:
        request_confirmation(services, subscriber)
    except PaperboardError as error:
        log.error("confirmation to %s: %s", subscriber["email"], error)
        raise PaperboardError(
            "the confirmation e-mail could not be sent: try again later"
        ) from None


@router.get(
    "/subscribe", summary="Subscribe to the digest", response_class=HTMLResponse, responses=html()
)
def subscribe_form(request: Request, viewer: ViewerDep) -> Response:
    return page(request, "subscribe.html", {"frequencies": ["daily", "weekly"]})


@router.post(
    "/subscribe",
    summary="Subscribe an address (a confirmation e-mail goes out)",
    response_class=HTMLResponse,
    responses=html(e400="no e-mail can be sent now", e403="the form was sent from another site"),
)
def subscribe(
    request: Request,
    services: ServicesDep,
    viewer: ViewerDep,
    email: Email,
    frequency: Annotated[str, Form(pattern="^(daily|weekly)$")] = "daily",
) -> Response:
    _same_origin(request, services)
    digests = services.digests
    existing = digests.by_email(email)
    if (
        existing is None
        or existing["confirmed_at"] is None
        or existing["unsubscribed_at"]
        or existing["stopped_reason"]
    ):
        subscriber = digests.subscribe(email, frequency=frequency)
        _send_confirmation(services, subscriber)
    # The same answer whether the address was new, pending or already subscribed.
    return page(
        request,
        "message.html",
        {
            "title": "Check your inbox",
            "message": (
                "If this address is not subscribed yet, a confirmation link is on its way. "
                "Nothing is sent before you follow it."
            ),
        },
    )


@router.get(
    "/subscribe/confirm/{token}",
    summary="Confirm a subscription (shows a button)",
    response_class=HTMLResponse,
    responses=html(e400="the link is not valid or has expired"),
)
def confirm_form(
    request: Request, services: ServicesDep, viewer: ViewerDep, token: str
) -> Response:
    _subscriber_id, email = read_confirm_token(services.settings, token)
    return page(request, "confirm.html", {"email": email, "token": token})


@router.post(
    "/subscribe/confirm/{token}",
    summary="Confirm a subscription",
    response_class=HTMLResponse,
    responses=html(
        e400="the link is not valid or has expired", e404="the subscription no longer exists"
    ),
)
def confirm(request: Request, services: ServicesDep, viewer: ViewerDep, token: str) -> Response:
    subscriber_id, email = read_confirm_token(services.settings, token)
    digests = services.digests
    subscriber = digests.get(subscriber_id)
    if subscriber is None or subscriber["email"] != email:
        raise NotFoundError("this subscription no longer exists: subscribe again")
    digests.confirm(subscriber_id)
    return page(
        request,
        "message.html",
        {
            "title": "Subscribed",
            "message": (
                f"{email} will get the {subscriber['frequency']} digest of trending papers. "
                "Every digest has a one-click unsubscribe link."
            ),
        },
    )


@router.get(
    "/unsubscribe/{token}",
    summary="Unsubscribe (shows a button)",
    response_class=HTMLResponse,
    responses=html(e400="the link is not valid", e404="the address is no longer subscribed"),
)
def unsubscribe_form(
    request: Request, services: ServicesDep, viewer: ViewerDep, token: str
) -> Response:
    subscriber = services.digests.get(read_unsubscribe_token(services.settings, token))
    if subscriber is None:
        raise NotFoundError("this address is no longer subscribed")
    return page(
        request,
        "unsubscribe.html",
        {
            "email": subscriber["email"],
            "token": token,
            "done": subscriber["unsubscribed_at"] is not None,
        },
    )


@router.post(
    "/unsubscribe/{token}",
    summary="Unsubscribe (also RFC 8058 one-click, from mail clients)",
    response_class=HTMLResponse,
    responses=html(e400="the link is not valid"),
)
def unsubscribe(request: Request, services: ServicesDep, viewer: ViewerDep, token: str) -> Response:
    digests = services.digests
    subscriber_id = read_unsubscribe_token(services.settings, token)
    subscriber = digests.get(subscriber_id)
    if subscriber is not None and subscriber["unsubscribed_at"] is None:
        digests.unsubscribe(subscriber_id)
    return page(
        request,
        "message.html",
        {"title": "Unsubscribed", "message": "No more digests will be sent to this address."},
    )


@router.post(
    "/account/digest",
    summary="One's digest settings",
    status_code=303,
    response_class=RedirectResponse,
    responses=redirect(e400="no e-mail can be sent now", to="the account page"),
)
def digest_settings(
    request: Request,
    services: ServicesDep,
    viewer: ViewerDep,
    member: SessionMemberDep,
    _csrf: CsrfDep,
    frequency: Annotated[str, Form(pattern="^(daily|weekly|off)$")],
    categories: Annotated[str, Form(max_length=500)] = "",
    keywords: Annotated[str, Form(max_length=500)] = "",
    for_you: Annotated[bool, Form()] = False,
) -> Response:
    if member["email_verified_at"] is None:
        raise PaperboardError(
            f"confirm your e-mail address first: open the link mailed to {member['email']} "
            "(your account page sends it again)"
        )
    existing = services.digests.for_member(member)
    address = existing["email"] if existing else member["email"]
    services.digests.subscribe(
        address,
        member_id=member["id"],
        frequency=frequency,
        categories=[c for c in categories.replace(",", " ").split() if c],
        keywords=[k.strip() for k in keywords.split(",") if k.strip()],
        for_you=for_you,
        # The account's address is verified: no second confirmation mail for the same inbox.
        confirmed=frequency != "off" and address == member["email"],
    )
    return RedirectResponse("/account#digest", status_code=303)


@router.get(
    "/admin/mail",
    summary="Mail problems and digest runs (admins)",
    response_class=HTMLResponse,
    responses=html(e403="admins only"),
)
def admin_mail(
    request: Request, services: ServicesDep, viewer: ViewerDep, member: MemberDep
) -> Response:
    if member["role"] != "admin":
        raise ForbiddenError("admins only")
    digests = services.digests
    data = {
        "stopped": [
            {k: s[k] for k in ("email", "bounces", "stopped_reason")} for s in digests.stopped()
        ],
        "runs": digests.recent_runs(),
        "subscribers": len(digests.all()),
    }
    return page(request, "admin_mail.html", data)
