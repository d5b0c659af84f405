"""The demo papers shipped with the package: those shown on two saved Daily Papers pages, as shown
there (titles, abstracts, author counts, dates, upvotes, code links).

The data file ``paperboard/data/demo_papers.json`` is built by ``scripts/build_demo_data.py``, whose
docstring says how the pages were read. Its shape::

    {"about": "...", "pages": ["000_....txt", ...],
     "papers": [{"id": "2505.13308" | "demo:<slug>", "title": "...", "abstract": "..." | null,
                 "abstract_truncated": false, "author_count": 11 | null,
                 "published": "2025-05-19" | null, "upvotes": 4 | null,
                 "code_urls": [...], "project_urls": [...], "pages": ["000", ...]}]}

Records carry no author names (the pages show only a count), no version (so arXiv data imported
later replaces the bibliographic fields), and ``published_at`` at midnight UTC of the day shown.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime
from functools import cached_property
from importlib import resources
from typing import Any

import orjson

from paperboard.core.errors import InvalidIdError, SourceError
from paperboard.core.ids import canonical_id
from paperboard.core.records import Item, PaperRecord, Skip

NAME = "demo"
DATA_FILE = "demo_papers.json"


def _strings(value: Any, key: str) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ValueError(f"{key} is not a list of strings")
    return list(value)


def _count(value: Any, key: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"{key} is not a count")
    return value


def parse_paper(entry: Any) -> PaperRecord:
    """One paper of the demo file as a record; raises ValueError when it is unusable."""
    if not isinstance(entry, dict):
        raise ValueError("not an object")
    raw_id, title = entry.get("id"), entry.get("title")
    if not isinstance(raw_id, str):
        raise ValueError("no id")
    paper_id = canonical_id(raw_id)
    if not isinstance(title, str) or not title.strip():
        raise ValueError("no title")
    abstract = entry.get("abstract")
    if abstract is not None and not isinstance(abstract, str):
        raise ValueError("abstract is not a string")
    published = entry.get("published")
    if published is not None:
        if not isinstance(published, str):
            raise ValueError("published is not a date")
        day = date.fromisoformat(published)
        published_at: datetime | None = datetime(day.year, day.month, day.day, tzinfo=UTC)
    else:
        published_at = None
    return PaperRecord(
        id=paper_id,
        source=NAME,
        version=None,
        title=title,
        abstract=abstract,
        authors=None,
        author_count=_count(entry.get("author_count"), "author_count"),
        published_at=published_at,
        upvotes=_count(entry.get("upvotes"), "upvotes"),
        code_urls=_strings(entry.get("code_urls"), "code_urls"),
        project_urls=_strings(entry.get("project_urls"), "project_urls"),
    )


class DemoSource:
    """The demo papers; progress counts papers."""

    name = NAME
    target = f"paperboard/data/{DATA_FILE}"

    def __init__(self) -> None:
        self._done = 0

    @cached_property
    def _papers(self) -> list[Any]:
        try:
            raw = resources.files("paperboard").joinpath("data", DATA_FILE).read_bytes()
            document = orjson.loads(raw)
        except (OSError, orjson.JSONDecodeError) as error:
            raise SourceError(f"the demo data {self.target} cannot be read: {error}") from None
        papers = document.get("papers") if isinstance(document, dict) else None
        if not isinstance(papers, list):
            raise SourceError(f"the demo data {self.target} holds no list of papers")
        return papers

    def paper_ids(self) -> list[str]:
        """Canonical ids of the demo papers in file order (unreadable entries left out)."""
        ids = []
        for entry in self._papers:
            raw = entry.get("id") if isinstance(entry, dict) else None
            if isinstance(raw, str):
                try:
                    ids.append(canonical_id(raw))
                except InvalidIdError:
                    continue
        return ids

    def progress(self) -> tuple[float, float | None]:
        total = len(self._papers) if "_papers" in self.__dict__ else None
        return float(self._done), None if total is None else float(total)

    def records(self) -> Iterator[Item]:
        for number, entry in enumerate(self._papers, start=1):
            try:
                yield parse_paper(entry)
            except (ValueError, InvalidIdError) as error:
                yield Skip(f"{DATA_FILE} entry {number}", str(error))
            self._done = number
