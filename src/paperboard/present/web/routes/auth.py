"""Signing up (with a link mailed to prove the address), in and out, and resetting a forgotten
password by e-mail."""

from __future__ import annotations

import logging
from datetime import timedelta
from email.message import EmailMessage
from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, BackgroundTasks, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from paperboard.core.config import Settings
from paperboard.core.errors import NotFoundError, PaperboardError
from paperboard.core.passwords import check_new_password, hash_password, verify_password
from paperboard.present.web.deps import (
    CsrfDep,
    MemberDep,
    ServicesDep,
    SessionMemberDep,
    ViewerDep,
)
from paperboard.present.web.openapi import html, redirect
from paperboard.present.web.rendering import page
from paperboard.present.web.security import (
    claim_login_attempt,
    claim_reset_mail,
    claim_sign_up,
    claim_verify_mail,
    clear_session_cookie,
    client_address,
    login_succeeded,
    read_reset_token,
    read_verify_token,
    reset_token,
    set_session_cookie,
    verify_token,
)
from paperboard.present.web.services import Services
from paperboard.store.rows import MemberRow

router = APIRouter(tags=["members"])
log = logging.getLogger(__name__)

Email = Annotated[str, Form(min_length=3, max_length=320, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")]
Password = Annotated[str, Form(min_length=1, max_length=1024)]
Name = Annotated[str, Form(min_length=1, max_length=80)]
Next = Annotated[str, Query(max_length=500)]


def safe_next(target: str | None) -> str:
    """Only paths on this site: never an open redirect."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target


def sign_in(request: Request, services: Services, member_id: int, target: str) -> Response:
    token, _csrf = services.members.start_session(
        member_id, lifetime=timedelta(days=services.settings.session_days)
    )
    response = RedirectResponse(safe_next(target), status_code=303)
    set_session_cookie(response, request, services.settings, token)
    old = request.cookies.get("pb_session")
    if old:
        services.members.end_session(old)  # a session from before sign-in is never reused
    return response


@router.get("/signup", summary="Sign-up form", response_class=HTMLResponse, responses=html())
def signup_form(request: Request, viewer: ViewerDep, next: Next = "/") -> Response:
    return page(request, "signup.html", {"next": safe_next(next)})


@router.post(
    "/signup",
    summary="Create an account",
    response_class=HTMLResponse,
    responses=html(429, e400="refused, with the form again")
    | redirect(to="the welcome page (then next), signed in"),
)
def signup(
    request: Request,
    services: ServicesDep,
    viewer: ViewerDep,
    _csrf: CsrfDep,
    email: Email,
    name: Name,
    password: Password,
    background: BackgroundTasks,
    next: Annotated[str, Form(max_length=500)] = "/",
) -> Response:
    claimed = claim_sign_up(services.members, client_address(request))
    try:
        check_new_password(password)
        member = services.members.create(email, name, hash_password(password))
    except PaperboardError as error:  # a taken address or name, a weak password
        services.members.withdraw_attempt([claimed])  # no account: only the attempt counts
        return page(
            request,
            "signup.html",
            {"next": safe_next(next), "error": str(error), "email": email, "name": name},
            status_code=400,
        )
    if can_send_mail(services.settings):
        background.add_task(send_verify_mail, services.settings, member)
    return sign_in(request, services, member["id"], f"/welcome?next={quote(safe_next(next))}")


@router.get(
    "/welcome",
    summary="What a new member can do (where a sign-up lands)",
    response_class=HTMLResponse,
    responses=html(),
)
def welcome(
    request: Request, services: ServicesDep, viewer: ViewerDep, member: MemberDep, next: Next = "/"
) -> Response:
    return page(
        request,
        "welcome.html",
        {
            "name": member["name"],
            "email": member["email"],
            "email_verified": member["email_verified_at"] is not None,
            "mail_sent": can_send_mail(services.settings),
            "next": safe_next(next),
        },
    )


def can_send_mail(settings: Settings) -> bool:
    """True unless the SMTP settings are broken (without a host, mail goes to the outbox)."""
    from paperboard.present.mail.transport import can_send_mail as transport_ready

    return transport_ready(settings)


def mail_member(settings: Settings, member: MemberRow, subject: str, body: str) -> None:
    """Mail one member; run after the answer has gone, so a failure is only logged."""
    from paperboard.present.mail.transport import open_transport

    message = EmailMessage()
    message["To"] = member["email"]
    message["Subject"] = subject
    message.set_content(f"Hello {member['name']},\n\n{body}")
    try:
        with open_transport(settings, retries=1, backoff=0.5) as mailer:
            mailer.send(message)
    except PaperboardError as error:
        log.error("%s, to %s: %s", subject, member["email"], error)


def send_verify_mail(settings: Settings, member: MemberRow) -> None:
    link = f"{settings.base_url}/verify/{verify_token(settings, member)}"
    mail_member(
        settings,
        member,
        "Confirm your e-mail address on paperboard",
        f"to confirm that this address is yours, open this link within 3 days:\n\n{link}\n\n"
        "Until then the account cannot manage digests sent to this address. If you did not "
        "sign up, ignore this message.\n",
    )


@router.post(
    "/account/verify",
    summary="Send the address-confirmation link again",
    status_code=303,
    response_class=RedirectResponse,
    responses=redirect(429, e400="no e-mail can be sent now", to="the account page"),
)
def resend_verify_mail(
    services: ServicesDep,
    viewer: ViewerDep,
    member: SessionMemberDep,
    _csrf: CsrfDep,
    background: BackgroundTasks,
) -> Response:
    if member["email_verified_at"] is None:
        if not can_send_mail(services.settings):
            raise PaperboardError(
                "this site cannot send e-mail yet: ask its administrator to confirm your address"
            )
        claim_verify_mail(services.members, member)
        background.add_task(send_verify_mail, services.settings, member)
    return RedirectResponse("/account?verify=sent#email", status_code=303)


@router.get(
    "/verify/{token}",
    summary="Confirm one's e-mail address (shows a button)",
    response_class=HTMLResponse,
    responses=html(e400="the link is not valid or has expired"),
)
def verify_form(request: Request, services: ServicesDep, viewer: ViewerDep, token: str) -> Response:
    # A button rather than confirming on GET: mail scanners open links without anyone reading.
    _member_id, email = read_verify_token(services.settings, token)
    return page(request, "verify.html", {"email": email, "token": token})


@router.post(
    "/verify/{token}",
    summary="Confirm one's e-mail address",
    response_class=HTMLResponse,
    responses=html(
        e400="the link is not valid or has expired",
        e404="no account uses that address any more",
    ),
)
def verify(request: Request, services: ServicesDep, viewer: ViewerDep, token: str) -> Response:
    member_id, email = read_verify_token(services.settings, token)
    if not services.members.verify_email(member_id, email):
        raise NotFoundError("no account uses this address any more")
    return page(
        request,
        "message.html",
        {
            "title": "Address confirmed",
            "message": f"{email} is confirmed: your account can now manage its digest.",
        },
    )


@router.get("/signin", summary="Sign-in form", response_class=HTMLResponse, responses=html())
def signin_form(request: Request, viewer: ViewerDep, next: Next = "/") -> Response:
    return page(request, "signin.html", {"next": safe_next(next)})


@router.post(
    "/signin",
    summary="Sign in",
    response_class=HTMLResponse,
    responses=html(429, e400="wrong address or password") | redirect(to="next, signed in"),
)
def signin(
    request: Request,
    services: ServicesDep,
    viewer: ViewerDep,
    _csrf: CsrfDep,
    email: Annotated[str, Form(min_length=1, max_length=320)],
    password: Password,
    next: Annotated[str, Form(max_length=500)] = "/",
) -> Response:
    address = client_address(request)
    attempt = claim_login_attempt(services.members, services.settings, email, address)
    member = services.members.by_email(email)
    if not verify_password(member["password_hash"] if member else None, password):
        # The attempt stays counted as a failure. The same answer whether the address is unknown
        # or the password wrong.
        return page(
            request,
            "signin.html",
            {"next": safe_next(next), "error": "wrong e-mail address or password", "email": email},
            status_code=400,
        )
    assert member is not None
    login_succeeded(services.members, member, attempt)
    return sign_in(request, services, member["id"], next)


@router.post(
    "/signout",
    summary="Sign out",
    status_code=303,
    response_class=RedirectResponse,
    responses=redirect(to="the home page"),
)
def signout(request: Request, services: ServicesDep, viewer: ViewerDep, _csrf: CsrfDep) -> Response:
    if viewer.session_token:
        services.members.end_session(viewer.session_token)
    response = RedirectResponse("/", status_code=303)
    clear_session_cookie(response)
    return response


@router.get(
    "/reset", summary="Ask for a password reset link", response_class=HTMLResponse, responses=html()
)
def reset_request_form(request: Request, viewer: ViewerDep) -> Response:
    return page(request, "reset_request.html", {})


def send_reset_mail(settings: Settings, member: MemberRow) -> None:
    link = f"{settings.base_url}/reset/{reset_token(settings, member)}"
    mail_member(
        settings,
        member,
        "Reset your paperboard password",
        f"to choose a new password, open this link within an hour:\n\n{link}\n\n"
        "If you did not ask for this, ignore this message: your password stays as it is.\n",
    )


@router.post(
    "/reset",
    summary="Send a password reset link",
    response_class=HTMLResponse,
    responses=html(429, e400="no e-mail can be sent now"),
)
def reset_request(
    request: Request,
    services: ServicesDep,
    viewer: ViewerDep,
    _csrf: CsrfDep,
    email: Email,
    background: BackgroundTasks,
) -> Response:
    settings = services.settings
    if not can_send_mail(settings):
        raise PaperboardError(
            "this site cannot send e-mail yet: ask its administrator to reset your password"
        )
    claim_reset_mail(services.members, email, client_address(request))
    member = services.members.by_email(email)
    if member is not None:
        # After the answer: waiting for the SMTP server would tell by the answer's timing
        # whether the address has an account.
        background.add_task(send_reset_mail, settings, member)
    # The same answer, as fast, for known and unknown addresses.
    return page(
        request,
        "message.html",
        {
            "title": "Check your inbox",
            "message": (
                "If an account uses that address, a reset link is on its way. It works for an hour."
            ),
        },
    )


@router.get(
    "/reset/{token}",
    summary="Choose a new password",
    response_class=HTMLResponse,
    responses=html(e400="the link is not valid, used or expired"),
)
def reset_form(request: Request, services: ServicesDep, viewer: ViewerDep, token: str) -> Response:
    read_reset_token(services.settings, services.members, token)
    return page(request, "reset.html", {"token": token})


@router.post(
    "/reset/{token}",
    summary="Set the new password",
    response_class=HTMLResponse,
    responses=html(e400="a bad link or a weak password") | redirect(to="/account, signed in"),
)
def reset(
    request: Request,
    services: ServicesDep,
    viewer: ViewerDep,
    _csrf: CsrfDep,
    token: str,
    password: Password,
) -> Response:
    member = read_reset_token(services.settings, services.members, token)
    try:
        check_new_password(password)
    except PaperboardError as error:
        return page(request, "reset.html", {"token": token, "error": str(error)}, status_code=400)
    services.members.set_password(member["id"], hash_password(password))
    # The link came by mail to the address: whoever used it reads that inbox.
    services.members.verify_email(member["id"], member["email"])
    return sign_in(request, services, member["id"], "/account?password=reset")
