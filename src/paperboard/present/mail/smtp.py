"""Sending mail through the configured SMTP server (``PAPERBOARD_SMTP_*``); without one, mail
goes to the outbox instead (``transport.open_transport`` chooses).

``none`` talks plain SMTP, ``starttls`` upgrades the connection, ``tls`` connects over TLS from
the start. Transient failures (4xx replies, dropped connections) are retried with backoff;
a 5xx reply is permanent and raised at once as :class:`PermanentMailError`.
"""

from __future__ import annotations

import contextlib
import smtplib
import ssl
import time
from collections.abc import Callable
from email.message import EmailMessage
from email.utils import parseaddr
from typing import Any

from paperboard.core.config import Settings
from paperboard.core.errors import ConfigError, PaperboardError


class MailError(PaperboardError):
    """Mail could not be sent (after retries, for transient failures)."""


class PermanentMailError(MailError):
    """The server refused the message for good (a 5xx reply)."""


def check_smtp_settings(settings: Settings) -> None:
    """ConfigError (one line) if mail cannot be sent through SMTP with these settings."""
    if not settings.smtp_host:
        raise ConfigError("no SMTP server is configured: set PAPERBOARD_SMTP_HOST")
    if bool(settings.smtp_user) != bool(settings.smtp_password):
        raise ConfigError("set both PAPERBOARD_SMTP_USER and PAPERBOARD_SMTP_PASSWORD, or neither")


def _connect(settings: Settings) -> smtplib.SMTP:
    assert settings.smtp_host is not None
    timeout = settings.http_timeout
    if settings.smtp_security == "tls":
        server: smtplib.SMTP = smtplib.SMTP_SSL(
            settings.smtp_host,
            settings.smtp_port,
            timeout=timeout,
            context=ssl.create_default_context(),
        )
    else:
        server = smtplib.SMTP(settings.smtp_host, settings.smtp_port, timeout=timeout)
        if settings.smtp_security == "starttls":
            server.starttls(context=ssl.create_default_context())
    if settings.smtp_user and settings.smtp_password:
        server.login(settings.smtp_user, settings.smtp_password)
    return server


class Mailer:
    """One SMTP connection reused across messages, reopened when it drops."""

    def __init__(
        self, settings: Settings, *, retries: int | None = None, backoff: float | None = None
    ) -> None:
        check_smtp_settings(settings)
        self.settings = settings
        self.retries = settings.http_retries if retries is None else retries
        self.backoff = settings.http_backoff if backoff is None else backoff
        self._server: smtplib.SMTP | None = None

    def send(self, message: EmailMessage) -> None:
        """Send one message; raises PermanentMailError on 5xx, MailError when retries run out."""
        if "From" not in message:
            message["From"] = self.settings.mail_from
        self._deliver(lambda server: server.send_message(message))

    def send_bytes(self, recipient: str, data: bytes) -> None:
        """Send a message already rendered to bytes (composed in another process), from the
        address of ``PAPERBOARD_MAIL_FROM``."""
        sender = parseaddr(self.settings.mail_from)[1]
        self._deliver(lambda server: server.sendmail(sender, [recipient], data))

    def _deliver(self, transmit: Callable[[smtplib.SMTP], dict[str, Any]]) -> None:
        pause = self.backoff
        for attempt in range(self.retries + 1):
            try:
                if self._server is None:
                    self._server = _connect(self.settings)
                refused = transmit(self._server)
                if refused:
                    code, reason = next(iter(refused.values()))
                    raise PermanentMailError(
                        f"recipient refused: {code} {reason.decode(errors='replace')}"
                    )
                return
            except smtplib.SMTPResponseException as error:
                self._drop()
                text = f"{error.smtp_code} {_text(error.smtp_error)}"
                if 500 <= error.smtp_code < 600:
                    raise PermanentMailError(f"mail refused: {text}") from None
                last = f"mail server said {text}"
            except smtplib.SMTPRecipientsRefused as error:
                self._drop()
                code, reason = next(iter(error.recipients.values()))
                if 500 <= code < 600:
                    raise PermanentMailError(f"recipient refused: {code} {_text(reason)}") from None
                last = f"recipient deferred: {code} {_text(reason)}"
            except (OSError, smtplib.SMTPException) as error:
                self._drop()
                last = (
                    "cannot reach the mail server "
                    f"{self.settings.smtp_host}:{self.settings.smtp_port}: {error}"
                )
            if attempt < self.retries:
                time.sleep(pause)
                pause *= 2
        raise MailError(" ".join(last.split()))

    def _drop(self) -> None:
        if self._server is not None:
            with contextlib.suppress(Exception):
                self._server.close()
            self._server = None

    def close(self) -> None:
        if self._server is not None:
            with contextlib.suppress(Exception):
                self._server.quit()
            self._server = None

    def __enter__(self) -> Mailer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _text(value: bytes | str) -> str:
    return value.decode(errors="replace") if isinstance(value, bytes) else str(value)
