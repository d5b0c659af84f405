"""Hugging Face Daily Papers: upvotes, the day a paper was put on the list, who put it there, and
code and project links, from ``GET /api/daily_papers`` or a saved copy of its answer.

The shape read (the answer of ``https://huggingface.co/api/daily_papers?date=YYYY-MM-DD``, and what
``huggingface_hub``'s ``HfApi.list_daily_papers`` turns into ``PaperInfo`` objects) is a JSON list
of items::

    [
      {
        "paper": {
          "id": "2611.01234",                          # arXiv id (required)
          "title": "...", "summary": "...",            # title and abstract
          "authors": [{"_id": "...", "name": "Ada Lovelace", "hidden": false,
                       "user": {"name": "...", "fullname": "...", ...}}, ...],
          "publishedAt": "2026-11-18T17:59:51.000Z",   # arXiv publication time
          "submittedOnDailyAt": "2026-11-20T01:32:11.402Z",   # put on the Daily Papers list
          "submittedOnDailyBy": {"name": "...", "fullname": "...", ...},
          "upvotes": 12,
          "githubRepo": "https://github.com/owner/repo",      # optional
          "projectPage": "https://example.org/project",       # optional
          "githubStars": 34, "discussionId": "...", "ai_summary": "...", "ai_keywords": [...],
          "mediaUrls": [...], "withdrawnAt": null, "organization": {...}
        },
        "title": "...", "summary": "...",              # the same title and abstract again
        "publishedAt": "...",                          # huggingface_hub: submission time
        "submittedBy": {"_id": "...", "name": "akhaliq", "fullname": "AK", "avatarUrl": "...",
                        "isPro": false, "type": "user", ...},
        "numComments": 3, "thumbnail": "https://...", "mediaUrls": [...],
        "isAuthorParticipating": false, "organization": {...}
      }
    ]

An item without a ``paper`` object but with an ``id`` is read as a bare paper object (the shape of
``/api/papers/{id}``). How it maps onto :class:`~paperboard.core.records.PaperRecord`:

* ``id``: ``paper.id`` through :func:`~paperboard.core.ids.parse_arxiv_id`; a paper without an arXiv
  id is skipped. ``version`` stays ``None``: Hugging Face does not know arXiv versions, so data from
  arXiv wins under the merge rules.
* ``title`` / ``abstract``: ``paper.title`` / ``paper.summary``, else the item's ``title`` /
  ``summary``.
* ``authors``: every ``paper.authors[].name`` in order, whatever its ``hidden`` flag (so the list
  stays the paper's own).
* ``published_at``: ``paper.publishedAt`` (the item-level ``publishedAt`` is not used).
* ``submitted_on_daily``: the UTC date of ``paper.submittedOnDailyAt`` (else an item-level
  ``submittedOnDailyAt``).
* ``submitted_by``: ``submittedBy.name`` (the Hub user name), else
  ``paper.submittedOnDailyBy.name``; ``user`` is accepted where ``name`` is missing.
* ``upvotes``: ``paper.upvotes`` (else the item's), a non-negative whole number.
* ``code_urls`` / ``project_urls``: ``paper.githubRepo`` and ``paper.projectPage``, normalized like
  links found in abstracts (a GitHub link given as project page counts as code).

Fields not listed are ignored. An item that is not an object, lacks an id, or has a field of the
wrong type is skipped as ``FILE entry N`` (N counts from 1); the others are imported.

The API is asked for ``date=YYYY-MM-DD&limit=100&p=0`` (parameters ``huggingface_hub``'s
``list_daily_papers`` also sends), then ``p=1``, ... while pages come back full; a page holding no
paper not seen before also ends the listing, in case a server ignores ``p``. A 4xx answer is a
one-line :class:`~paperboard.core.errors.SourceError` (5xx and 429 are retried by the client).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime
from pathlib import Path
from typing import Any

import httpx
import orjson

from paperboard.core.errors import InvalidIdError, SourceError
from paperboard.core.ids import parse_arxiv_id
from paperboard.core.records import Item, PaperRecord, Skip
from paperboard.sources.http import PoliteClient
from paperboard.sources.normalize import find_links, parse_datetime

NAME = "hf"
PAGE_SIZE = 100
"""Items asked for per request (the most the Hub gives at once)."""
MAX_PAGES = 50
MAX_NAME = 300  # the store's limit on submitter names


def _one_line(text: str, limit: int = 200) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def _text(obj: dict[str, Any], key: str) -> str | None:
    value = obj.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise ValueError(f"{key} is not a string")
    return value.replace("\x00", "")


def _object(obj: dict[str, Any], key: str) -> dict[str, Any] | None:
    value = obj.get(key)
    if value is None:
        return None
    if not isinstance(value, dict):
        raise ValueError(f"{key} is not an object")
    return value


def _when(obj: dict[str, Any], key: str) -> datetime | None:
    text = _text(obj, key)
    try:
        return parse_datetime(text)
    except (ValueError, OverflowError):
        raise ValueError(f"{key} is not a date: {_one_line(text or '', 40)!r}") from None


def _authors(paper: dict[str, Any]) -> list[str] | None:
    raw = paper.get("authors")
    if raw is None:
        return None
    if not isinstance(raw, list):
        raise ValueError("authors is not a list")
    names = []
    for author in raw:
        if isinstance(author, str):  # tolerated: a plain list of names
            name: str | None = author
        elif isinstance(author, dict):
            name = _text(author, "name")
        else:
            raise ValueError("an author is neither an object nor a name")
        if name and name.strip():
            names.append(name)
    return names or None


def _upvotes(value: Any) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError("upvotes is not a number")
    if value != value or value in (float("inf"), float("-inf")) or value != int(value):
        raise ValueError(f"upvotes is not a whole number: {value!r}")
    if value < 0 or value > 2**31 - 1:
        raise ValueError(f"upvotes out of range: {value!r}")
    return int(value)


def _user_name(user: dict[str, Any] | None) -> str | None:
    if user is None:
        return None
    name = _text(user, "name") or _text(user, "user")
    if name is None or not name.strip():
        return None
    if len(name) > MAX_NAME:
        raise ValueError("submitter name is too long")
    return name.strip()


def _links(*values: str | None) -> tuple[list[str], list[str]]:
    code: list[str] = []
    project: list[str] = []
    for value in values:
        if not value or not value.strip():
            continue
        text = value.strip()
        if "://" not in text and not text.lower().startswith("www."):
            text = "https://" + text
        found_code, found_project = find_links(text)
        code += [url for url in found_code if url not in code]
        project += [url for url in found_project if url not in project]
    return code, project


def parse_item(item: Any, source: str = NAME) -> PaperRecord:
    """One ``/api/daily_papers`` item as a record; raises ValueError (InvalidIdError for ids that
    are not arXiv's) when it cannot be used."""
    if not isinstance(item, dict):
        raise ValueError("entry is not a JSON object")
    paper = _object(item, "paper")
    if paper is None:
        if "id" not in item:
            raise ValueError("entry has no paper object")
        paper = item
    raw_id = paper.get("id")
    if not isinstance(raw_id, str) or not raw_id.strip():
        raise ValueError("paper has no id")
    arxiv = parse_arxiv_id(raw_id)

    title = _text(paper, "title") or _text(item, "title")
    abstract = _text(paper, "summary") or _text(item, "summary")
    submitted = _when(paper, "submittedOnDailyAt") or (
        _when(item, "submittedOnDailyAt") if item is not paper else None
    )
    submitter = _user_name(_object(item, "submittedBy")) if item is not paper else None
    submitter = submitter or _user_name(_object(paper, "submittedOnDailyBy"))
    upvotes = _upvotes(paper.get("upvotes"))
    if upvotes is None and item is not paper:
        upvotes = _upvotes(item.get("upvotes"))
    code, project = _links(_text(paper, "githubRepo"))
    more_code, more_project = _links(_text(paper, "projectPage"))
    for url in more_code:
        if url not in code:
            code.append(url)
    for url in more_project:
        if url not in project:
            project.append(url)
    return PaperRecord(
        id=arxiv.id,
        source=source,
        version=None,
        title=title if title and title.strip() else None,
        abstract=abstract if abstract and abstract.strip() else None,
        authors=_authors(paper),
        published_at=_when(paper, "publishedAt"),
        upvotes=upvotes,
        submitted_on_daily=submitted.date() if submitted else None,
        submitted_by=submitter,
        code_urls=code,
        project_urls=[url for url in project if url not in code],
    )


def read_item(item: Any, where: str, source: str = NAME) -> PaperRecord | Skip:
    """:func:`parse_item`, with a :class:`Skip` saying why instead of an exception."""
    try:
        return parse_item(item, source)
    except (ValueError, InvalidIdError) as error:
        return Skip(where, _one_line(str(error)))


def _decode(body: bytes, label: str) -> list[Any]:
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError as error:
        raise SourceError(f"{label} is not JSON ({_one_line(str(error), 120)})") from None
    if not isinstance(data, list):
        kind = "an object" if isinstance(data, dict) else type(data).__name__
        raise SourceError(f"{label} is not a list of daily papers (found {kind})")
    return data


class HfDailySource:
    """Papers from a saved ``daily_papers`` answer or from the API for one day.

    Progress counts entries: ``(entries read, entries known)``; with the API the total is known
    only once the last page has come.
    """

    name = NAME

    def __init__(
        self,
        *,
        path: Path | None = None,
        client: PoliteClient | None = None,
        base_url: str | None = None,
        day: date | None = None,
    ) -> None:
        self.path = Path(path) if path is not None else None
        self.client = client
        self.base_url = (base_url or "").rstrip("/")
        self.day = day
        if self.path is not None:
            self.target = str(self.path)
        else:
            self.target = f"{self.base_url}/api/daily_papers?date={day.isoformat() if day else ''}"
        self._done = 0
        self._total: int | None = None

    @classmethod
    def from_file(cls, path: Path) -> HfDailySource:
        """A source reading a saved ``/api/daily_papers`` JSON answer."""
        return cls(path=path)

    @classmethod
    def from_api(cls, client: PoliteClient, base_url: str, day: date) -> HfDailySource:
        """A source asking ``GET {base_url}/api/daily_papers?date=YYYY-MM-DD`` (page by page)."""
        return cls(client=client, base_url=base_url, day=day)

    def progress(self) -> tuple[float, float | None]:
        return float(self._done), None if self._total is None else float(self._total)

    def records(self) -> Iterator[Item]:
        if self.path is not None:
            yield from self._from_file(self.path)
        else:
            yield from self._from_api()

    def _from_file(self, path: Path) -> Iterator[Item]:
        try:
            body = path.read_bytes()
        except OSError as error:
            raise SourceError(f"cannot open {path}: {error.strerror}") from None
        items = _decode(body, path.name)
        self._total = len(items)
        for number, item in enumerate(items, start=1):
            yield read_item(item, f"{path.name} entry {number}")
            self._done = number

    def _fetch(self, page: int) -> list[Any]:
        assert self.client is not None and self.day is not None
        url = f"{self.base_url}/api/daily_papers"
        params = {"date": self.day.isoformat(), "limit": PAGE_SIZE, "p": page}
        response = self.client.get(url, params=params)
        host = httpx.URL(url).host or url
        if response.status_code >= 400:
            detail = ""
            try:
                body = response.json()
                message = body.get("error") if isinstance(body, dict) else None
                if isinstance(message, str) and message.strip():
                    detail = f": {_one_line(message, 120)}"
            except ValueError:
                pass
            raise SourceError(
                f"{host}: HTTP {response.status_code} for daily papers of {self.day}{detail}"
            )
        return _decode(response.content, f"{host}'s answer for {self.day}")

    def _from_api(self) -> Iterator[Item]:
        seen: set[str] = set()
        number = 0
        for page in range(MAX_PAGES):
            items = self._fetch(page)
            fresh = 0
            for item in items:
                number += 1
                result = read_item(item, f"daily_papers {self.day} entry {number}")
                if isinstance(result, PaperRecord):
                    if result.id in seen:
                        continue
                    seen.add(result.id)
                    fresh += 1
                yield result
                self._done = number
            # A short page is the last; a page of nothing new means the server ignores paging.
            if len(items) < PAGE_SIZE or fresh == 0:
                break
        self._total = number
