"""arXiv's daily announcements: the RSS 2.0 listing feeds of ``rss.arxiv.org/rss`` (and their Atom
twin at ``rss.arxiv.org/atom``), for same-day papers before OAI-PMH has their full metadata.

One request reads the last announcement of several categories at once: ``{base}/cs.LG+cs.CV``.
Each ``<item>`` (arXiv's documented layout, https://info.arxiv.org/help/rss.html) holds::

    <title>...</title>
    <link>https://arxiv.org/abs/2501.01234</link>
    <description>arXiv:2501.01234v1 Announce Type: new
    Abstract: ...</description>
    <guid isPermaLink="false">oai:arXiv.org:2501.01234v1</guid>
    <category>cs.LG</category> <category>cs.AI</category>
    <pubDate>Mon, 06 Jan 2025 00:00:00 -0500</pubDate>
    <arxiv:announce_type>new</arxiv:announce_type>    (new, cross, replace, replace-cross)
    <dc:rights>http://creativecommons.org/licenses/by/4.0/</dc:rights>
    <dc:creator>Ada Lovelace, Alan Turing</dc:creator>
    <arxiv:DOI>...</arxiv:DOI> <arxiv:journal_reference>...</arxiv:journal_reference>

An Atom ``<entry>`` says the same with ``id``, ``summary``, ``category term=``, ``published`` /
``updated`` and ``rights``. On days without an announcement (weekends, holidays) the channel holds
no item: that is no error, the source then sets :attr:`ArxivRssSource.notice`.

How an item becomes a :class:`~paperboard.core.records.PaperRecord`, and why:

* ``version`` stays ``None`` although the item names one. The listing is a preview: its authors are
  one comma-separated string, it has no comments, versions or submitter, and its date is the
  announcement's, not the submission's. Counted as version 0 under the merge rules, it fills only
  what nothing else gave, never overwrites a record from the API, OAI-PMH or a snapshot, and a
  later record from those (version 1 or more) replaces every field it states.
* ``published_at`` is the announcement time for ``new`` items and for ``cross`` items of version 1
  (so the paper is on that day's feed at once); ``replace`` and ``replace-cross`` items announce an
  older paper again and leave it empty. ``updated_at`` is the announcement time for every item.
* The abstract is the description after ``Abstract:``; authors come from ``dc:creator``.

An item without a readable id or title, or with an unknown announce type, is skipped as ``arXiv RSS
CATS item N``. A paper listed in several of the categories comes once.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime

from lxml import etree

from paperboard.core.errors import SourceError
from paperboard.core.ids import parse_arxiv_id
from paperboard.core.records import Item, PaperRecord, Skip
from paperboard.sources.http import PoliteClient
from paperboard.sources.normalize import one_line, parse_datetime, split_authors

NAME = "rss"

ATOM = "http://www.w3.org/2005/Atom"
ARXIV = "http://arxiv.org/schemas/atom"
DC = "http://purl.org/dc/elements/1.1/"

ANNOUNCE_TYPES = ("new", "cross", "replace", "replace-cross")
_CATEGORY = re.compile(r"^[A-Za-z][A-Za-z-]*(?:\.[A-Za-z][A-Za-z-]*)?$")
_HEADER = re.compile(
    r"^\s*(?:arXiv:(?P<id>\S+))?\s*(?:Announce Type:\s*(?P<type>[\w-]+))?\s*", re.IGNORECASE
)
_ABSTRACT = re.compile(r"^\s*Abstract:\s*", re.IGNORECASE)
_MAX_MESSAGE = 200


def check_categories(values: list[str]) -> list[str]:
    """The categories to ask for, each value split on ``+`` and deduplicated in order; raises
    ``ValueError`` naming the first that is no arXiv category (or when there is none)."""
    out: list[str] = []
    for value in values:
        for part in value.split("+"):
            name = part.strip()
            if not _CATEGORY.match(name):
                raise ValueError(f"not an arXiv category: {one_line(name, 60)!r}")
            if name not in out:
                out.append(name)
    if not out:
        raise ValueError("give at least one arXiv category, e.g. cs.LG")
    return out


def _parser() -> etree.XMLParser:
    # No entity expansion, no DTD loading, no network: the feed is untrusted input.
    return etree.XMLParser(
        resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False, remove_pis=True
    )


def _q(namespace: str, tag: str) -> str:
    return f"{{{namespace}}}{tag}"


def _text(parent: etree._Element, tag: str) -> str | None:
    element = parent.find(tag)
    if element is None:
        return None
    return "".join(element.itertext()).strip() or None


@dataclass(slots=True)
class Listing:
    """One parsed announcement feed."""

    entries: int
    """How many items the feed held, usable or not."""
    announced: datetime | None
    """The feed's own date (channel ``pubDate`` or Atom ``updated``), when it says one."""
    items: list[PaperRecord | Skip] = field(default_factory=list)


class _BadItem(ValueError):
    """An item that cannot become a record."""


@dataclass(slots=True)
class _Fields:
    """What one item says, whichever of the two formats it came in."""

    ids: list[str | None]
    title: str | None
    description: str | None
    authors: list[str]
    categories: list[str]
    announced: str | None
    announce_type: str | None
    rights: str | None
    doi: str | None
    journal_ref: str | None


def _rss_fields(item: etree._Element) -> _Fields:
    creators = [text for e in item.iterfind(_q(DC, "creator")) if (text := _joined(e))]
    return _Fields(
        ids=[_text(item, "guid"), _text(item, "link")],
        title=_text(item, "title"),
        description=_text(item, "description"),
        authors=_authors(creators),
        categories=[text for e in item.iterfind("category") if (text := _joined(e))],
        announced=_text(item, "pubDate"),
        announce_type=_text(item, _q(ARXIV, "announce_type")),
        rights=_text(item, _q(DC, "rights")),
        doi=_text(item, _q(ARXIV, "DOI")),
        journal_ref=_text(item, _q(ARXIV, "journal_reference")),
    )


def _atom_fields(entry: etree._Element) -> _Fields:
    creators = [text for e in entry.iterfind(_q(DC, "creator")) if (text := _joined(e))]
    if not creators:
        names = (_text(author, _q(ATOM, "name")) for author in entry.iterfind(_q(ATOM, "author")))
        creators = [name for name in names if name]
    links = [
        (link.get("href") or "").strip() or None
        for link in entry.iterfind(_q(ATOM, "link"))
        if link.get("rel", "alternate") == "alternate"
    ]
    return _Fields(
        ids=[_text(entry, _q(ATOM, "id")), *links],
        title=_text(entry, _q(ATOM, "title")),
        description=_text(entry, _q(ATOM, "summary")),
        authors=_authors(creators),
        categories=[
            term
            for e in entry.iterfind(_q(ATOM, "category"))
            if (term := (e.get("term") or "").strip())
        ],
        announced=_text(entry, _q(ATOM, "published")) or _text(entry, _q(ATOM, "updated")),
        announce_type=_text(entry, _q(ARXIV, "announce_type")),
        rights=_text(entry, _q(ATOM, "rights")) or _text(entry, _q(DC, "rights")),
        doi=_text(entry, _q(ARXIV, "DOI")) or _text(entry, _q(ARXIV, "doi")),
        journal_ref=_text(entry, _q(ARXIV, "journal_reference"))
        or _text(entry, _q(ARXIV, "journal_ref")),
    )


def _joined(element: etree._Element) -> str | None:
    return "".join(element.itertext()).strip() or None


def _authors(creators: list[str]) -> list[str]:
    # arXiv writes one dc:creator with every name; a feed with one element per name works too.
    if len(creators) == 1:
        return split_authors(creators[0])
    return creators


def _when(raw: str | None, what: str) -> datetime | None:
    try:
        return parse_datetime(raw)
    except (ValueError, OverflowError):
        raise _BadItem(f"unparsable {what} {one_line(raw, 40)!r}") from None


def _record(fields: _Fields, fallback_day: datetime | None) -> PaperRecord:
    header = _HEADER.match(fields.description or "")
    assert header is not None  # every group is optional
    arxiv = None
    for raw in (header["id"], *fields.ids):
        if not raw:
            continue
        try:
            arxiv = parse_arxiv_id(raw)
            break
        except ValueError:
            continue
    if arxiv is None:
        shown = next((raw for raw in fields.ids if raw), None)
        raise _BadItem(f"bad id {one_line(shown, 80)!r}" if shown else "no arXiv id")
    kind = (fields.announce_type or header["type"] or "").strip().lower()
    if kind not in ANNOUNCE_TYPES:
        detail = f"unknown announce type {one_line(kind, 40)!r}" if kind else "no announce type"
        raise _BadItem(f"{arxiv.id}: {detail}")
    if fields.title is None:
        raise _BadItem(f"{arxiv.id} has no title")
    try:
        announced = _when(fields.announced, "date") or fallback_day
    except _BadItem as error:
        raise _BadItem(f"{arxiv.id}: {error}") from None
    body = (fields.description or "")[header.end() :]
    abstract = _ABSTRACT.sub("", body, count=1).strip() or None
    first_version = kind == "new" or (kind == "cross" and arxiv.version in (None, 1))
    return PaperRecord(
        id=arxiv.id,
        source=NAME,
        version=None,  # a preview: see the module docstring
        title=fields.title,
        abstract=abstract,
        authors=fields.authors or None,
        author_count=len(fields.authors) or None,
        categories=fields.categories or None,
        published_at=announced if first_version else None,
        updated_at=announced,
        doi=fields.doi,
        journal_ref=fields.journal_ref,
        license=fields.rights,
    )


def parse_feed(data: bytes, label: str) -> Listing:
    """Parse one announcement feed, RSS 2.0 or Atom; ``label`` names it in messages.

    Unusable items become :class:`Skip` items named ``LABEL item N``; an id listed again (one paper
    in two of the categories) is left out. Raises :class:`SourceError` when the feed as a whole is
    unreadable.
    """
    try:
        root = etree.fromstring(data, _parser())
    except (etree.LxmlError, ValueError) as error:
        raise SourceError(f"{label}: malformed XML ({one_line(str(error), 120)})") from None
    tag = root.tag if root is not None and isinstance(root.tag, str) else "?"
    if tag == "rss" and root.find("channel") is not None:
        channel = root.find("channel")
        assert channel is not None
        raw_day = _text(channel, "pubDate") or _text(channel, "lastBuildDate")
        elements = list(channel.iterfind("item"))
    elif tag == _q(ATOM, "feed"):
        raw_day = _text(root, _q(ATOM, "updated"))
        elements = list(root.iterfind(_q(ATOM, "entry")))
    else:
        shown = one_line(tag, _MAX_MESSAGE)
        raise SourceError(f"{label}: not an RSS 2.0 or Atom feed (root element {shown})")
    try:
        day = parse_datetime(raw_day)
    except (ValueError, OverflowError):
        day = None
    listing = Listing(entries=len(elements), announced=day)
    seen: set[str] = set()
    read: Callable[[etree._Element], _Fields] = _rss_fields if tag == "rss" else _atom_fields
    for number, element in enumerate(elements, start=1):
        try:
            record = _record(read(element), day)
        except _BadItem as error:
            listing.items.append(Skip(f"{label} item {number}", str(error)))
            continue
        if record.id not in seen:
            seen.add(record.id)
            listing.items.append(record)
    return listing


class ArxivRssSource:
    """The last announcement of one or more arXiv categories, in one request.

    After :meth:`records`, :attr:`notice` says so when the feed announced nothing (arXiv makes no
    announcement on Saturdays, Sundays and some holidays).
    """

    name = NAME

    def __init__(self, client: PoliteClient, base_url: str, categories: list[str]) -> None:
        self.client = client
        self.categories = check_categories(categories)
        self.target = "+".join(self.categories)
        self.url = f"{base_url.rstrip('/')}/{self.target}"
        self.label = f"arXiv RSS {self.target}"
        self.notice: str | None = None
        self._done = 0
        self._total: int | None = None

    def progress(self) -> tuple[float, float | None]:
        return float(self._done), None if self._total is None else float(self._total)

    def records(self) -> Iterator[Item]:
        self.notice = None
        response = self.client.get(self.url)
        if response.status_code >= 300:
            raise SourceError(f"{self.label}: HTTP {response.status_code} from {self.url}")
        listing = parse_feed(response.content, self.label)
        self._total = listing.entries
        if listing.entries == 0:
            day = f" on {listing.announced:%a %Y-%m-%d}" if listing.announced else ""
            self.notice = (
                f"arXiv announced nothing in {self.target}{day}: there are no announcements on "
                "weekends and holidays, try again after the next one"
            )
        for item in listing.items:
            yield item
            self._done += 1
