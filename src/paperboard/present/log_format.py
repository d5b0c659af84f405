"""``PAPERBOARD_LOG_FORMAT``: plain text lines (the default) or one JSON object per line, for log
collectors. A JSON line holds ``time`` (ISO 8601, UTC), ``level``, ``logger`` and ``message``, and
``exception`` (the traceback) when the record carries one."""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime

from paperboard.core.config import Settings

_ROOT_HANDLER = "paperboard-json"  # the stderr handler configure_logging gives the root logger
_UVICORN = ("uvicorn", "uvicorn.error", "uvicorn.access")


class JsonFormatter(logging.Formatter):
    """One log record as one line of JSON."""

    def format(self, record: logging.LogRecord) -> str:
        moment = datetime.fromtimestamp(record.created, UTC)
        entry = {
            "time": moment.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        elif record.exc_text:
            entry["exception"] = record.exc_text
        if record.stack_info:
            entry["stack"] = self.formatStack(record.stack_info)
        return json.dumps(entry, ensure_ascii=False)


def log_formatter(settings: Settings, text: str) -> logging.Formatter:
    """The formatter of a paperboard log: JSON, or the ``text`` format string."""
    return JsonFormatter() if settings.log_format == "json" else logging.Formatter(text)


def configure_logging(settings: Settings) -> None:
    """With JSON logs, give the root logger a JSON handler on stderr and uvicorn's handlers the
    JSON formatter (call it after uvicorn has set up its logging: at the app's startup). With
    text logs, take that root handler away again; the rest is left as Python and uvicorn set it."""
    root = logging.getLogger()
    ours = [handler for handler in root.handlers if handler.get_name() == _ROOT_HANDLER]
    if settings.log_format != "json":
        for handler in ours:
            root.removeHandler(handler)
        return
    formatter = JsonFormatter()
    if not ours:
        handler = logging.StreamHandler(sys.stderr)
        handler.set_name(_ROOT_HANDLER)
        root.addHandler(handler)
        ours = [handler]
    for handler in ours:
        handler.setFormatter(formatter)
    for name in _UVICORN:
        for handler in logging.getLogger(name).handlers:
            handler.setFormatter(formatter)
