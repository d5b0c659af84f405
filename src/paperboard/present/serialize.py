"""Papers as JSON-ready dicts: the one shape the CLI's ``--json`` and the API build on."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from paperboard.core.ids import is_arxiv_id
from paperboard.store.rows import PaperRow


def _iso(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat().replace("+00:00", "Z")
    if isinstance(value, date):
        return value.isoformat()
    return value


def paper_dict(row: PaperRow) -> dict[str, Any]:
    """All stored fields of a paper, dates in ISO 8601, plus its arXiv links when it has them."""
    out = {key: _iso(value) for key, value in row.items()}
    if is_arxiv_id(row["id"]):
        version = f"v{row['version']}" if row.get("version") else ""
        out["arxiv_url"] = f"https://arxiv.org/abs/{row['id']}{version}"
        out["pdf_url"] = f"https://arxiv.org/pdf/{row['id']}{version}"
    else:
        out["arxiv_url"] = out["pdf_url"] = None
    return out


def json_ready(value: Any) -> Any:
    """Dates and datetimes inside nested dicts/lists turned into ISO strings."""
    if isinstance(value, dict):
        return {key: json_ready(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [json_ready(item) for item in value]
    return _iso(value)
