"""Request dependencies (FastAPI ``Annotated`` style): the services, who is asking, CSRF checks."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Path, Request

from paperboard.core.errors import ForbiddenError, PaperboardError
from paperboard.present.web.security import SESSION_COOKIE, anonymous_csrf, check_csrf
from paperboard.present.web.services import Services
from paperboard.store.rows import MemberRow

# The largest row id: the tables' INTEGER keys are 32-bit on PostgreSQL (64-bit on SQLite, where
# ids count up from 1 and never get near this). A bigger id names no row; passed to PostgreSQL it
# would fail the query ("integer out of range") instead.
MAX_ROW_ID = 2**31 - 1

# A row id in an address (a comment, an API token). Anything else names no row: app.py answers
# 404 for path values that fail validation.
RowId = Annotated[int, Path(ge=1, le=MAX_ROW_ID)]


class SignInRequired(PaperboardError):
    """The page or call needs a signed-in member (pages redirect, the API answers 401)."""


def get_services(request: Request) -> Services:
    return request.app.state.services  # type: ignore[no-any-return]


ServicesDep = Annotated[Services, Depends(get_services)]


@dataclass
class Viewer:
    """Who is asking: a member (through a session cookie or an API token) or nobody."""

    member: MemberRow | None
    csrf: str | None  # the session's CSRF token; None for anonymous and token callers
    via_token: bool = False
    session_token: str | None = None
    request: Request | None = None
    new_anon_cookie: str | None = None
    _anon_csrf: str | None = None

    @property
    def signed_in(self) -> bool:
        return self.member is not None

    @property
    def is_moderator(self) -> bool:
        return bool(self.member) and self.member["role"] in ("moderator", "admin")  # type: ignore[index]

    @property
    def form_token(self) -> str:
        """The CSRF token for a form on this page. Anonymous forms (sign in, sign up) get one
        bound to a cookie, made only when a page has such a form, so other pages stay cacheable."""
        if self.csrf:
            return self.csrf
        if self._anon_csrf is None and self.request is not None:
            settings = self.request.app.state.services.settings
            self._anon_csrf, self.new_anon_cookie = anonymous_csrf(self.request, settings)
        return self._anon_csrf or ""


def get_viewer(request: Request, services: ServicesDep) -> Viewer:
    cached = getattr(request.state, "viewer", None)
    if cached is not None:
        return cached  # type: ignore[no-any-return]
    viewer = Viewer(member=None, csrf=None, request=request)
    authorization = request.headers.get("authorization", "")
    if authorization.lower().startswith("bearer "):
        member = services.members.token_member(authorization[7:].strip())
        if member is None:
            raise SignInRequired("that API token is not valid")
        viewer = Viewer(member=member, csrf=None, via_token=True)
    else:
        token = request.cookies.get(SESSION_COOKIE)
        found = services.members.session(token) if token and len(token) < 200 else None
        if found is not None:
            viewer = Viewer(member=found[0], csrf=found[1], session_token=token)
    request.state.viewer = viewer
    return viewer


ViewerDep = Annotated[Viewer, Depends(get_viewer)]


def require_member(viewer: ViewerDep) -> MemberRow:
    if viewer.member is None:
        raise SignInRequired("sign in first")
    return viewer.member


MemberDep = Annotated[MemberRow, Depends(require_member)]


def require_session(request: Request, viewer: ViewerDep) -> MemberRow:
    """For account-level actions (tokens, export, deletion, password, e-mail settings): a member
    signed in with a session. An API token answers 403 in JSON: a leaked token must not be able
    to mint more tokens, take the account's data or lock its owner out."""
    if viewer.via_token:
        request.state.format = "json"  # a script's call: the error as one line of JSON
        raise ForbiddenError("this needs a signed-in session on the site, not an API token")
    return require_member(viewer)


SessionMemberDep = Annotated[MemberRow, Depends(require_session)]


async def csrf_checked(request: Request, viewer: ViewerDep, services: ServicesDep) -> None:
    """For state-changing requests: a form field ``csrf_token`` or an ``X-CSRF-Token`` header
    matching the session. Calls authenticated by an API token need none (no cookie rides along)."""
    if viewer.via_token:
        return
    sent = request.headers.get("x-csrf-token")
    if sent is None and request.headers.get("content-type", "").startswith(
        ("application/x-www-form-urlencoded", "multipart/form-data")
    ):
        form = await request.form()
        value = form.get("csrf_token")
        sent = value if isinstance(value, str) else None
    check_csrf(request, services.settings, sent, viewer.csrf)


CsrfDep = Annotated[None, Depends(csrf_checked)]
