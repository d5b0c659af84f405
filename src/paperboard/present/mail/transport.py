"""How mail leaves: the one place that decides between the SMTP server and the outbox.

With ``PAPERBOARD_SMTP_HOST`` set, messages go to that server (``smtp.Mailer``); without it they
are written to ``HOME/outbox/`` (``outbox.Outbox``), so a fresh install can subscribe, confirm,
reset a password and send digests before any mail server is configured. Every sender of mail
(confirmations, resets, address checks, digests) opens its transport here.
"""

from __future__ import annotations

from email.message import EmailMessage
from pathlib import Path
from typing import Protocol

from paperboard.core.config import Settings
from paperboard.core.errors import ConfigError
from paperboard.present.mail.outbox import Outbox, outbox_folder
from paperboard.present.mail.smtp import Mailer


class Transport(Protocol):
    """What mail is handed to: ``send`` and ``send_bytes`` raise ``MailError`` (transient) or
    ``PermanentMailError`` (refused for good)."""

    def send(self, message: EmailMessage) -> object: ...

    def send_bytes(self, recipient: str, data: bytes) -> object: ...

    def close(self) -> None: ...

    def __enter__(self) -> Transport: ...

    def __exit__(self, *exc: object) -> None: ...


def check_mail_settings(settings: Settings) -> None:
    """ConfigError (one line) if the mail settings cannot work (the outbox always can)."""
    if settings.smtp_host and bool(settings.smtp_user) != bool(settings.smtp_password):
        raise ConfigError("set both PAPERBOARD_SMTP_USER and PAPERBOARD_SMTP_PASSWORD, or neither")


def can_send_mail(settings: Settings) -> bool:
    try:
        check_mail_settings(settings)
    except ConfigError:
        return False
    return True


def uses_outbox(settings: Settings) -> bool:
    return not settings.smtp_host


def outbox_path(settings: Settings) -> Path:
    """The outbox folder, resolved (where mail goes while no SMTP host is set)."""
    return outbox_folder(settings).resolve()


def open_transport(
    settings: Settings, *, retries: int | None = None, backoff: float | None = None
) -> Transport:
    """The SMTP server when a host is set (``retries`` and ``backoff`` for it), else the outbox."""
    check_mail_settings(settings)
    if uses_outbox(settings):
        return Outbox(settings)
    return Mailer(settings, retries=retries, backoff=backoff)
