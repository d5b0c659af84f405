"""Sign-in sessions, CSRF tokens, signed reset and address-verification links, rate limits.

The session cookie holds a random token (the database keeps its hash, ``store/members.py``); it is
HttpOnly, SameSite=Lax, and Secure when the site is served over HTTPS. Every state-changing form
carries the session's CSRF token (anonymous forms a signed one bound to a cookie), checked before
anything changes. Signing in always starts a new session, so a planted session id is useless.
"""

from __future__ import annotations

import hmac
import secrets
from datetime import timedelta

from fastapi import Request, Response
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

from paperboard.core.config import Settings
from paperboard.core.errors import LimitError, PaperboardError
from paperboard.core.names import normalize_email
from paperboard.store.members import MemberStore
from paperboard.store.rows import MemberRow

SESSION_COOKIE = "pb_session"
ANON_COOKIE = "pb_anon"  # binds the CSRF token of sign-in and sign-up forms to this browser
RESET_MAX_AGE = 3600
VERIFY_MAX_AGE = 3 * 86400
FAILURE_WINDOW = timedelta(minutes=15)
# Throttles, each counted with the same atomic claim as failed sign-ins (``claim_attempt``).
RESETS_PER_ADDRESS = 3  # password reset mails per e-mail address an hour
RESETS_PER_CLIENT = 10  # reset requests per client address an hour
SIGNUPS_PER_CLIENT = 5  # accounts created per client address an hour
SIGNUP_TRIES_PER_CLIENT = 20  # sign-up attempts per client address an hour, refused ones too
COMMENTS_PER_MEMBER = 10  # comments per member in 10 minutes
VERIFY_MAILS_PER_MEMBER = 3  # address-verification links sent again, per member an hour
HOUR = timedelta(hours=1)
COMMENT_WINDOW = timedelta(minutes=10)


class CsrfError(PaperboardError):
    """A state-changing request without the right CSRF token."""


def secure_cookies(request: Request, settings: Settings) -> bool:
    forwarded = request.headers.get("x-forwarded-proto", "")
    return (
        request.url.scheme == "https"
        or forwarded == "https"
        or settings.base_url.startswith("https:")
    )


def set_session_cookie(
    response: Response, request: Request, settings: Settings, token: str
) -> None:
    response.set_cookie(
        SESSION_COOKIE,
        token,
        max_age=settings.session_days * 86400,
        httponly=True,
        samesite="lax",
        secure=secure_cookies(request, settings),
        path="/",
    )


def clear_session_cookie(response: Response) -> None:
    response.delete_cookie(SESSION_COOKIE, path="/")


def anonymous_csrf(request: Request, settings: Settings) -> tuple[str, str | None]:
    """(CSRF token for an anonymous form, new cookie value to set or None)."""
    seed = request.cookies.get(ANON_COOKIE)
    new = None
    if not seed or len(seed) > 100:
        seed = new = secrets.token_urlsafe(24)
    token = hmac.new(settings.signing_key.encode(), f"anon:{seed}".encode(), "sha256").hexdigest()
    return token, new


def check_csrf(
    request: Request, settings: Settings, sent: str | None, session_csrf: str | None
) -> None:
    """Raise CsrfError unless ``sent`` is this session's (or this anonymous browser's) token."""
    if session_csrf is not None:
        expected = session_csrf
    else:
        seed = request.cookies.get(ANON_COOKIE)
        if not seed:
            raise CsrfError("this form has expired: reload the page and try again")
        expected = hmac.new(
            settings.signing_key.encode(), f"anon:{seed}".encode(), "sha256"
        ).hexdigest()
    if not sent or not hmac.compare_digest(sent.encode(), expected.encode()):
        raise CsrfError("this form has expired: reload the page and try again")


def _reset_serializer(settings: Settings) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(settings.signing_key, salt="password-reset")


def reset_token(settings: Settings, member: MemberRow) -> str:
    """A link token for this member, good for an hour and only until the password changes."""
    stamp = member["password_changed_at"].isoformat()
    return _reset_serializer(settings).dumps({"id": member["id"], "stamp": stamp})


def read_reset_token(settings: Settings, members: MemberStore, token: str) -> MemberRow:
    """The member a reset token is for; PaperboardError if it is bad, used or expired."""
    try:
        data = _reset_serializer(settings).loads(token[:500], max_age=RESET_MAX_AGE)
    except SignatureExpired:
        raise PaperboardError("this reset link has expired: ask for a new one") from None
    except BadSignature:
        raise PaperboardError("this reset link is not valid") from None
    member = members.get(int(data.get("id", 0)))
    if member is None or member["password_changed_at"].isoformat() != data.get("stamp"):
        raise PaperboardError("this reset link has already been used")
    return member


def _verify_serializer(settings: Settings) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(settings.signing_key, salt="verify-email")


def verify_token(settings: Settings, member: MemberRow) -> str:
    """A link token proving that whoever opens it reads ``member``'s address; good for 3 days."""
    return _verify_serializer(settings).dumps({"id": member["id"], "email": member["email"]})


def read_verify_token(settings: Settings, token: str) -> tuple[int, str]:
    """The (member id, address) a verification link was mailed for; PaperboardError if bad."""
    try:
        data = _verify_serializer(settings).loads(token[:500], max_age=VERIFY_MAX_AGE)
    except SignatureExpired:
        raise PaperboardError(
            "this confirmation link has expired: send a new one from your account page"
        ) from None
    except BadSignature:
        raise PaperboardError("this confirmation link is not valid") from None
    return int(data.get("id", 0)), str(data.get("email", ""))


def client_address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def claim_login_attempt(
    members: MemberStore, settings: Settings, email: str, address: str
) -> list[int]:
    """Count a sign-in attempt before its password is checked; LimitError once the address or
    the client has failed too often in the last 15 minutes. Counting and recording are one step,
    so attempts sent together cannot all pass the check before any is recorded. The attempt
    counts as a failure unless :func:`login_succeeded` takes it back."""
    limits = {
        f"email:{normalize_email(email)}": settings.login_attempts,
        f"ip:{address}": settings.login_attempts * 4,
    }
    refusal = "too many failed sign-ins: wait 15 minutes and try again"
    return list(claim_or_refuse(members, limits, FAILURE_WINDOW, refusal).values())


def claim_or_refuse(
    members: MemberStore, limits: dict[str, int], window: timedelta, refusal: str
) -> dict[str, int]:
    """Count one action against each key's limit in the last ``window``, atomically (as for
    sign-ins); LimitError with ``refusal`` once a key is at its limit. Returns each key's row id,
    for :meth:`MemberStore.withdraw_attempt` should the action not count after all."""
    ids = members.claim_attempt(limits, window)
    if ids is None:
        raise LimitError(refusal)
    return dict(zip(sorted(limits), ids, strict=True))


def claim_reset_mail(members: MemberStore, email: str, address: str) -> None:
    """A reset request, counted whether or not the address has an account (the same answer)."""
    limits = {
        f"reset:email:{normalize_email(email)}": RESETS_PER_ADDRESS,
        f"reset:ip:{address}": RESETS_PER_CLIENT,
    }
    claim_or_refuse(members, limits, HOUR, "too many reset requests: wait an hour and try again")


def claim_sign_up(members: MemberStore, address: str) -> int:
    """A sign-up attempt from this client; returns the id to withdraw if no account results."""
    created, tried = f"signup:ip:{address}", f"signup-try:ip:{address}"
    ids = claim_or_refuse(
        members,
        {created: SIGNUPS_PER_CLIENT, tried: SIGNUP_TRIES_PER_CLIENT},
        HOUR,
        "too many sign-ups from this address: wait an hour and try again",
    )
    return ids[created]


def claim_comment(members: MemberStore, member: MemberRow) -> None:
    claim_or_refuse(
        members,
        {f"comment:member:{member['id']}": COMMENTS_PER_MEMBER},
        COMMENT_WINDOW,
        "too many comments: wait a few minutes and try again",
    )


def claim_verify_mail(members: MemberStore, member: MemberRow) -> None:
    claim_or_refuse(
        members,
        {f"verify:member:{member['id']}": VERIFY_MAILS_PER_MEMBER},
        HOUR,
        "a confirmation link was sent several times this hour: wait an hour and try again",
    )


def login_succeeded(members: MemberStore, member: MemberRow, attempt: list[int]) -> None:
    """The right password: this attempt was no failure, and the address starts afresh."""
    members.withdraw_attempt(attempt)
    members.clear_failures(f"email:{member['email']}")
