"""Subscribing by e-mail: the confirmation message of the double opt-in, at most one per address
every ten minutes (so a form cannot be used to flood an inbox)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from paperboard.core.config import Settings
from paperboard.present.mail.messages import confirmation_message
from paperboard.present.mail.smtp import Mailer
from paperboard.store.digests import DigestStore
from paperboard.store.papers import PaperStore
from paperboard.store.rows import SubscriberRow

RESEND_AFTER = timedelta(minutes=10)


def request_confirmation(settings: Settings, store: PaperStore, subscriber: SubscriberRow) -> bool:
    """Mail the confirmation link unless one went out in the last ten minutes; True if sent."""
    sent_at = subscriber.get("confirmation_sent_at")
    if sent_at is not None and datetime.now(UTC) - sent_at < RESEND_AFTER:
        return False
    with Mailer(settings, retries=1, backoff=0.5) as mailer:
        mailer.send(confirmation_message(settings, subscriber))
    DigestStore(store.engine).confirmation_sent(subscriber["id"])
    return True
