"""Subscribing by e-mail: the confirmation message of the double opt-in, at most one per address
every ten minutes (so a form cannot be used to flood an inbox)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from paperboard.present.container import Container
from paperboard.present.mail.messages import confirmation_message
from paperboard.present.mail.transport import open_transport
from paperboard.store.rows import SubscriberRow

RESEND_AFTER = timedelta(minutes=10)


def request_confirmation(app: Container, subscriber: SubscriberRow) -> bool:
    """Mail the confirmation link unless one went out in the last ten minutes; True if sent."""
    sent_at = subscriber.get("confirmation_sent_at")
    if sent_at is not None and datetime.now(UTC) - sent_at < RESEND_AFTER:
        return False
    with open_transport(app.settings, retries=1, backoff=0.5) as mailer:
        mailer.send(confirmation_message(app.settings, subscriber))
    app.digests.confirmation_sent(subscriber["id"])
    return True
