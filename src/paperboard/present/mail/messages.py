"""Composing e-mails: the digest (multipart/alternative, inline-styled HTML plus plain text, with
one-click unsubscribe headers per RFC 8058) and the subscription confirmation."""

from __future__ import annotations

from datetime import UTC, datetime
from email.message import EmailMessage
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


def digest_message(
    settings: Settings,
    subscriber: SubscriberRow,
    period: DigestPeriod,
    content: DigestContent,
    *,
    msgid: str,
) -> EmailMessage:
    """The digest e-mail for one subscriber (same inputs, same message: a resend is identical)."""
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
    message = EmailMessage()
    message["From"] = settings.mail_from
    message["To"] = subscriber["email"]
    count = len(top) + len(content.picks)
    message["Subject"] = f"Trending papers, {period.label} ({count} paper{'s' * (count != 1)})"
    message["Date"] = format_datetime(datetime.now(UTC))
    message["Message-ID"] = msgid
    message["List-Unsubscribe"] = f"<{unsubscribe}>"
    message["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    message["List-Id"] = (
        f"paperboard digest <digest.{urlsplit(settings.base_url).hostname or 'paperboard.local'}>"
    )
    message["Auto-Submitted"] = "auto-generated"
    # base64 rather than quoted-printable: half the cost of encoding, and every client reads it.
    message.set_content(_env.get_template("digest.txt").render(context), cte="base64")
    message.add_alternative(
        _env.get_template("digest.html").render(context), subtype="html", cte="base64"
    )
    return message


def confirmation_message(settings: Settings, subscriber: SubscriberRow) -> EmailMessage:
    link = (
        f"{settings.base_url}/subscribe/confirm/"
        f"{confirm_token(settings, subscriber['id'], subscriber['email'])}"
    )
    message = EmailMessage()
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
