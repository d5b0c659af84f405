"""Portable interests: a reader's library in, a member's whole profile out and back in.

* :func:`match_references` finds the stored papers a reference list names: by arXiv id, then
  DOI, then exact title;
* :func:`import_library` reads a reference file (BibTeX, CSL-JSON, RIS, ORCID works, id lists:
  :mod:`paperboard.sources.references`) and makes the papers it matches upvotes, "more like
  this" signals, or the papers of a named collection;
* :func:`export_profile` writes what a member told the site about their interests as one JSON
  document (version 1: upvotes, signals, "for you" settings, collections with notes, followed
  authors, saved searches), and :func:`import_profile` merges such a document into an account
  of this site or of another.

Imports merge: what the account has stays, what the file adds keeps its own times, and
importing the same file again changes nothing. Papers this site does not have are reported,
not fatal; a file that is not what it should be is one :class:`PaperboardError` line.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

import orjson

from paperboard.core.errors import PaperboardError
from paperboard.present.container import Container
from paperboard.present.serialize import json_ready
from paperboard.present.webhooks import check_search, clean_webhook_url
from paperboard.sources.references import (
    MAX_BYTES,
    Reference,
    detect_format,
    parse_references,
)
from paperboard.store.interests import (
    DEFAULT_SETTINGS,
    MAX_NAME,
    SIGNALS,
    CollectionRow,
)
from paperboard.store.papers import PaperStore, title_key

VERSION = 1
KEY = "paperboard_profile"
Kind = Literal["upvote", "more", "collection"]


# -- a reader's library ---------------------------------------------------------------------------


def match_references(
    papers: PaperStore, references: Sequence[Reference]
) -> tuple[list[str], list[Reference]]:
    """The stored papers ``references`` name, in their order and once each, and the references
    that name none. A reference matches by its arXiv id, else its DOI (without case), else its
    title (whitespace collapsed, case folded); a few queries for the whole list."""
    by_arxiv = papers.existing_ids(r.arxiv_id for r in references if r.arxiv_id)
    rest = [r for r in references if r.arxiv_id not in by_arxiv]
    by_doi = papers.find_by_dois(r.doi for r in rest if r.doi)
    rest = [r for r in rest if not (r.doi and r.doi.lower() in by_doi)]
    by_title = papers.find_by_titles([r.title for r in rest if r.title])
    matched: dict[str, None] = {}
    unmatched: list[Reference] = []
    for reference in references:
        found = (
            (reference.arxiv_id if reference.arxiv_id in by_arxiv else None)
            or (by_doi.get(reference.doi.lower()) if reference.doi else None)
            or (by_title.get(title_key(reference.title)) if reference.title else None)
        )
        if found is None:
            unmatched.append(reference)
        else:
            matched.setdefault(found)
    return list(matched), unmatched


def treat_as(value: str) -> tuple[Kind, str | None]:
    """What an import makes of the matched papers: ``upvote`` (also ``upvotes`` or nothing),
    ``more`` ("more like this"), or else the name of a collection to put them in."""
    folded = value.strip().casefold()
    if folded in ("", "upvote", "upvotes"):
        return "upvote", None
    if folded in ("more", "more like this"):
        return "more", None
    name = " ".join(value.split())
    if len(name) > MAX_NAME:
        raise PaperboardError(f"a collection name may have at most {MAX_NAME} characters")
    return "collection", name


@dataclass
class LibraryReport:
    """What importing a reference file did."""

    name: str
    format: str
    references: int
    matched: list[str]
    added: int
    kind: Kind
    collection: CollectionRow | None
    unmatched: list[Reference]

    def as_dict(self) -> dict[str, Any]:
        collection = self.collection
        return {
            "file": self.name,
            "format": self.format,
            "references": self.references,
            "matched": len(self.matched),
            "added": self.added,
            "already": len(self.matched) - self.added,
            "as": self.kind,
            "collection": None
            if collection is None
            else {
                "id": collection["id"],
                "name": collection["name"],
                "url": f"/collections/{collection['id']}",
            },
            "papers": self.matched,
            "unmatched": [
                {"line": r.line, "arxiv_id": r.arxiv_id, "doi": r.doi, "title": r.title}
                for r in self.unmatched
            ],
        }

    def summary(self) -> str:
        what = {
            "upvote": "upvotes",
            "more": '"more like this" signals',
            "collection": f"papers of the collection {self.collection['name']!r}"
            if self.collection
            else "papers of a collection",
        }[self.kind]
        return (
            f"{len(self.matched):,} of {self.references:,} references matched papers here; "
            f"{self.added:,} new {what}, {len(self.matched) - self.added:,} there already; "
            f"{len(self.unmatched):,} not found"
        )


def import_library(
    container: Container,
    member_id: int,
    data: bytes,
    name: str = "",
    *,
    fmt: str | None = None,
    as_: str = "upvote",
) -> LibraryReport:
    """Read the reference file ``data`` (``fmt``, or detected from ``name`` and the content)
    and make the papers it matches ``as_`` says (:func:`treat_as`): upvotes, "more like this"
    signals, or the papers of the member's collection of that name, made if need be (only
    when a paper matched). A ReferenceError (a PaperboardError) for a file that cannot be read."""
    kind, collection_name = treat_as(as_)
    fmt = fmt or detect_format(name, data)
    references = parse_references(data, fmt, name=name)
    matched, unmatched = match_references(container.papers, references)
    now = datetime.now(UTC)
    interests = container.interests
    collection: CollectionRow | None = None
    if kind == "upvote":
        added = container.community.import_upvotes(member_id, [(pid, now) for pid in matched])
    elif kind == "more":
        added = interests.import_signals(member_id, "more", [(pid, now) for pid in matched])
    else:
        assert collection_name is not None
        collection = interests.collection_named(member_id, collection_name)
        if collection is None and matched:
            interests.create_collection(member_id, collection_name)
            collection = interests.collection_named(member_id, collection_name)
        added = 0
        if collection is not None:
            added, _ = interests.import_collection_items(
                member_id, collection["id"], [(pid, "", now) for pid in matched]
            )
            collection = interests.collection(collection["id"])
    return LibraryReport(
        name=name,
        format=fmt,
        references=len(references),
        matched=matched,
        added=added,
        kind=kind,
        collection=collection,
        unmatched=unmatched,
    )


# -- a whole profile -------------------------------------------------------------------------------


def export_profile(container: Container, member_id: int) -> dict[str, Any]:
    """Everything the member told the site about their interests, as JSON-ready values
    (times in ISO 8601, UTC)."""
    member = container.members.get(member_id)
    if member is None:
        raise PaperboardError(f"no member {member_id}")
    interests = container.interests
    signals = interests.signals_of(member_id)
    return dict(
        json_ready(
            {
                KEY: VERSION,
                "exported_at": datetime.now(UTC),
                "member": {"name": member["name"]},
                "upvotes": [
                    {"id": pid, "at": at} for pid, at in container.community.upvotes_of(member_id)
                ],
                "signals": {
                    kind: [{"id": pid, "at": at} for pid, at in signals.get(kind, [])]
                    for kind in SIGNALS
                },
                "settings": dict(interests.settings(member_id)),
                "collections": [
                    {
                        "name": row["name"],
                        "description": row["description"],
                        "public": row["public"],
                        "papers": [
                            {
                                "id": item["paper_id"],
                                "note": item["note"],
                                "added_at": item["added_at"],
                            }
                            for item in interests.collection_items(row["id"])
                        ],
                    }
                    for row in interests.collections_of(member_id)
                ],
                "follows": [{"name": row["name"]} for row in interests.follows_of(member_id)],
                "saved_searches": [
                    {
                        "name": row["name"],
                        "query": row["query"],
                        "mode": row["mode"],
                        "filters": row["filters"] or {},
                        "webhook_url": row["webhook_url"],
                    }
                    for row in interests.saved_searches_of(member_id)
                ],
            }
        )
    )


@dataclass
class _Collection:
    name: str
    description: str
    public: bool
    papers: list[tuple[str, str, datetime]]


@dataclass
class _SavedSearch:
    name: str
    query: str
    mode: str
    filters: dict[str, Any]
    webhook_url: str | None


@dataclass
class Profile:
    """A profile document read and checked, before anything is written."""

    upvotes: list[tuple[str, datetime]]
    signals: dict[str, list[tuple[str, datetime]]]
    settings: dict[str, Any]
    unknown_settings: list[str]
    collections: list[_Collection]
    follows: list[str]
    saved_searches: list[_SavedSearch]

    def paper_ids(self) -> set[str]:
        ids = {pid for pid, _ in self.upvotes}
        for marks in self.signals.values():
            ids.update(pid for pid, _ in marks)
        for collection in self.collections:
            ids.update(pid for pid, _, _ in collection.papers)
        return ids


_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def _has_control(value: Any) -> bool:
    """Control characters anywhere in a parsed document (tab and line breaks are allowed).
    A loop, not recursion: JSON may nest deeper than Python's call stack."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            if _CONTROL.search(item) is not None:
                return True
        elif isinstance(item, Mapping):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return False


class _Bad(PaperboardError):
    pass


def _bad(where: str, what: str) -> _Bad:
    return _Bad(f"not a paperboard profile: {where} {what}")


def _list(value: Any, where: str) -> list[Any]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise _bad(where, "is not a list")
    return value


def _object(value: Any, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise _bad(where, "is not an object")
    return value


def _text(value: Any, where: str, *, empty: bool = True) -> str:
    if not isinstance(value, str) or not (empty or value.strip()):
        raise _bad(where, "is not a text" if empty else "is not a non-empty text")
    return value


def _time(value: Any, where: str) -> datetime:
    if value is None:
        return datetime.now(UTC)
    try:
        found = datetime.fromisoformat(_text(value, where))
        return found.replace(tzinfo=UTC) if found.tzinfo is None else found.astimezone(UTC)
    except (ValueError, OverflowError):  # overflow: a time zone that moves it out of the years
        raise _bad(where, f"is not a date and time: {str(value)[:40]!r}") from None


def _marks(value: Any, where: str) -> list[tuple[str, datetime]]:
    out = []
    for number, entry in enumerate(_list(value, where)):
        entry = _object(entry, f"{where}[{number}]")
        pid = _text(entry.get("id"), f"{where}[{number}].id", empty=False)
        out.append((pid, _time(entry.get("at"), f"{where}[{number}].at")))
    return out


def _settings(value: Any) -> tuple[dict[str, Any], list[str]]:
    settings = _object(value if value is not None else {}, "settings")
    out: dict[str, Any] = {}
    unknown = [key for key in settings if key not in DEFAULT_SETTINGS]
    for key, item in settings.items():
        where = f"settings.{key}"
        if key == "categories":
            out[key] = [_text(c, f"{where}[{n}]") for n, c in enumerate(_list(item, where))]
        elif key in ("exploration", "popularity"):
            if isinstance(item, bool) or not isinstance(item, int | float):
                raise _bad(where, "is not a number")
            out[key] = min(max(float(item), 0.0), 1.0)
        elif key in ("only_categories", "hide_read"):
            if not isinstance(item, bool):
                raise _bad(where, "is not true or false")
            out[key] = item
        elif key == "onboarded_at":
            out[key] = None if item is None else _time(item, where)
    return out, unknown


def read_profile(data: bytes | str | Mapping[str, Any]) -> Profile:
    """Read and check a profile document (JSON text, or already parsed); a PaperboardError of
    one line when it is not JSON, not a profile, of another version, or has a field of the
    wrong kind."""
    if isinstance(data, bytes | str):
        if len(data) > MAX_BYTES:
            raise PaperboardError(
                f"the profile has {len(data):,} bytes; at most {MAX_BYTES:,} can be read at once"
            )
        try:
            document = orjson.loads(data)
        except orjson.JSONDecodeError as error:
            raise PaperboardError(f"not a paperboard profile: not JSON ({error})") from None
    else:
        document = data
    if not isinstance(document, Mapping) or KEY not in document:
        raise PaperboardError(f'not a paperboard profile: no "{KEY}" version in it')
    if _has_control(document):
        raise PaperboardError(
            "not a paperboard profile: it holds control characters (NUL and other C0 codes, "
            "DEL), which no name, note or id may"
        )
    version = document[KEY]
    if version != VERSION or isinstance(version, bool):
        raise PaperboardError(
            f"a profile of version {str(version)[:20]!r} cannot be read here: "
            f"this site reads version {VERSION}"
        )
    signals = _object(document.get("signals") or {}, "signals")
    settings, unknown = _settings(document.get("settings"))
    collections = []
    for number, entry in enumerate(_list(document.get("collections"), "collections")):
        where = f"collections[{number}]"
        entry = _object(entry, where)
        public = entry.get("public", False)
        if not isinstance(public, bool):
            raise _bad(f"{where}.public", "is not true or false")
        papers = []
        for index, item in enumerate(_list(entry.get("papers"), f"{where}.papers")):
            at = f"{where}.papers[{index}]"
            item = _object(item, at)
            papers.append(
                (
                    _text(item.get("id"), f"{at}.id", empty=False),
                    _text(item.get("note") or "", f"{at}.note"),
                    _time(item.get("added_at"), f"{at}.added_at"),
                )
            )
        collections.append(
            _Collection(
                name=" ".join(_text(entry.get("name"), f"{where}.name", empty=False).split()),
                description=_text(entry.get("description") or "", f"{where}.description"),
                public=public,
                papers=papers,
            )
        )
    follows = [
        _text(_object(entry, f"follows[{n}]").get("name"), f"follows[{n}].name", empty=False)
        for n, entry in enumerate(_list(document.get("follows"), "follows"))
    ]
    searches = []
    for number, entry in enumerate(_list(document.get("saved_searches"), "saved_searches")):
        where = f"saved_searches[{number}]"
        entry = _object(entry, where)
        webhook = entry.get("webhook_url")
        searches.append(
            _SavedSearch(
                name=" ".join(_text(entry.get("name"), f"{where}.name", empty=False).split()),
                query=_text(entry.get("query") or "", f"{where}.query"),
                mode=_text(entry.get("mode") or "hybrid", f"{where}.mode"),
                filters=_object(entry.get("filters") or {}, f"{where}.filters"),
                webhook_url=None if webhook is None else _text(webhook, f"{where}.webhook_url"),
            )
        )
    return Profile(
        upvotes=_marks(document.get("upvotes"), "upvotes"),
        signals={kind: _marks(signals.get(kind), f"signals.{kind}") for kind in SIGNALS},
        settings=settings,
        unknown_settings=unknown,
        collections=collections,
        follows=follows,
        saved_searches=searches,
    )


@dataclass
class ProfileReport:
    """What importing a profile did: how many of each thing were new, the papers this site
    does not have, and what was left out and why."""

    added: dict[str, int] = field(default_factory=dict)
    unknown_papers: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return any(self.added.values())

    def as_dict(self) -> dict[str, Any]:
        return {
            "changed": self.changed,
            "added": self.added,
            "unknown_papers": self.unknown_papers,
            "problems": self.problems,
        }

    def summary(self) -> str:
        if self.changed:
            parts = [f"{n:,} {what.replace('_', ' ')}" for what, n in self.added.items() if n]
            line = f"added {', '.join(parts)}"
        else:
            line = "nothing new: the account had all of it already"
        if self.unknown_papers:
            line += f"; {len(self.unknown_papers):,} papers unknown here"
        if self.problems:
            line += f"; {len(self.problems):,} things left out"
        return line


def import_profile(
    container: Container, member_id: int, data: bytes | str | Mapping[str, Any]
) -> ProfileReport:
    """Merge a profile document (:func:`export_profile`'s, from this site or another) into the
    member's account. The document is checked whole before anything is written. Upvotes,
    signals and collection papers keep their times; settings take the document's values (the
    end of onboarding only when the account has none); a collection, followed author or saved
    search of a name the account has already is merged into (a saved search: kept as it is)."""
    profile = read_profile(data)
    report = ProfileReport()
    known = container.papers.existing_ids(profile.paper_ids())
    report.unknown_papers = sorted(profile.paper_ids() - known)
    interests = container.interests

    upvotes = [(pid, at) for pid, at in profile.upvotes if pid in known]
    report.added["upvotes"] = container.community.import_upvotes(member_id, upvotes)
    for kind in SIGNALS:
        marks = [(pid, at) for pid, at in profile.signals[kind] if pid in known]
        report.added[kind] = interests.import_signals(member_id, kind, marks)

    report.problems += [f"setting {key!r} is unknown here" for key in profile.unknown_settings]
    current: dict[str, Any] = dict(interests.settings(member_id))
    changes = {key: value for key, value in profile.settings.items() if current[key] != value}
    if "categories" in changes:
        categories = sorted({c.strip() for c in changes["categories"]} - {""})[:50]
        if categories == current["categories"]:
            del changes["categories"]
    if current["onboarded_at"] is not None or changes.get("onboarded_at") is None:
        changes.pop("onboarded_at", None)
    if changes:
        interests.save_settings(member_id, **changes)
    report.added["settings"] = len(changes)

    _import_collections(container, member_id, profile, known, report)

    report.added["follows"] = 0
    for name in profile.follows:
        try:
            report.added["follows"] += interests.follow(member_id, name)
        except PaperboardError as error:
            report.problems.append(f"follow {name[:80]!r}: {error}")

    report.added["saved_searches"] = 0
    have = {row["name"]: row for row in interests.saved_searches_of(member_id)}
    for search in profile.saved_searches:
        old = have.get(search.name)
        if old is not None:
            same = (old["query"], old["mode"], old["filters"] or {}, old["webhook_url"]) == (
                search.query.strip(),
                search.mode,
                search.filters,
                search.webhook_url or None,
            )
            if not same:
                report.problems.append(
                    f"saved search {search.name!r}: you have one of that name already; kept yours"
                )
            continue
        try:
            check_search(search.query, search.mode, search.filters)
            interests.save_search(
                member_id,
                search.name,
                search.query,
                mode=search.mode,
                filters=search.filters,
                webhook_url=clean_webhook_url(search.webhook_url),
            )
        except PaperboardError as error:
            report.problems.append(f"saved search {search.name[:80]!r}: {error}")
        else:
            report.added["saved_searches"] += 1
    return report


def _import_collections(
    container: Container, member_id: int, profile: Profile, known: set[str], report: ProfileReport
) -> None:
    interests = container.interests
    have = {row["name"]: row["id"] for row in interests.collections_of(member_id)}
    for what in ("collections", "collection_papers", "notes"):
        report.added[what] = 0
    for collection in profile.collections:
        try:
            if collection.name not in have:
                have[collection.name] = interests.create_collection(
                    member_id,
                    collection.name,
                    description=collection.description,
                    public=collection.public,
                )
                report.added["collections"] += 1
            added, noted = interests.import_collection_items(
                member_id,
                have[collection.name],
                [entry for entry in collection.papers if entry[0] in known],
            )
        except PaperboardError as error:
            report.problems.append(f"collection {collection.name[:80]!r}: {error}")
            continue
        report.added["collection_papers"] += added
        report.added["notes"] += noted
