"""Signed links in e-mails: confirming a subscription (expires) and unsubscribing (does not, so an
old digest's link still works)."""

from __future__ import annotations

from itsdangerous import BadSignature, SignatureExpired, URLSafeSerializer, URLSafeTimedSerializer

from paperboard.core.config import Settings
from paperboard.core.errors import PaperboardError

CONFIRM_MAX_AGE = 3 * 86400


def unsubscribe_token(settings: Settings, subscriber_id: int) -> str:
    return URLSafeSerializer(settings.signing_key, salt="unsubscribe").dumps(subscriber_id)


def read_unsubscribe_token(settings: Settings, token: str) -> int:
    try:
        value = URLSafeSerializer(settings.signing_key, salt="unsubscribe").loads(token[:300])
    except BadSignature:
        raise PaperboardError("this unsubscribe link is not valid") from None
    return int(value)


def confirm_token(settings: Settings, subscriber_id: int, email: str) -> str:
    return URLSafeTimedSerializer(settings.signing_key, salt="confirm").dumps(
        {"id": subscriber_id, "email": email}
    )


def read_confirm_token(settings: Settings, token: str) -> tuple[int, str]:
    try:
        value = URLSafeTimedSerializer(settings.signing_key, salt="confirm").loads(
            token[:500], max_age=CONFIRM_MAX_AGE
        )
    except SignatureExpired:
        raise PaperboardError(
            "this confirmation link has expired: subscribe again to get a new one"
        ) from None
    except BadSignature:
        raise PaperboardError("this confirmation link is not valid") from None
    return int(value["id"]), str(value["email"])
