"""arXiv's query API (``export.arxiv.org/api/query``): papers by category and submission dates, or
by id, read from its Atom 1.0 feed.

A category query asks for ``search_query=cat:cs.LG`` (``AND submittedDate:[YYYYMMDD0000 TO
YYYYMMDD2359]`` when dates are given), newest first, one page of ``page_size`` entries at a time,
until ``opensearch:totalResults`` or ``max_results`` is reached. An id query sends ``id_list`` in
chunks of ``page_size`` ids. Each ``<entry>`` carries the id with its latest version
(``http://arxiv.org/abs/2104.12255v2``), title, summary, authors, ``arxiv:primary_category`` and
``category`` terms, ``published`` (version 1) and ``updated`` (latest version), and the optional
``arxiv:comment``, ``arxiv:journal_ref`` and ``arxiv:doi``.

Known quirks handled here: arXiv answers a bad query with HTTP 400 and an Atom "error feed" (one
entry whose id is ``http://arxiv.org/api/errors#...``); it sometimes returns an empty page in the
middle of a result set; and for an id that does not exist it returns either nothing or an entry
without title. The pause between requests is the :class:`PoliteClient`'s business.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime

from lxml import etree

from paperboard.core.errors import SourceError
from paperboard.core.ids import parse_arxiv_id
from paperboard.core.records import Item, PaperRecord, Skip
from paperboard.sources.http import PoliteClient
from paperboard.sources.normalize import find_links, one_line, parse_datetime

NAME = "arxiv"

ATOM = "http://www.w3.org/2005/Atom"
OPENSEARCH = "http://a9.com/-/spec/opensearch/1.1/"
ARXIV = "http://arxiv.org/schemas/atom"

EMPTY_PAGE_RETRIES = 2
"""Extra tries for a page that comes back empty although totalResults says there is more."""

FIRST_SUBMISSION_DAY = date(1991, 1, 1)
_CATEGORY = re.compile(r"^[A-Za-z][A-Za-z-]*(?:\.[A-Za-z][A-Za-z-]*)?$")
_DOI_LINK = re.compile(r"^https?://(?:dx\.)?doi\.org/", re.IGNORECASE)
_MAX_MESSAGE = 200


def _parser() -> etree.XMLParser:
    # No entity expansion, no DTD loading, no network: the feed is untrusted input.
    return etree.XMLParser(
        resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False, remove_pis=True
    )


def _q(namespace: str, tag: str) -> str:
    return f"{{{namespace}}}{tag}"


class _BadEntry(ValueError):
    """An entry that cannot become a record; ``paper_id`` is set when its id was readable."""

    def __init__(self, reason: str, paper_id: str | None = None) -> None:
        super().__init__(reason)
        self.paper_id = paper_id


@dataclass(slots=True)
class FeedPage:
    """One parsed page of the API's answer."""

    total: int | None
    """``opensearch:totalResults``; ``None`` when the feed does not say (or says nonsense)."""
    entries: int
    """How many ``<entry>`` elements the page held, usable or not."""
    items: list[PaperRecord | Skip] = field(default_factory=list)
    ids: list[str] = field(default_factory=list)
    """Canonical ids of the entries whose id could be read (records and skips alike)."""


def _text(parent: etree._Element, tag: str) -> str | None:
    element = parent.find(tag)
    if element is None:
        return None
    return "".join(element.itertext()).strip() or None


def _when(entry: etree._Element, tag: str) -> datetime | None:
    raw = _text(entry, _q(ATOM, tag))
    try:
        return parse_datetime(raw)
    except (ValueError, OverflowError):
        raise _BadEntry(f"unparsable <{tag}> date {one_line(raw, 40)!r}") from None


def _categories(entry: etree._Element) -> list[str] | None:
    terms: list[str] = []
    primary = entry.find(_q(ARXIV, "primary_category"))
    if primary is not None and (primary.get("term") or "").strip():
        terms.append(primary.get("term", "").strip())
    for element in entry.iterfind(_q(ATOM, "category")):
        term = (element.get("term") or "").strip()
        if term and term not in terms:
            terms.append(term)
    return terms or None


def _links(entry: etree._Element) -> tuple[str | None, list[str], list[str]]:
    """The DOI named by a DOI link, and code/project links among the entry's ``<link>`` hrefs
    (arXiv's own abs/pdf links and DOI links are neither)."""
    doi: str | None = None
    hrefs: list[str] = []
    for element in entry.iterfind(_q(ATOM, "link")):
        href = (element.get("href") or "").strip()
        if not href:
            continue
        if _DOI_LINK.match(href):
            doi = doi or _DOI_LINK.sub("", href) or None
        else:
            hrefs.append(href)
    code, project = find_links(" ".join(hrefs))
    return doi, code, project


def parse_entry(entry: etree._Element) -> PaperRecord:
    """Turn one Atom ``<entry>`` into a record; raises ``_BadEntry`` (a ValueError) if unusable."""
    raw_id = _text(entry, _q(ATOM, "id"))
    if raw_id is None:
        raise _BadEntry("no <id>")
    try:
        arxiv = parse_arxiv_id(raw_id)
    except ValueError:
        raise _BadEntry(f"bad id {one_line(raw_id, 80)!r}") from None
    title = _text(entry, _q(ATOM, "title"))
    if title is None:
        # arXiv's answer for an id_list id that does not exist: an entry with an id, nothing else.
        summary, when = _text(entry, _q(ATOM, "summary")), _text(entry, _q(ATOM, "published"))
        if summary is None and when is None:
            raise _BadEntry(f"no such paper: {arxiv.id}", arxiv.id)
        raise _BadEntry(f"{arxiv.id} has no title", arxiv.id)
    try:
        published, updated = _when(entry, "published"), _when(entry, "updated")
    except _BadEntry as error:
        raise _BadEntry(f"{arxiv.id}: {error}", arxiv.id) from None
    names = (_text(author, _q(ATOM, "name")) for author in entry.iterfind(_q(ATOM, "author")))
    authors = [name for name in names if name]
    link_doi, code_urls, project_urls = _links(entry)
    return PaperRecord(
        id=arxiv.id,
        source=NAME,
        version=arxiv.version,
        title=title,
        abstract=_text(entry, _q(ATOM, "summary")),
        authors=authors or None,
        author_count=len(authors) or None,
        categories=_categories(entry),
        published_at=published,
        updated_at=updated,
        comments=_text(entry, _q(ARXIV, "comment")),
        journal_ref=_text(entry, _q(ARXIV, "journal_ref")),
        doi=_text(entry, _q(ARXIV, "doi")) or link_doi,
        code_urls=code_urls,
        project_urls=project_urls,
    )


def _error_message(root: etree._Element) -> str | None:
    """The explanation in arXiv's error feed, or ``None`` when ``root`` is a normal feed."""
    for entry in root.iterfind(_q(ATOM, "entry")):
        entry_id = _text(entry, _q(ATOM, "id")) or ""
        if "/api/errors" in entry_id:
            summary = _text(entry, _q(ATOM, "summary"))
            detail = summary or entry_id.partition("#")[2].replace("_", " ")
            return one_line(detail, _MAX_MESSAGE) or "unspecified error"
    return None


def _total(root: etree._Element) -> int | None:
    raw = _text(root, _q(OPENSEARCH, "totalResults"))
    if raw is None or not (raw.isascii() and raw.isdigit()) or len(raw) > 12:
        return None
    return int(raw)


def parse_feed(data: bytes, page: int = 1) -> FeedPage:
    """Parse one page of the API's Atom answer.

    Unusable entries become :class:`Skip` items named ``arXiv API page N entry M``. Raises
    :class:`SourceError` when the page as a whole is unreadable or is arXiv's error feed.
    """
    try:
        root = etree.fromstring(data, _parser())
    except (etree.LxmlError, ValueError) as error:
        detail = one_line(str(error), 120)
        raise SourceError(f"arXiv API page {page}: malformed XML ({detail})") from None
    if root is None or root.tag != _q(ATOM, "feed"):
        tag = one_line(
            root.tag if root is not None and isinstance(root.tag, str) else "?", _MAX_MESSAGE
        )
        raise SourceError(f"arXiv API page {page}: not an Atom feed (root element {tag})")
    message = _error_message(root)
    if message is not None:
        raise SourceError(f"arXiv API error: {message}")
    result = FeedPage(total=_total(root), entries=0)
    for number, entry in enumerate(root.iterfind(_q(ATOM, "entry")), start=1):
        result.entries += 1
        where = f"arXiv API page {page} entry {number}"
        try:
            record = parse_entry(entry)
        except _BadEntry as error:
            result.items.append(Skip(where, str(error)))
            if error.paper_id is not None:
                result.ids.append(error.paper_id)
            continue
        result.items.append(record)
        result.ids.append(record.id)
    return result


class ArxivApiSource:
    """Papers from the arXiv API, by category (and submission days) or by id.

    ``progress()`` counts entries read against ``totalResults`` (capped at ``max_results``).
    """

    name = NAME

    def __init__(
        self,
        client: PoliteClient,
        base_url: str,
        *,
        category: str | None = None,
        ids: list[str] | None = None,
        date_from: date | None = None,
        date_to: date | None = None,
        max_results: int | None = None,
        page_size: int = 100,
    ) -> None:
        if bool(category) == bool(ids):
            raise ValueError("give either a category or ids")
        if page_size < 1 or (max_results is not None and max_results < 1):
            raise ValueError("page_size and max_results must be positive")
        self.client = client
        self.base_url = base_url
        self.category = category.strip() if category else None
        self.ids = list(dict.fromkeys(ids or []))[:max_results] if ids else None
        self.date_from = date_from
        self.date_to = date_to
        self.max_results = max_results
        self.page_size = page_size
        self.target = self._describe()
        self._seen = 0
        self._total: int | None = len(self.ids) if self.ids else None

    def _describe(self) -> str:
        if self.ids:
            shown = ", ".join(self.ids[:5])
            more = f" and {len(self.ids) - 5} more" if len(self.ids) > 5 else ""
            return f"ids {shown}{more}"
        text = f"cat:{self.category}"
        if self.date_from or self.date_to:
            text += f" {self.date_from or ''}..{self.date_to or ''}"
        if self.max_results is not None:
            text += f" max {self.max_results}"
        return text

    def progress(self) -> tuple[float, float | None]:
        total = self._total
        if total is not None and self.max_results is not None:
            total = min(total, self.max_results)
        return float(self._seen), None if total is None else float(total)

    def records(self) -> Iterator[Item]:
        self._seen = 0
        if self.ids:
            yield from self._by_ids(self.ids)
        else:
            yield from self._by_category()

    # -- queries ----------------------------------------------------------------------------------

    def _search_query(self) -> str:
        assert self.category is not None
        if not _CATEGORY.match(self.category):
            raise SourceError(f"not an arXiv category: {one_line(self.category, 60)!r}")
        query = f"cat:{self.category}"
        if self.date_from or self.date_to:
            first = self.date_from or FIRST_SUBMISSION_DAY
            last = self.date_to or datetime.now(UTC).date()
            query += f" AND submittedDate:[{first:%Y%m%d}0000 TO {last:%Y%m%d}2359]"
        return query

    def _by_category(self) -> Iterator[Item]:
        query = self._search_query()
        start = 0
        page = 0
        while True:
            if self.max_results is not None and start >= self.max_results:
                return
            if self._total is not None and start >= self._total:
                return
            want = self.page_size
            if self.max_results is not None:
                want = min(want, self.max_results - start)
            page += 1
            params = {
                "search_query": query,
                "sortBy": "submittedDate",
                "sortOrder": "descending",
                "start": start,
                "max_results": want,
            }
            result = self._fetch(params, page, start)
            if result.total is not None:
                self._total = result.total
            yield from result.items
            start += result.entries
            self._seen = start
            if result.entries == 0:
                if self._total is not None and start < self._total:
                    yield self._gave_up(page, start)
                return
            if self._total is None and result.entries < want:
                return  # no totalResults to go by: a short page is the last one

    def _by_ids(self, ids: list[str]) -> Iterator[Item]:
        wanted: list[tuple[str, str]] = []  # (as asked, canonical)
        for raw in ids:
            try:
                wanted.append((raw, parse_arxiv_id(raw).id))
            except ValueError:
                # One bad id would make arXiv reject the whole request; leave it out.
                yield Skip(f"arXiv API id {one_line(raw, 60)!r}", "not an arXiv id")
        self._total = len(wanted)
        for page, offset in enumerate(range(0, len(wanted), self.page_size), start=1):
            chunk = wanted[offset : offset + self.page_size]
            id_list = ",".join(raw for raw, _ in chunk)
            params = {"id_list": id_list, "start": 0, "max_results": len(chunk)}
            result = self._fetch(params, page, 0)
            yield from result.items
            returned = set(result.ids)
            for raw, canonical in chunk:
                if canonical not in returned:
                    yield Skip(f"arXiv API id {raw}", "no such paper (not in arXiv's answer)")
            self._seen = offset + len(chunk)

    # -- HTTP -------------------------------------------------------------------------------------

    def _fetch(self, params: dict[str, object], page: int, start: int) -> FeedPage:
        """One page, asked again (up to EMPTY_PAGE_RETRIES times) while arXiv sends it empty
        although its own totalResults says entries remain."""
        for _ in range(EMPTY_PAGE_RETRIES + 1):
            result = self._get(params, page)
            if result.entries or result.total is None or start >= result.total:
                return result
        return result

    def _get(self, params: dict[str, object], page: int) -> FeedPage:
        response = self.client.get(self.base_url, params=params)
        if response.status_code >= 300:
            try:
                # arXiv explains a bad query (HTTP 400) in an error feed; that message is the best.
                parse_feed(response.content, page)
            except SourceError as error:
                if str(error).startswith("arXiv API error:"):
                    raise
            raise SourceError(f"arXiv API page {page}: HTTP {response.status_code}")
        return parse_feed(response.content, page)

    def _gave_up(self, page: int, start: int) -> Skip:
        tries = EMPTY_PAGE_RETRIES + 1
        return Skip(
            f"arXiv API page {page}",
            f"empty page at start={start} of {self._total} results after {tries} tries; "
            f"stopping with the {start} entries read so far",
        )
