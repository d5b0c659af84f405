"""arXiv's OAI-PMH 2.0 interface, harvested in the ``arXivRaw`` metadata format.

A harvest is a ``ListRecords`` request (``metadataPrefix=arXivRaw`` with optional ``set``, ``from``
and ``until``) followed by requests that carry only the ``resumptionToken`` of the page before.
After each page the source yields that page's records and then a
:class:`~paperboard.core.records.Checkpoint` holding the next token; the importer stores both in one
transaction, so a harvest killed at any point resumes (from the saved token) without losing or
repeating a page. The last page yields ``Checkpoint(key, None)``: the harvest is complete.

An ``arXivRaw`` record carries the fields of arXiv's metadata snapshot::

    <record>
      <header>
        <identifier>oai:arXiv.org:2104.12255</identifier>
        <datestamp>2021-04-27</datestamp>
        <setSpec>cs</setSpec>
      </header>
      <metadata>
        <arXivRaw xmlns="http://arxiv.org/OAI/arXivRaw/">
          <id>2104.12255</id> <submitter>...</submitter>
          <version version="v1"><date>Mon, 26 Apr 2021 17:50:03 GMT</date>...</version>
          <title>...</title> <authors>A, B and C</authors> <categories>cs.LG stat.ML</categories>
          <comments/> <journal-ref/> <doi/> <report-no/> <license/> <abstract>...</abstract>
        </arXivRaw>
      </metadata>
    </record>

A header with ``status="deleted"`` (and any record that cannot be used) becomes a
:class:`~paperboard.core.records.Skip`. OAI-PMH errors: ``noRecordsMatch`` is an empty, complete
harvest; ``badResumptionToken`` and every other code fail the source with a one-line message.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from lxml import etree

from paperboard.core.errors import InvalidIdError, SourceError
from paperboard.core.records import Checkpoint, Item, PaperRecord, Skip
from paperboard.sources.arxiv_record import ArxivFormat, build_record
from paperboard.sources.http import PoliteClient
from paperboard.sources.normalize import clean_line, one_line

NAME = "oai"
METADATA_PREFIX = "arXivRaw"
OAI_NS = "http://www.openarchives.org/OAI/2.0/"
RAW_NS = "http://arxiv.org/OAI/arXivRaw/"
NS = {"oai": OAI_NS, "raw": RAW_NS}

MAX_KEY_LENGTH = 200  # harvests.key
MAX_SHOWN = 120  # characters of server text or identifiers quoted in messages

_PARSER_OPTIONS: dict[str, Any] = {
    "resolve_entities": False,
    "no_network": True,
    "load_dtd": False,
    "huge_tree": False,
    "remove_comments": True,
    "remove_pis": True,
}


class OaiError(SourceError):
    """The OAI-PMH server answered with an ``<error code="...">`` element."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass(slots=True)
class OaiPage:
    """One parsed ``ListRecords`` response."""

    items: list[PaperRecord | Skip] = field(default_factory=list)
    token: str | None = None
    """The resumption token for the next page; ``None`` when the list is complete."""
    cursor: int | None = None
    complete_list_size: int | None = None
    no_records_match: bool = False

    @property
    def record_count(self) -> int:
        return len(self.items)


# -- harvest identity ------------------------------------------------------------------------------


def harvest_key(
    base_url: str, set_spec: str | None, date_from: date | None, date_until: date | None
) -> str:
    """The name a harvest's checkpoint is saved under: the same request always gets the same key.

    Readable when it fits in 200 characters; otherwise cut short and ended with a hash of the
    whole, so two different harvests never share a key.
    """
    key = (
        f"oai:{METADATA_PREFIX} {base_url.rstrip('/')} set={set_spec or '*'} "
        f"from={date_from.isoformat() if date_from else '*'} "
        f"until={date_until.isoformat() if date_until else '*'}"
    )
    if len(key) <= MAX_KEY_LENGTH:
        return key
    digest = hashlib.sha256(key.encode()).hexdigest()[:16]
    return f"{key[: MAX_KEY_LENGTH - len(digest) - 1]}#{digest}"


# -- parsing ---------------------------------------------------------------------------------------


def _parse_xml(content: bytes | str, page: int) -> Any:
    data = content.encode("utf-8") if isinstance(content, str) else content
    parser = etree.XMLParser(**_PARSER_OPTIONS)
    try:
        root = etree.fromstring(data, parser)
    except (etree.LxmlError, ValueError) as error:
        raise SourceError(
            f"OAI page {page} is not well-formed XML ({one_line(str(error), MAX_SHOWN)})"
        ) from None
    if root is None:
        raise SourceError(f"OAI page {page} is empty")
    return root


def _int_attribute(element: Any, name: str) -> int | None:
    value = element.get(name) if element is not None else None
    if value is None:
        return None
    value = value.strip()
    if not value.isascii() or not value.isdigit() or len(value) > 18:
        return None
    return int(value)


def _raise_oai_errors(errors: list[Any], page: int) -> None:
    """Raise for the ``<error>`` elements of a response, unless they only say "no records"."""
    found = [
        (
            one_line(error.get("code"), 40) or "unknown",
            one_line("".join(error.itertext()), MAX_SHOWN),
        )
        for error in errors
    ]
    codes = {code for code, _ in found}
    if codes == {"noRecordsMatch"}:
        return
    for code, message in found:
        if code == "badResumptionToken":
            detail = f": {message.rstrip('.')}" if message else ""
            raise OaiError(
                code,
                f"the OAI server rejected the resumption token (badResumptionToken{detail}); "
                "it has probably expired: rerun with --restart to start this harvest over",
            )
    code, message = next((c, m) for c, m in found if c != "noRecordsMatch")
    more = f" (and {len(found) - 1} more)" if len(found) > 1 else ""
    raise OaiError(
        code, f"OAI server error on page {page}: {code}: {message or 'no message'}{more}"
    )


def _text(parent: Any, name: str) -> str | None:
    element = parent.find(f"raw:{name}", NS)
    if element is None:
        return None
    return "".join(element.itertext())


def _versions(raw: Any) -> list[tuple[str, str | None]]:
    return [
        (element.get("version") or "", element.findtext("raw:date", default=None, namespaces=NS))
        for element in raw.findall("raw:version", NS)
    ]


ARXIV_RAW: ArxivFormat[Any] = ArxivFormat(text=_text, versions=_versions, authors=lambda raw: None)


def parse_arxiv_raw(raw: Any, identifier: str | None, source: str = NAME) -> PaperRecord:
    """Turn one ``<arXivRaw>`` element into a record; raises ValueError when it is unusable."""
    raw_id = clean_line(_text(raw, "id")) or (clean_line(identifier) if identifier else None)
    if not raw_id:
        raise ValueError("no id")
    return build_record(raw, raw_id, ARXIV_RAW, source)


def parse_record(element: Any, where: str, source: str = NAME) -> PaperRecord | Skip:
    """One ``<record>`` element: a paper, or a Skip saying where it was and why it was left out."""
    header = element.find("oai:header", NS)
    identifier = (
        header.findtext("oai:identifier", default=None, namespaces=NS)
        if header is not None
        else None
    )
    shown = one_line(identifier, 80)
    if shown:
        where = f"{where} ({shown})"
    if header is None:
        return Skip(where, "record has no header")
    if (header.get("status") or "").strip() == "deleted":
        return Skip(where, "deleted at the source", expected=True)
    raw = element.find("oai:metadata/raw:arXivRaw", NS)
    if raw is None:
        return Skip(where, "record has no arXivRaw metadata")
    try:
        return parse_arxiv_raw(raw, identifier, source)
    except (ValueError, OverflowError, InvalidIdError) as error:
        return Skip(where, one_line(str(error), MAX_SHOWN) or error.__class__.__name__)


def parse_page(content: bytes | str, page: int = 1, source: str = NAME) -> OaiPage:
    """Parse one ``ListRecords`` response (no HTTP involved).

    Returns the page's records and skips with the next resumption token; ``noRecordsMatch`` gives
    an empty, complete page. Raises :class:`OaiError` for any other OAI-PMH error and
    :class:`SourceError` for a response that is not OAI-PMH XML.
    """
    root = _parse_xml(content, page)
    if root.tag != f"{{{OAI_NS}}}OAI-PMH":
        name = etree.QName(root).localname if isinstance(root.tag, str) else "?"
        raise SourceError(f"OAI page {page} is not an OAI-PMH 2.0 response (root element {name!r})")
    errors = root.findall("oai:error", NS)
    if errors:
        _raise_oai_errors(errors, page)
        return OaiPage(no_records_match=True)
    listing = root.find("oai:ListRecords", NS)
    if listing is None:
        raise SourceError(f"OAI page {page} has neither ListRecords nor an error")
    result = OaiPage()
    for number, element in enumerate(listing.findall("oai:record", NS), start=1):
        result.items.append(parse_record(element, f"OAI page {page} record {number}", source))
    token_element = listing.find("oai:resumptionToken", NS)
    if token_element is not None:
        result.token = (token_element.text or "").strip() or None
        result.cursor = _int_attribute(token_element, "cursor")
        result.complete_list_size = _int_attribute(token_element, "completeListSize")
    return result


# -- the source ------------------------------------------------------------------------------------


class OaiSource:
    """Papers harvested from an OAI-PMH endpoint; progress is counted in records."""

    name = NAME

    def __init__(
        self,
        client: PoliteClient,
        base_url: str,
        *,
        set_spec: str | None,
        date_from: date | None,
        date_until: date | None,
        resume_token: str | None = None,
    ) -> None:
        self.client = client
        self.base_url = base_url
        self.set_spec = set_spec
        self.date_from = date_from
        self.date_until = date_until
        self.resume_token = resume_token or None
        self.key = harvest_key(base_url, set_spec, date_from, date_until)
        self.target = self._describe()
        self._seen = 0
        self._total: int | None = None

    def _describe(self) -> str:
        parts = [self.base_url, f"set {self.set_spec or 'all'}"]
        if self.date_from:
            parts.append(f"from {self.date_from.isoformat()}")
        if self.date_until:
            parts.append(f"until {self.date_until.isoformat()}")
        if self.resume_token:
            parts.append("(resumed)")
        return " ".join(parts)

    def progress(self) -> tuple[float, float | None]:
        return float(self._seen), None if self._total is None else float(self._total)

    def first_params(self) -> dict[str, str]:
        """The query of a harvest's first request."""
        params = {"verb": "ListRecords", "metadataPrefix": METADATA_PREFIX}
        if self.set_spec:
            params["set"] = self.set_spec
        if self.date_from:
            params["from"] = self.date_from.isoformat()
        if self.date_until:
            params["until"] = self.date_until.isoformat()
        return params

    def _fetch(self, params: dict[str, str], page: int) -> OaiPage:
        response = self.client.get(self.base_url, params=params)
        if response.is_success:
            return parse_page(response.content, page, self.name)
        # Some servers send OAI errors with a 4xx status: their explanation beats "HTTP 400".
        try:
            parsed = parse_page(response.content, page, self.name)
        except OaiError:
            raise
        except SourceError:
            parsed = None
        if parsed is not None and parsed.no_records_match:
            return parsed
        raise SourceError(f"OAI page {page}: HTTP {response.status_code} from {self.base_url}")

    def _count(self, page: OaiPage) -> None:
        if page.cursor is not None:
            self._seen = max(self._seen, page.cursor + page.record_count)
        else:
            self._seen += page.record_count
        if page.complete_list_size is not None:
            self._total = page.complete_list_size

    def records(self) -> Iterator[Item]:
        token = self.resume_token
        number = 0
        while True:
            number += 1
            params = (
                {"verb": "ListRecords", "resumptionToken": token} if token else self.first_params()
            )
            page = self._fetch(params, number)
            self._count(page)
            yield from page.items
            if page.token is not None and page.token == token:
                raise SourceError(
                    f"OAI page {number}: the server sent back the token it was given; stopping"
                )
            yield Checkpoint(self.key, page.token)
            if page.token is None:
                return
            token = page.token
