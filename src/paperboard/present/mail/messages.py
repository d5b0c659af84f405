"""Composing e-mails: the digest (multipart/alternative, inline-styled HTML plus plain text, with
one-click unsubscribe headers per RFC 8058) and the subscription confirmation."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from email.headerregistry import BaseHeader, HeaderRegistry
from email.message import EmailMessage
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from email.policy import SMTP, compat32, default
from email.utils import format_datetime, make_msgid
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from jinja2 import Environment, FileSystemLoader, select_autoescape

from paperboard.core.config import Settings
from paperboard.index.highlight import excerpt
from paperboard.present.mail.tokens import confirm_token, unsubscribe_token
from paperboard.rank.digest import DigestContent, DigestPeriod
from paperboard.store.rows import CountedPaperRow, SubscriberRow

_env = Environment(
    loader=FileSystemLoader(str(Path(__file__).with_name("templates"))),
    autoescape=select_autoescape(["html"]),
    trim_blocks=True,
    lstrip_blocks=True,
    auto_reload=False,
)


class _Headers(HeaderRegistry):
    """The standard header registry, but each header name's class is made once: the stock one
    builds a new class for every header it parses, a fifth of a digest's composing time."""

    def __init__(self) -> None:
        super().__init__()
        self._made: dict[str, type[BaseHeader]] = {}

    def __getitem__(self, name: str) -> type[BaseHeader]:
        key = name.lower()
        made = self._made.get(key)
        if made is None:
            made = self._made[key] = super().__getitem__(name)
        return made


# The default policy (what ``EmailMessage()`` uses) with the caching registry; the messages come
# out identical.
POLICY = default.clone(header_factory=_Headers())
_CLASSIC_SMTP = compat32.clone(linesep="\r\n")


def _entry(settings: Settings, row: CountedPaperRow) -> dict[str, Any]:
    authors = list(row.get("authors") or [])
    count = len(authors) or row.get("author_count") or 0
    return {
        "id": row["id"],
        "title": row.get("title") or row["id"],
        "url": f"{settings.base_url}/papers/{row['id']}",
        "excerpt": excerpt(row.get("abstract"), 280),
        "authors": ", ".join(authors[:3]) + (" et al." if len(authors) > 3 else ""),
        "author_count": count,
        "upvotes": int(row.get("total_upvotes") or row.get("upvotes") or 0),
    }


def message_id(settings: Settings) -> str:
    return make_msgid("digest", domain=urlsplit(settings.base_url).hostname or "paperboard.local")


@dataclass
class _DigestParts:
    headers: list[tuple[str, str]]
    text: str
    html: str


def _digest_parts(
    settings: Settings,
    subscriber: SubscriberRow,
    period: DigestPeriod,
    content: DigestContent,
    msgid: str,
) -> _DigestParts:
    unsubscribe = f"{settings.base_url}/unsubscribe/{unsubscribe_token(settings, subscriber['id'])}"
    top = [_entry(settings, row) for row in content.top]
    picks = [
        {**_entry(settings, pick["paper"]), "reason": pick["reason"]}
        for pick in content.picks
        if not pick.get("section")
    ]
    sections: dict[str, list[dict[str, Any]]] = {}
    for pick in content.picks:
        if pick.get("section"):
            sections.setdefault(pick["section"], []).append(_entry(settings, pick["paper"]))
    context = {
        "site": settings.base_url,
        "period": period,
        "top": top,
        "picks": picks,
        "sections": sections,
        "unsubscribe": unsubscribe,
        "settings_url": f"{settings.base_url}/account",
        "categories": subscriber.get("categories") or [],
    }
    count = len(top) + len(content.picks)
    host = urlsplit(settings.base_url).hostname or "paperboard.local"
    headers = [
        ("From", settings.mail_from),
        ("To", subscriber["email"]),
        ("Subject", f"Trending papers, {period.label} ({count} paper{'s' * (count != 1)})"),
        ("Date", format_datetime(datetime.now(UTC))),
        ("Message-ID", msgid),
        ("List-Unsubscribe", f"<{unsubscribe}>"),
        ("List-Unsubscribe-Post", "List-Unsubscribe=One-Click"),
        ("List-Id", f"paperboard digest <digest.{host}>"),
        ("Auto-Submitted", "auto-generated"),
    ]
    return _DigestParts(
        headers,
        _env.get_template("digest.txt").render(context),
        _env.get_template("digest.html").render(context),
    )


def _message(parts: _DigestParts) -> EmailMessage:
    message = EmailMessage(policy=POLICY)
    for name, value in parts.headers:
        message[name] = value
    # base64 rather than quoted-printable: half the cost of encoding, and every client reads it.
    message.set_content(parts.text, cte="base64")
    message.add_alternative(parts.html, subtype="html", cte="base64")
    return message


def digest_message(
    settings: Settings,
    subscriber: SubscriberRow,
    period: DigestPeriod,
    content: DigestContent,
    *,
    msgid: str,
) -> EmailMessage:
    """The digest e-mail for one subscriber (same inputs, same message: a resend is identical)."""
    return _message(_digest_parts(settings, subscriber, period, content, msgid))


def digest_bytes(
    settings: Settings,
    subscriber: SubscriberRow,
    period: DigestPeriod,
    content: DigestContent,
    *,
    msgid: str,
) -> bytes:
    """:func:`digest_message` as it goes over SMTP (CRLF line ends), made the fast way when every
    header is plain ASCII on one line: the classic ``email.mime`` classes store such headers
    as they are, where ``EmailMessage`` parses each into an object tree and folds it back,
    three quarters of a digest's composing time. Other headers (a non-ASCII sender name, say)
    take the ``EmailMessage`` path, which encodes them. Both give the same message."""
    parts = _digest_parts(settings, subscriber, period, content, msgid)
    if not all(value.isascii() and value.isprintable() for _, value in parts.headers):
        return _message(parts).as_bytes(policy=SMTP)
    message = MIMEMultipart("alternative")
    for name, value in parts.headers:
        message[name] = value
    for body, subtype in ((parts.text, "plain"), (parts.html, "html")):
        # utf-8 goes out as base64; end on a line end, as EmailMessage.set_content does
        message.attach(MIMEText(body if body.endswith("\n") else body + "\n", subtype, "utf-8"))
    return message.as_bytes(policy=_CLASSIC_SMTP)


def confirmation_message(settings: Settings, subscriber: SubscriberRow) -> EmailMessage:
    link = (
        f"{settings.base_url}/subscribe/confirm/"
        f"{confirm_token(settings, subscriber['id'], subscriber['email'])}"
    )
    message = EmailMessage(policy=POLICY)
    message["From"] = settings.mail_from
    message["To"] = subscriber["email"]
    message["Subject"] = "Confirm your paperboard digest subscription"
    message["Date"] = format_datetime(datetime.now(UTC))
    message["Message-ID"] = make_msgid(
        "confirm", domain=urlsplit(settings.base_url).hostname or "paperboard.local"
    )
    message["Auto-Submitted"] = "auto-generated"
    message.set_content(
        f"Someone (we hope you) asked for paperboard's {subscriber['frequency']} digest of "
        "trending papers at this address.\n\n"
        "To confirm, open this link within three days and press the button:\n\n"
        f"{link}\n\n"
        "If it was not you, ignore this message: nothing will be sent.\n"
    )
    return message
