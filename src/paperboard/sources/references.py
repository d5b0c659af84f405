"""A reader's paper library in, a collection out: what reference managers export, as references.

:func:`parse_references` reads the files people have at hand and returns plain
:class:`Reference` values (an arXiv id, a DOI, a title: whatever the entry holds) for the caller
to look up:

* ``bibtex``: Zotero, Mendeley, Paperpile, Google Scholar, arXiv's own export, ORCID's export.
  The arXiv id comes from ``eprint`` (with ``archivePrefix``/``eprinttype`` arXiv or none),
  Mendeley's ``arxivId``, an arXiv DOI (``10.48550/arXiv.…``), or an ``arXiv:…`` reference or
  arxiv.org address in ``journal``, ``note``, ``url``, ``howpublished`` and the like.
* ``csl-json``: Zotero's "CSL JSON" export, a JSON list of items.
* ``ris``: the tagged lines (``TY  - JOUR`` … ``ER  -``) of Zotero, Mendeley and Paperpile.
* ``orcid``: the JSON of ORCID's public API ``GET /v3.0/{orcid}/works`` (or a whole record).
* ``ids``: one arXiv id, arXiv address, DOI or doi.org address a line; ``#`` starts a comment.

:func:`to_bibtex` writes a collection as BibTeX ``@misc`` entries that BibTeX, biber and this
module all read back. A file that cannot be read at all raises :class:`ReferenceError` with a
one-line message; an entry without any arXiv id, DOI or title is left out.
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

from paperboard.core.errors import InvalidIdError, PaperboardError
from paperboard.core.ids import is_arxiv_id, parse_arxiv_id
from paperboard.sources.normalize import clean_line, latex_to_unicode, one_line

if TYPE_CHECKING:
    from bibtexparser.model import Entry

FORMATS = ("bibtex", "csl-json", "ris", "orcid", "ids")
MAX_BYTES = 5_000_000
MAX_REFERENCES = 5_000

_EXTENSIONS = {".bib": "bibtex", ".bibtex": "bibtex", ".ris": "ris"}
_BIBTEX_START = re.compile(r"^[ \t]*@[ \t]*[A-Za-z]+[ \t]*[{(]", re.MULTILINE)
_RIS_TAG = re.compile(r"^([A-Z][A-Z0-9]) {1,2}-(?: (.*))?$")
_RIS_START = re.compile(r"^TY {1,2}- ", re.MULTILINE)
_DOI = re.compile(r"10\.\d{4,9}/\S+")
_DOI_PREFIX = re.compile(r"^(?:https?://(?:dx\.|www\.)?doi\.org/|doi:\s*)", re.IGNORECASE)
_ARXIV_DOI = re.compile(r"10\.48550/arxiv\.(.+)")
_TOKEN_SPLIT = re.compile(r"[\s,;()\[\]<>\"'{}]+")
_LEADING_PREFIX = re.compile(r"^(arxiv|doi)\s*:\s*", re.IGNORECASE)
# What makes a title need pylatexenc: commands, math, ties, dash and quote ligatures, comments.
_LATEX_IN_TITLE = re.compile(r"[\\$~%]|--|``|''|!`|\?`")
_UNESCAPED_SPECIAL = re.compile(r"(?<!\\)[%&]")
_CSL_MARKUP = re.compile(r"</?(?:i|b|sup|sub|sc|span(?:\s+class=\"nocase\")?)>", re.IGNORECASE)
_CSL_KEYS = ("type", "title", "DOI", "URL", "id", "author", "issued", "number")
_ORCID_SKIPPED_RELATIONSHIPS = {"part-of", "funded-by"}
_KEY_NOISE = re.compile(r"\$[^$]*\$|\\(?:[A-Za-z]+|.)")
_NAME_SUFFIXES = {"jr", "sr", "ii", "iii", "iv"}
_KEY_STOPWORDS = {"a", "an", "the", "on", "of", "in", "for", "to", "and", "with", "at", "by"}


class ReferenceError(PaperboardError):
    """A reference file cannot be read: too large, empty, binary, or not in its format."""


@dataclass(frozen=True, slots=True)
class Reference:
    """One entry of a reader's library: any of an arXiv id, a DOI and a title, and where it was.

    ``arxiv_id`` is canonical and without version (``2401.01234``, ``hep-th/9901001``); ``doi``
    is lowercase without ``https://doi.org/``; ``line`` is the line number of the entry in a
    BibTeX, RIS or plain-list file and the 1-based item number in a JSON file.
    """

    arxiv_id: str | None
    doi: str | None
    title: str | None
    line: int | None = None


# --- reading ------------------------------------------------------------------------------------


def detect_format(name: str, data: bytes) -> str:
    """The format of a file: by its extension (``.bib``, ``.ris``, ``.json``), else by content.

    A ``.json`` file is ``orcid`` when it is an object with a ``group`` list (or a whole ORCID
    record) and ``csl-json`` otherwise. Other files, ``.txt`` included, are sniffed: JSON, RIS
    (a ``TY  -`` line), BibTeX (an ``@type{`` line), whichever starts first; else ``ids``.
    """
    return _detect(name, _decode(data))


def parse_references(data: bytes, fmt: str | None = None, *, name: str = "") -> list[Reference]:
    """Read the references in ``data``, in file order; ``fmt`` (one of :data:`FORMATS`) or, when
    it is ``None``, :func:`detect_format` of ``name`` and the content says how.

    Raises :class:`ReferenceError` for input over 5 MB or 5,000 entries, empty or binary input,
    and input that is not in the format at all.
    """
    if fmt is not None and fmt not in FORMATS:
        raise ReferenceError(f"unknown reference format {fmt!r}; expected one of {_listed()}")
    text = _decode(data)
    fmt = fmt or _detect(name, text)
    if fmt == "bibtex":
        return _parse_bibtex(text)
    if fmt == "ris":
        return _parse_ris(text)
    if fmt == "ids":
        return _parse_ids(text)
    document = _load_json(text)
    if fmt == "orcid":
        return _parse_orcid(document)
    return _parse_csl(document)


def _listed() -> str:
    return ", ".join(FORMATS)


def _decode(data: bytes) -> str:
    if len(data) > MAX_BYTES:
        raise ReferenceError(
            f"the file has {len(data):,} bytes; at most {MAX_BYTES:,} can be read at once"
        )
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            text = data.decode("utf-16")
        except UnicodeDecodeError as error:
            raise ReferenceError("the file starts as UTF-16 but is not valid UTF-16") from error
    else:
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError:
            text = data.decode("latin-1")
    if "\x00" in text:
        raise ReferenceError("the file is binary, not a list of references")
    if not text.strip():
        raise ReferenceError("the file is empty")
    return text


def _detect(name: str, text: str) -> str:
    suffix = name[name.rfind(".") :].lower() if "." in name else ""
    if suffix in _EXTENSIONS:
        return _EXTENSIONS[suffix]
    if suffix == ".json":
        return _json_kind(_load_json(text))
    if text.lstrip()[:1] in ("[", "{"):
        try:
            return _json_kind(json.loads(text))
        except (ValueError, RecursionError):
            pass  # not JSON after all: a list or BibTeX that starts oddly
    ris = _RIS_START.search(text)
    bibtex = _BIBTEX_START.search(text)
    if ris and (bibtex is None or ris.start() < bibtex.start()):
        return "ris"
    if bibtex:
        return "bibtex"
    return "ids"


def _load_json(text: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as error:
        raise ReferenceError(
            f"not valid JSON (line {error.lineno}, column {error.colno}: {error.msg})"
        ) from error
    except RecursionError as error:
        raise ReferenceError("not readable JSON: nested too deeply") from error


def _json_kind(document: Any) -> str:
    if isinstance(document, dict) and ("group" in document or "activities-summary" in document):
        return "orcid"
    return "csl-json"


def _check_count(count: int) -> None:
    if count > MAX_REFERENCES:
        raise ReferenceError(
            f"the file holds {count:,} entries; at most {MAX_REFERENCES:,} can be read at once"
        )


def _reference(
    arxiv_id: str | None, doi: str | None, title: str | None, line: int
) -> Reference | None:
    if arxiv_id is None and doi is not None:
        arxiv_id = _arxiv_from_doi(doi)
    if arxiv_id is None and doi is None and title is None:
        return None
    return Reference(arxiv_id=arxiv_id, doi=doi, title=title, line=line)


def _kept(references: Iterable[Reference | None]) -> list[Reference]:
    return [reference for reference in references if reference is not None]


# --- identifiers --------------------------------------------------------------------------------


def _arxiv(text: str) -> str | None:
    """The canonical id when ``text`` as a whole is an arXiv id, reference or address."""
    try:
        return parse_arxiv_id(text).id
    except InvalidIdError:
        return None


def _arxiv_in_text(text: str | None, *, bare: bool = False) -> str | None:
    """The first arXiv id in free text (``arXiv preprint arXiv:2401.01234``, ``arXiv: 1706.03762
    [cs]``, an arxiv.org address). A bare ``2401.01234`` counts only after the word arXiv, or
    anywhere with ``bare=True`` (fields that hold nothing but an arXiv id)."""
    if not text:
        return None
    after_arxiv = False
    for token in _TOKEN_SPLIT.split(text):
        if not token:
            continue
        lowered = token.lower()
        if bare or after_arxiv or "arxiv" in lowered:
            found = _arxiv(token.rstrip(".:"))
            if found is not None:
                return found
        after_arxiv = lowered.rstrip(":") == "arxiv"
    return None


def _doi(text: str | None) -> str | None:
    """A DOI, lowercase, from ``10.…``, ``doi:10.…`` or a doi.org address; else ``None``."""
    if not text:
        return None
    candidate = _DOI_PREFIX.sub("", text.strip())
    if "%" in candidate:
        candidate = unquote(candidate)
    candidate = candidate.rstrip(".,;")
    if _DOI.fullmatch(candidate) is None:
        return None
    return candidate.lower()


def _doi_in_text(text: str | None) -> str | None:
    """A DOI in an address or note: only doi.org addresses and ``doi:`` references count."""
    if not text:
        return None
    for token in _TOKEN_SPLIT.split(text):
        if "doi.org/" in token.lower() or token.lower().startswith("doi:"):
            found = _doi(token)
            if found is not None:
                return found
    return None


def _arxiv_from_doi(doi: str) -> str | None:
    match = _ARXIV_DOI.fullmatch(doi)
    return _arxiv(match.group(1)) if match else None


# --- BibTeX -------------------------------------------------------------------------------------

_BIBTEX_ARXIV_FIELDS = (
    "url",
    "howpublished",
    "journal",
    "journaltitle",
    "note",
    "number",
    "eid",
    "pdf",
    "annote",
)


def _parse_bibtex(text: str) -> list[Reference]:
    # Imported on use: with pylatexenc's tables it takes 60 ms. (``bibtexparser.parse_string``
    # is this function; its package re-exports it implicitly, which mypy --strict refuses.)
    from bibtexparser.entrypoint import parse_string
    from bibtexparser.model import Entry, ParsingFailedBlock

    try:
        library = parse_string(text)
    except Exception as error:  # the parser raises on input it cannot split at all
        raise ReferenceError(f"not readable BibTeX: {one_line(str(error), 160)}") from error
    entries: list[Entry] = []
    failures: list[ParsingFailedBlock] = []
    for block in library.blocks:
        if isinstance(block, Entry):
            entries.append(block)
        elif isinstance(block, ParsingFailedBlock):
            kept = block.ignore_error_block  # a duplicate key or field: the entry is still fine
            if isinstance(kept, Entry):
                entries.append(kept)
            else:
                failures.append(block)
    _check_count(len(entries) + len(failures))
    if not entries:
        if failures:
            raise ReferenceError(
                f"not readable BibTeX: {one_line(str(failures[0].error), 160) or 'bad entry'}"
            )
        raise ReferenceError("no BibTeX entries (@article{…}, @misc{…}) found")
    return _kept(_bibtex_reference(entry) for entry in entries)


def _bibtex_reference(entry: Entry) -> Reference | None:
    fields: dict[str, str] = {}
    for key, field in entry.fields_dict.items():
        value = field.value
        if isinstance(value, str):
            fields[key.lower()] = value
    arxiv_id = None
    prefix = (fields.get("archiveprefix") or fields.get("eprinttype") or "arxiv").lower()
    if "eprint" in fields and "arxiv" in prefix:
        arxiv_id = _arxiv_in_text(fields["eprint"], bare=True)
    arxiv_id = arxiv_id or _arxiv_in_text(fields.get("arxivid"), bare=True)
    doi = _doi(_unbrace(fields.get("doi")))
    if arxiv_id is None and doi is not None:
        arxiv_id = _arxiv_from_doi(doi)
    for name in _BIBTEX_ARXIV_FIELDS:
        if arxiv_id is not None:
            break
        arxiv_id = _arxiv_in_text(fields.get(name))
    if doi is None:
        doi = _doi_in_text(fields.get("url")) or _doi_in_text(fields.get("howpublished"))
    title = _latex_title(fields.get("title"))
    line = entry.start_line + 1 if isinstance(entry.start_line, int) else 0
    return _reference(arxiv_id, doi, title, line)


def _unbrace(value: str | None) -> str | None:
    return value.strip().strip('{}"').strip() if value is not None else None


def _latex_title(value: str | None) -> str | None:
    """A BibTeX title as plain text: braces gone, accents and escapes resolved, one line."""
    if value is None:
        return None
    if _LATEX_IN_TITLE.search(value) is None:  # braces at most: most titles, 100 times faster
        return clean_line(value.replace("{", "").replace("}", ""))
    # In a .bib file a bare % or & is meant as itself: BibTeX passes it on as it is, pylatexenc
    # would read a comment (dropping the rest) or an alignment tab (dropping the &)
    text = _UNESCAPED_SPECIAL.sub(r"\\\g<0>", value)
    return clean_line(latex_to_unicode(text).replace("{", "").replace("}", ""))


# --- RIS ----------------------------------------------------------------------------------------

_RIS_ARXIV_TAGS = ("AN", "UR", "L1", "L2", "LK", "N1", "M1", "M3", "JO", "JF", "JA", "J2", "T2")


def _parse_ris(text: str) -> list[Reference]:
    records: list[tuple[int, dict[str, list[str]]]] = []
    record: dict[str, list[str]] | None = None
    last_tag: str | None = None
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.rstrip()
        match = _RIS_TAG.match(line)
        if match is None:
            if record is not None and last_tag is not None and line.strip():
                values = record[last_tag]
                values[-1] = f"{values[-1]} {line.strip()}".strip()
            continue
        tag, value = match.group(1), (match.group(2) or "").strip()
        if tag == "TY":
            record = {"TY": [value]}
            records.append((number, record))
            _check_count(len(records))
        elif record is not None:
            if tag == "ER":
                record, last_tag = None, None
                continue
            record.setdefault(tag, []).append(value)
        last_tag = tag if record is not None else None
    if not records:
        raise ReferenceError("no RIS records (lines 'TY  - …' to 'ER  -') found")
    return _kept(_ris_reference(number, tags) for number, tags in records)


def _ris_reference(line: int, tags: dict[str, list[str]]) -> Reference | None:
    def first(*names: str) -> str | None:
        for name in names:
            for value in tags.get(name, ()):
                if value.strip():
                    return value
        return None

    from_arxiv = any(
        "arxiv" in value.lower() for name in ("DB", "DP", "PB") for value in tags.get(name, ())
    )
    doi = _doi(first("DO"))
    arxiv_id = _arxiv_from_doi(doi) if doi else None
    for name in _RIS_ARXIV_TAGS:
        for value in tags.get(name, ()):
            if arxiv_id is None:
                arxiv_id = _arxiv_in_text(value, bare=from_arxiv and name == "AN")
    if doi is None:
        doi = next((found for value in tags.get("UR", ()) if (found := _doi_in_text(value))), None)
    return _reference(arxiv_id, doi, clean_line(first("TI", "T1", "CT")), line)


# --- CSL-JSON -----------------------------------------------------------------------------------


def _parse_csl(document: Any) -> list[Reference]:
    if isinstance(document, dict):
        if "group" in document or "activities-summary" in document:
            raise ReferenceError("this is an ORCID works export, not CSL-JSON")
        if not ("type" in document and ("title" in document or "DOI" in document)):
            raise ReferenceError(
                "JSON is neither CSL-JSON (a list of items) nor an ORCID works export"
            )
        document = [document]
    if not isinstance(document, list):
        raise ReferenceError("JSON is neither CSL-JSON (a list of items) nor an ORCID works export")
    _check_count(len(document))
    for number, item in enumerate(document, start=1):
        if not isinstance(item, dict):
            raise ReferenceError(f"not CSL-JSON: item {number} is not an object")
    if document and not any(key in item for item in document for key in _CSL_KEYS):
        raise ReferenceError("not CSL-JSON: no item has a title, DOI, URL or id")
    return _kept(_csl_reference(number, item) for number, item in enumerate(document, start=1))


def _csl_reference(number: int, item: dict[str, Any]) -> Reference | None:
    def text(key: str) -> str | None:
        value = item.get(key)
        return value if isinstance(value, str) else None

    doi = _doi(text("DOI") or text("doi"))
    arxiv_id = _arxiv_from_doi(doi) if doi else None
    archive = " ".join(filter(None, (text("archive"), text("publisher"), text("source"))))
    from_arxiv = "arxiv" in archive.lower()
    candidates = (
        (text("number"), from_arxiv),
        (text("archive_location"), from_arxiv),
        (text("URL"), False),
        (text("note"), False),
        (text("container-title"), False),
    )
    for value, bare in candidates:
        if arxiv_id is None:
            arxiv_id = _arxiv_in_text(value, bare=bare)
    if arxiv_id is None and text("id"):
        arxiv_id = _arxiv(str(text("id")))
    doi = doi or _doi_in_text(text("URL"))
    title = text("title")
    title = clean_line(_CSL_MARKUP.sub("", title)) if title else None
    return _reference(arxiv_id, doi, title, number)


# --- ORCID --------------------------------------------------------------------------------------


def _get(value: Any, *keys: str) -> Any:
    for key in keys:
        if not isinstance(value, dict):
            return None
        value = value.get(key)
    return value


def _parse_orcid(document: Any) -> list[Reference]:
    if isinstance(document, dict) and "activities-summary" in document:
        document = _get(document, "activities-summary", "works")
    groups = _get(document, "group")
    if not isinstance(groups, list):
        raise ReferenceError(
            "not an ORCID works export: expected an object with a 'group' list "
            "(GET /v3.0/{orcid}/works)"
        )
    _check_count(len(groups))
    return _kept(_orcid_reference(number, group) for number, group in enumerate(groups, start=1))


def _orcid_external_ids(group: Any) -> Iterator[tuple[str, str]]:
    summaries = _get(group, "work-summary")
    sources = [group, *(summaries if isinstance(summaries, list) else [])]
    for source in sources:
        external = _get(source, "external-ids", "external-id")
        for item in external if isinstance(external, list) else []:
            kind = _get(item, "external-id-type")
            value = _get(item, "external-id-value") or _get(item, "external-id-normalized", "value")
            relationship = _get(item, "external-id-relationship")
            if (
                isinstance(kind, str)
                and isinstance(value, str)
                and relationship not in _ORCID_SKIPPED_RELATIONSHIPS
            ):
                yield kind.lower(), value


def _orcid_reference(number: int, group: Any) -> Reference | None:
    arxiv_id: str | None = None
    doi: str | None = None
    for kind, value in _orcid_external_ids(group):
        if kind == "arxiv" and arxiv_id is None:
            arxiv_id = _arxiv_in_text(value, bare=True)
        elif kind == "doi" and doi is None:
            doi = _doi(value)
    title: str | None = None
    summaries = _get(group, "work-summary")
    for summary in summaries if isinstance(summaries, list) else []:
        if arxiv_id is None:
            url = _get(summary, "url", "value")
            arxiv_id = _arxiv_in_text(url if isinstance(url, str) else None)
        value = _get(summary, "title", "title", "value")
        if title is None and isinstance(value, str):
            title = clean_line(value)
    return _reference(arxiv_id, doi, title, number)


# --- plain list ---------------------------------------------------------------------------------


def _parse_ids(text: str) -> list[Reference]:
    references: list[Reference] = []
    entries = 0
    first_bad: tuple[int, str] | None = None
    for number, raw in enumerate(text.splitlines(), start=1):
        line = _LEADING_PREFIX.sub(lambda match: match.group(1) + ":", raw.strip())
        token = line.split(maxsplit=1)[0].strip(",;<>()[]\"'") if line else ""
        if not token or token.startswith("#"):
            continue
        entries += 1
        _check_count(entries)
        doi = _doi(token)
        arxiv_id = _arxiv(token) if doi is None else _arxiv_from_doi(doi)
        if arxiv_id is None and doi is None:
            first_bad = first_bad or (number, raw)
            continue
        references.append(Reference(arxiv_id=arxiv_id, doi=doi, title=None, line=number))
    if not references:
        if first_bad is None:
            raise ReferenceError("the file lists no arXiv id or DOI")
        number, raw = first_bad
        raise ReferenceError(
            f"no arXiv id or DOI found (line {number}: {one_line(raw, 60)!r} is neither)"
        )
    return references


# --- writing ------------------------------------------------------------------------------------


def to_bibtex(papers: Sequence[Mapping[str, Any]]) -> str:
    """BibTeX for a collection: one ``@misc`` entry a paper, keys like ``vaswani2017attention``.

    Each paper is a mapping with ``id`` (an arXiv id, or a namespaced id that gets no arXiv
    fields), ``title``, ``authors``, ``published_at``, ``categories``, ``doi`` and optionally
    ``note``. Titles are arXiv's TeX: math (``$\\alpha$``) and commands pass through, text-mode
    specials (``& % # _ ~ ^``) and non-ASCII letters are escaped, unmatched braces dropped.
    """
    used: dict[str, int] = {}  # key → suffixes tried with it as the base
    return "\n".join(_bibtex_entry(paper, used) for paper in papers)


def _bibtex_entry(paper: Mapping[str, Any], used: dict[str, int]) -> str:
    paper_id = str(paper.get("id") or "")
    title = _text(paper.get("title"))
    authors = [name for name in map(_text, paper.get("authors") or ()) if name]
    published = paper.get("published_at")
    year = getattr(published, "year", None)
    categories = [c for c in map(_text, paper.get("categories") or ()) if c]
    fields: list[tuple[str, str]] = []
    if title:
        fields.append(("title", "{" + _escape(title) + "}"))
    if authors:
        fields.append(("author", " and ".join(_bibtex_name(name) for name in authors)))
    if isinstance(year, int):
        fields.append(("year", str(year)))
    if is_arxiv_id(paper_id):
        fields.append(("eprint", paper_id))
        fields.append(("archivePrefix", "arXiv"))
        if categories:
            fields.append(("primaryClass", _plain(categories[0])))
        fields.append(("url", f"https://arxiv.org/abs/{paper_id}"))
    doi = _text(paper.get("doi"))
    if doi:
        fields.append(("doi", _plain(doi)))
    note = _text(paper.get("note"))
    if note:
        fields.append(("note", _escape(note)))
    key = _unique_key(_citation_key(authors, year, title), used)
    body = ",\n".join(f"  {name} = {{{value}}}" for name, value in fields)
    return f"@misc{{{key},\n{body}\n}}\n"


def _text(value: Any) -> str | None:
    return clean_line(value) if isinstance(value, str) else None


def _plain(value: str) -> str:
    """An identifier (DOI, category) inside braces: no braces, no white space."""
    return "".join(re.sub(r"[{}\\]", "", value).split())


def _bibtex_name(name: str) -> str:
    escaped = _escape(name)
    return "{" + escaped + "}" if re.search(r"\sand\s", name, re.IGNORECASE) else escaped


def _key_words(text: str) -> list[str]:
    """Lowercase ASCII words of TeX-ish text for a citation key: math and commands dropped,
    accents folded (``M{\\"u}ller`` → ``muller``); cheaper than converting the whole TeX."""
    text = _KEY_NOISE.sub("", text)
    folded = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode().lower()
    return re.findall(r"[a-z0-9]+", folded)


def _surname(name: str) -> str:
    parts = name.split()
    while len(parts) > 1 and parts[-1].lower().strip(".,") in _NAME_SUFFIXES:
        parts.pop()
    return "".join(_key_words(parts[-1])) if parts else ""


def _citation_key(authors: Sequence[str], year: int | None, title: str | None) -> str:
    surname = (_surname(authors[0]) if authors else "") or "anon"
    words = _key_words(title) if title else []
    word = next((w for w in words if w not in _KEY_STOPWORDS), words[0] if words else "")
    return f"{surname}{year if isinstance(year, int) else ''}{word}"


def _unique_key(base: str, used: dict[str, int]) -> str:
    """``base``, or ``base`` with the next free suffix (a, b, …, z, aa, …) once it is taken."""
    key = base
    while key in used:
        used[base] += 1
        key = base + _letters(used[base])
    used.setdefault(key, 0)
    return key


def _letters(number: int) -> str:
    """1 → a, 26 → z, 27 → aa: the suffixes that tell equal keys apart."""
    letters = ""
    while number:
        number, rest = divmod(number - 1, 26)
        letters = chr(ord("a") + rest) + letters
    return letters


@lru_cache(maxsize=4096)
def _latex_char(char: str) -> str:
    from pylatexenc.latexencode import unicode_to_latex

    encoded: str = unicode_to_latex(
        char, non_ascii_only=True, unknown_char_policy="keep", unknown_char_warning=False
    )
    return encoded


_TEXT_ESCAPES = {
    "&": r"\&",
    "%": r"\%",
    "#": r"\#",
    "_": r"\_",
    "~": r"\textasciitilde{}",
    "^": r"\textasciicircum{}",
}


# A command or control symbol (or a lone backslash at the end), a dollar, a text-mode special, or
# a non-ASCII character: everything _escape may have to change.
_SPECIAL = re.compile(r"\\(?:[A-Za-z]+|.)?|[$&%#_~^]|[^\x00-\x7f]", re.DOTALL)
_BRACE_COMMANDS = {
    (False, "{"): r"\textbraceleft{}",
    (False, "}"): r"\textbraceright{}",
    (True, "{"): r"\lbrace ",
    (True, "}"): r"\rbrace ",
}


def _escape(text: str) -> str:
    """TeX-ish text as the inside of a braced BibTeX value that LaTeX typesets as meant.

    No backslash is left right before a brace: BibTeX counts ``\\{`` as a brace, bibtexparser
    does not, so an escaped brace becomes a command and ``\\\\`` (a line break) a space.
    """
    if _SPECIAL.search(text) is None:
        return _balance_braces(text)
    dollars = [match.start() for match in _SPECIAL.finditer(text) if match.group() == "$"]
    lone_dollar = dollars[-1] if len(dollars) % 2 else -1
    out: list[str] = []
    in_math = False
    done = 0
    for match in _SPECIAL.finditer(text):
        out.append(text[done : match.start()])
        done = match.end()
        token = match.group()
        if token[0] == "\\":
            following = token[1:2]
            if not following:
                token = r"\textbackslash{}"
            elif following in "{}":
                token = _BRACE_COMMANDS[in_math, following]
            elif following == "\\":
                token = " "
        elif token == "$":
            if match.start() == lone_dollar:
                token = r"\$"
            else:
                in_math = not in_math
        elif not token.isascii():
            token = _latex_char(token)
        elif not in_math:
            token = _TEXT_ESCAPES[token]
        out.append(token)
    out.append(text[done:])
    return _balance_braces("".join(out))


def _balance_braces(text: str) -> str:
    """Drop unmatched braces: BibTeX would end the value early or run past it."""
    if "{" not in text and "}" not in text:
        return text
    unmatched: set[int] = set()
    opened: list[int] = []
    for index, char in enumerate(text):
        if char == "{":
            opened.append(index)
        elif char == "}":
            if opened:
                opened.pop()
            else:
                unmatched.add(index)
    unmatched.update(opened)
    if not unmatched:
        return text
    return "".join(char for index, char in enumerate(text) if index not in unmatched)
