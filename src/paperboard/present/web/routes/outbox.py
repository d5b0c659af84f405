"""The outbox's admin pages: the mail written to ``HOME/outbox/`` while no SMTP host is set,
newest first, and one message's text with its links clickable (a local user follows the
confirmation or unsubscribe link from here). Admins only: the messages hold reset links."""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated

from fastapi import APIRouter, Path, Request
from fastapi.responses import HTMLResponse, Response

from paperboard.core.errors import ForbiddenError
from paperboard.present.mail.outbox import list_outbox, read_outbox
from paperboard.present.mail.transport import outbox_path, uses_outbox
from paperboard.present.web.deps import MemberDep, ServicesDep, ViewerDep
from paperboard.present.web.openapi import html
from paperboard.present.web.rendering import page
from paperboard.store.rows import MemberRow

router = APIRouter(tags=["admin"])

SHOWN = 200  # newest messages listed; the rest stay in the folder

MessageId = Annotated[str, Path(max_length=40, pattern=r"^\d{8}T\d{12}Z-[0-9a-f]{8}$")]


def _admin(member: MemberRow) -> None:
    if member["role"] != "admin":
        raise ForbiddenError("admins only")


@router.get(
    "/admin/outbox",
    summary="The mail written to the outbox (admins)",
    response_class=HTMLResponse,
    responses=html(e403="admins only"),
)
def outbox(
    request: Request, services: ServicesDep, viewer: ViewerDep, member: MemberDep
) -> Response:
    _admin(member)
    settings = services.settings
    total, entries = list_outbox(settings, limit=SHOWN)
    data = {
        "folder": str(outbox_path(settings)),
        "in_use": uses_outbox(settings),
        "total": total,
        "messages": [asdict(entry) for entry in entries],
    }
    return page(request, "admin_outbox.html", data)


@router.get(
    "/admin/outbox/{message_id}",
    summary="One message of the outbox (admins)",
    response_class=HTMLResponse,
    responses=html(e403="admins only", e404="no such message"),
)
def outbox_message(
    request: Request,
    services: ServicesDep,
    viewer: ViewerDep,
    member: MemberDep,
    message_id: MessageId,
) -> Response:
    _admin(member)
    message = read_outbox(services.settings, message_id)
    return page(request, "admin_outbox_message.html", asdict(message))
