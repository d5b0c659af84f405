"""The outbox: where mail goes while no SMTP server is configured (``HOME/outbox/``).

Each message is one ``.eml`` file named by when it was written and a short random id
(``20261203T070658123456Z-1a2b3c4d.eml``), so names sort in the order mail went out. Files are
written whole or not at all (``atomic_write``: a temporary name, then a rename) and readable by
the owner only, since they hold sign-in reset links. The admin page ``/admin/outbox`` lists them
and shows each one's text with its links clickable, so a local user can follow a confirmation link.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email import policy
from email.message import EmailMessage
from email.parser import BytesHeaderParser, BytesParser
from email.utils import format_datetime
from pathlib import Path

from paperboard.core.config import Settings
from paperboard.core.errors import NotFoundError
from paperboard.core.files import atomic_write
from paperboard.present.mail.smtp import MailError

_ID = re.compile(r"\d{8}T\d{12}Z-[0-9a-f]{8}")
_LINK = re.compile(r"https?://[^\s<>\"']+")


def outbox_folder(settings: Settings) -> Path:
    return settings.home / "outbox"


@dataclass
class OutboxEntry:
    """One message in the outbox, as listed: its id (the file name without ``.eml``) and headers."""

    id: str
    written_at: datetime
    to: str
    subject: str
    sender: str


@dataclass
class OutboxMessage(OutboxEntry):
    """One message in the outbox, read whole: its text and the links in it."""

    text: str = ""
    links: list[str] = field(default_factory=list)


class Outbox:
    """Writes each message it is given to the outbox folder instead of sending it."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.folder = outbox_folder(settings)

    def send(self, message: EmailMessage) -> Path:
        if "From" not in message:
            message["From"] = self.settings.mail_from
        if "Date" not in message:
            message["Date"] = format_datetime(datetime.now(UTC))
        return self._write(message.as_bytes(policy=policy.SMTP))

    def send_bytes(self, recipient: str, data: bytes) -> Path:
        """A message already rendered to bytes (its To header names ``recipient``)."""
        return self._write(data)

    def _write(self, data: bytes) -> Path:
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
        path = self.folder / f"{stamp}-{secrets.token_hex(4)}.eml"
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            atomic_write(path, data, mode=0o600, exclusive=True)
        except OSError as error:  # a full disk, say: transient, as a mail server being away
            raise MailError(f"cannot write to the outbox {self.folder}: {error.strerror}") from None
        return path

    def close(self) -> None:
        pass

    def __enter__(self) -> Outbox:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _written_at(message_id: str) -> datetime:
    return datetime.strptime(message_id[:22], "%Y%m%dT%H%M%S%fZ").replace(tzinfo=UTC)


def list_outbox(settings: Settings, *, limit: int = 200) -> tuple[int, list[OutboxEntry]]:
    """How many messages the outbox holds, and the newest ``limit`` of them, newest first."""
    folder = outbox_folder(settings)
    if not folder.is_dir():
        return 0, []
    ids = sorted(
        (p.name[:-4] for p in folder.glob("*.eml") if _ID.fullmatch(p.name[:-4])), reverse=True
    )
    entries = []
    parser = BytesHeaderParser(policy=policy.default)
    for message_id in ids[:limit]:
        try:
            with (folder / f"{message_id}.eml").open("rb") as handle:
                headers = parser.parse(handle)
        except OSError:  # removed since it was listed
            continue
        entries.append(
            OutboxEntry(
                message_id,
                _written_at(message_id),
                str(headers.get("To", "")),
                str(headers.get("Subject", "")),
                str(headers.get("From", "")),
            )
        )
    return len(ids), entries


def read_outbox(settings: Settings, message_id: str) -> OutboxMessage:
    """One message of the outbox by its id; NotFoundError for an unknown (or malformed) id."""
    path = outbox_folder(settings) / f"{message_id}.eml"
    if not _ID.fullmatch(message_id) or not path.is_file():
        raise NotFoundError("no such message in the outbox")
    message = BytesParser(policy=policy.default).parsebytes(path.read_bytes())
    assert isinstance(message, EmailMessage)
    body = message.get_body(preferencelist=("plain",))
    text = body.get_content() if isinstance(body, EmailMessage) else ""
    links = list(dict.fromkeys(_LINK.findall(text)))
    unsubscribe = str(message.get("List-Unsubscribe", "")).strip().strip("<>")
    if unsubscribe.startswith(("http://", "https://")) and unsubscribe not in links:
        links.append(unsubscribe)
    return OutboxMessage(
        message_id,
        _written_at(message_id),
        str(message.get("To", "")),
        str(message.get("Subject", "")),
        str(message.get("From", "")),
        text=text,
        links=links,
    )
