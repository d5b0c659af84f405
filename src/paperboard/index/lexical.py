"""The lexical index: BM25 over titles, abstracts and author names, in a tantivy index on disk.

Fields and how their text is cut into terms:

* ``title``, ``abstract``: words, lowercased, accents folded (``Schrödinger`` = ``schrodinger``) and
  English-stemmed (``networks`` = ``network``); positions kept for phrases; stored for highlighting;
* ``title_pairs``, ``abstract_pairs``: every two adjacent terms (``self_supervis``), so that a
  hyphenated word or a quoted two-word phrase is ranked by plain terms instead of a positional
  phrase query (two stopwords, ``of_the``, make no pair);
* ``authors``: one value per author, words lowercased and accents folded, not stemmed, so that a
  last name alone matches; a phrase cannot run from one author into the next;
* ``category`` (``cs.lg``) and ``archive`` (``cs``): whole lowercase names, for ``cat:``/filters;
* ``published_day`` and ``feed_day`` (``YYYYMMDD`` integers) and ``has_code``: filters;
* ``changed``: the store's ``changed_at`` the paper was indexed with (microseconds), so a catch-up
  can skip what it has already indexed.

A query's free words are OR-ed: each word scores in the title (counted 2x), the abstract and the
author names, a hyphenated word or quoted two-word phrase by its pairs in the title (2x) and the
abstract, and the scores add up, so a paper with more of the words ranks higher. Every ranking
clause is a term query (the title's boosted), so tantivy's block-max WAND skips the papers that
cannot reach the top k: one positional phrase in the OR would turn that off for the whole query
(measured at 1M papers: p95 19 ms against 8 ms). Quoted phrases of three or more words stay exact
phrase queries on ``title``/``abstract``. A query that has no ranking words (``au:hinton``,
``cat:cs.LG`` alone) lists the papers it selects, newest first.

One process writes at a time (tantivy's lock); another writer waits up to ``lock_timeout`` seconds,
then gets a :class:`LexicalIndexError`. Readers reload when the index on disk changes, so a
long-running process sees other processes' commits on its next search.
"""

from __future__ import annotations

import html
import json
import math
import os
import re
import shutil
import threading
import time
import unicodedata
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from itertools import pairwise
from pathlib import Path
from typing import Any, Literal

import tantivy
from tantivy import Occur, Query

from paperboard.core.errors import PaperboardError
from paperboard.core.files import atomic_write
from paperboard.index.highlight import fragment, lead, mark_spans
from paperboard.index.query import STOPWORDS, FieldClause, ParsedQuery, parse_query

#: Bump when fields or the way text is cut into terms change: an index on disk with another layout
#: must be rebuilt.
SCHEMA_VERSION = 2
VERSION_FILE = "paperboard-lexical.json"
REBUILD_HINT = "rebuild it with `paperboard index --rebuild`"

TITLE_WEIGHT = 2  # a word in the title counts twice as much as in the abstract or author names
SNIPPET_CHARS = 200
COUNTED_DAYS = 62  # a longer date filter is not bounded by counting its days one by one
MAX_WORD_BYTES = 40  # longer "words" (base64, DNA strings) are not indexed

WRITER_HEAP = 128_000_000  # bytes, shared by the writer's threads
WRITER_THREADS = min(4, os.cpu_count() or 1)
# A whole build writes with one thread and a big arena: each thread's arena becomes a segment when
# full, and a search walks every segment with its own top-k threshold. 128 MB over two threads
# cut 1M papers into 8 segments; 1 GB in one thread makes 2, and BM25 queries ran ~10% faster.
BULK_WRITER_HEAP = 1_000_000_000

TEXT_TOKENIZER = "pb_en"
NAME_TOKENIZER = "pb_name"
PAIR_TOKENIZER = "pb_pairs"  # the pairs are made in Python (_pairs): split on spaces only


class LexicalIndexError(PaperboardError):
    """The lexical index cannot be opened, written or locked; one line."""


class IndexVersionError(LexicalIndexError):
    """The index on disk has another layout than this paperboard's: it must be rebuilt."""


@dataclass(frozen=True, slots=True)
class Filters:
    """Restrictions on the papers a search returns.

    ``categories``: any of them (``cs.LG``; an archive such as ``cs`` or ``math`` means all its
    categories), case-insensitive, cross-lists included. ``since``/``until``: inclusive days of
    ``date_field`` (``"published"``: first arXiv version; ``"feed"``: the feed day); papers without
    that date are left out. ``has_code``: only papers with (True) or without (False) a code link.
    """

    categories: tuple[str, ...] = ()
    since: date | None = None
    until: date | None = None
    has_code: bool | None = None
    date_field: Literal["published", "feed"] = "published"


@dataclass(frozen=True, slots=True)
class LexicalHit:
    """A search result: ``title_html`` and ``snippet_html`` are HTML-escaped text with
    ``<mark>…</mark>`` around the matched words (nothing else is markup)."""

    id: str
    score: float
    title_html: str
    snippet_html: str


def _text_analyzer() -> tantivy.TextAnalyzer:
    return (
        tantivy.TextAnalyzerBuilder(tantivy.Tokenizer.simple())
        .filter(tantivy.Filter.remove_long(MAX_WORD_BYTES))
        .filter(tantivy.Filter.lowercase())
        .filter(tantivy.Filter.ascii_fold())
        .filter(tantivy.Filter.stemmer("english"))
        .build()
    )


def _name_analyzer() -> tantivy.TextAnalyzer:
    return (
        tantivy.TextAnalyzerBuilder(tantivy.Tokenizer.simple())
        .filter(tantivy.Filter.remove_long(MAX_WORD_BYTES))
        .filter(tantivy.Filter.lowercase())
        .filter(tantivy.Filter.ascii_fold())
        .build()
    )


def _schema() -> tantivy.Schema:
    builder = tantivy.SchemaBuilder()
    builder.add_text_field("id", stored=True, tokenizer_name="raw")
    builder.add_unsigned_field("key", fast=True)  # the id as a number, when it has one (_id_key)
    builder.add_text_field("title", stored=True, tokenizer_name=TEXT_TOKENIZER)
    builder.add_text_field("abstract", stored=True, tokenizer_name=TEXT_TOKENIZER)
    builder.add_text_field("title_pairs", tokenizer_name=PAIR_TOKENIZER, index_option="freq")
    builder.add_text_field("abstract_pairs", tokenizer_name=PAIR_TOKENIZER, index_option="freq")
    builder.add_text_field("authors", tokenizer_name=NAME_TOKENIZER)
    builder.add_text_field("category", tokenizer_name="raw", index_option="basic")
    builder.add_text_field("archive", tokenizer_name="raw", index_option="basic")
    builder.add_integer_field("published_day", indexed=True, fast=True)
    builder.add_integer_field("feed_day", indexed=True, fast=True)
    builder.add_boolean_field("has_code", indexed=True, fast=True)
    builder.add_integer_field("changed", fast=True)
    return builder.build()


_TEXT = _text_analyzer()
_NAMES = _name_analyzer()
_STEMMED_STOPWORDS = frozenset(token for word in STOPWORDS for token in _TEXT.analyze(word))


def _pairs(terms: Sequence[str]) -> list[str]:
    """Adjacent terms joined (``self_supervis``); pairs of two stopwords (``of_the``) say
    nothing."""
    stop = _STEMMED_STOPWORDS
    return [f"{a}_{b}" for a, b in pairwise(terms) if a not in stop or b not in stop]


_ASCII_WORD = re.compile(r"[A-Za-z0-9]+")  # the simple tokenizer's words, in ASCII text
_TERM_OF: dict[str, str] = {}  # an ASCII word -> its term ("" when the analyzer drops it)
TERM_CACHE_WORDS = 1_000_000  # emptied when fuller (about 150 MB)


def _terms(text: str) -> list[str]:
    """``_TEXT.analyze(text)``, computed once per distinct word for ASCII text (almost every
    abstract): analyzing the whole text again for each document was a large part of a build's
    Python time. Every step after the tokenizer (length limit, lowercase, folding, stemming) looks
    at one word alone, so the result is the same (tests compare them on the real papers)."""
    if not text.isascii():
        return _TEXT.analyze(text)
    term_of = _TERM_OF
    if len(term_of) > TERM_CACHE_WORDS:
        term_of.clear()
    out = []
    for word in _ASCII_WORD.findall(text):
        term = term_of.get(word)
        if term is None:
            found = _TEXT.analyze(word)
            term = term_of[word] = found[0] if found else ""
        if term:
            out.append(term)
    return out


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def change_stamp(moment: datetime) -> int:
    """A ``changed_at`` as whole microseconds since 1970 (UTC; a naive time is taken as UTC)."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return (moment - _EPOCH) // timedelta(microseconds=1)


def _nfc(text: Any) -> str:
    if not text:
        return ""
    text = str(text)
    return text if unicodedata.is_normalized("NFC", text) else unicodedata.normalize("NFC", text)


def _day(value: Any) -> int | None:
    """``YYYYMMDD`` of a date, datetime (as UTC) or ISO string; None when missing or unreadable."""
    if value is None or value == "":
        return None
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            try:
                value = date.fromisoformat(value[:10])
            except ValueError:
                return None
    if isinstance(value, datetime) and value.tzinfo is not None:
        value = value.astimezone(UTC)
    if isinstance(value, datetime | date):
        return value.year * 10000 + value.month * 100 + value.day
    return None


def _category_terms(filters: Filters) -> list[tuple[str, str]]:
    """The (field, term) of each category filter: ``cs.CL`` a category, ``cs`` an archive."""
    wanted = filters.categories
    terms = []
    for category in (wanted,) if isinstance(wanted, str) else wanted:
        value = str(category).strip().lower()
        if value:
            terms.append(("category" if "." in value else "archive", value))
    return terms


def _as_date(day: int) -> date:
    return date(day // 10000, day // 100 % 100, day % 100)


_NEW_STYLE_ID = re.compile(r"(\d{4})\.(\d{4,5})")


def _id_key(paper_id: str) -> int:
    """A new-style arXiv id as a number (``2503.11731`` -> 2_2503_11731), read back from a fast
    field without loading the stored document; 0 for any other id."""
    match = _NEW_STYLE_ID.fullmatch(paper_id)
    if match is None:
        return 0
    return (len(match[2]) - 3) * 10**10 + int(match[1]) * 10**5 + int(match[2])


def _key_id(key: int) -> str:
    kind, rest = divmod(key, 10**10)
    yymm, number = divmod(rest, 10**5)
    return f"{yymm:04d}.{number:0{kind + 3}d}"


def _tokens(analyzer: tantivy.TextAnalyzer, text: str) -> list[tuple[int, str]]:
    """Terms with their positions relative to the first, as phrase queries want them."""
    tokens = analyzer.pre_tokenize(_nfc(text)).tokens
    if not tokens:
        return []
    first = tokens[0].position
    return [(token.position - first, token.text) for token in tokens]


def _any_of(queries: Sequence[Query]) -> Query:
    """A query matching any of ``queries`` (at least one)."""
    if len(queries) == 1:
        return queries[0]
    return Query.boolean_query([(Occur.Should, q) for q in queries])


def _weighted(query: Query, weight: int) -> Query:
    """``query`` with its score multiplied by ``weight``. A boosted term query is still scored by
    a plain term scorer (tantivy passes the boost down into its BM25 weight), so an OR of them
    keeps block-max WAND; it used to be the same clause repeated, which scores alike but reads
    the title's postings twice (measured at 2.7M papers: `search_ids` p95 10.6 against 10.0 ms,
    the same rankings)."""
    return query if weight == 1 else Query.boost_query(query, float(weight))


def _should(queries: Sequence[Query]) -> Query | None:
    return _any_of(queries) if queries else None


def _first_line(error: BaseException) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__


def _char_offsets(text: str, data: bytes, offsets: Iterable[int]) -> list[int]:
    """tantivy's byte offsets into ``data`` (``text`` in UTF-8) as offsets into ``text``."""
    if len(data) == len(text):  # ASCII: a byte is a character
        return list(offsets)
    return [len(data[:offset].decode("utf-8", "replace")) for offset in offsets]


def _fragment_spans(text: str, snippet: Any) -> tuple[list[tuple[int, int]], int, int]:
    """A tantivy snippet's highlighted spans and its fragment's start and end, in characters of
    ``text`` (tantivy counts bytes, spans from the fragment's start); no spans when none."""
    highlighted = snippet.highlighted()
    if not highlighted:
        return [], 0, 0
    where = snippet.fragment_range()
    bounds = [where.start, where.end]
    for span in highlighted:
        bounds += [where.start + span.start, where.start + span.end]
    start, end, *rest = _char_offsets(text, text.encode(), bounds)
    return list(zip(rest[::2], rest[1::2], strict=True)), start, end


class LexicalIndex:
    """A tantivy index of papers in one folder. Thread-safe; write with one process at a time."""

    def __init__(self, path: Path, index: tantivy.Index, *, lock_timeout: float) -> None:
        self.path = path
        self.lock_timeout = lock_timeout
        self._index = index
        self._schema = index.schema
        self._writer: tantivy.IndexWriter | None = None
        self._bulk = False
        self._write_lock = threading.RLock()
        self._stamp = self._meta_stamp()
        self._last_days: tuple[object, dict[str, int]] = (None, {})

    # -- opening ----------------------------------------------------------------------------------

    @classmethod
    def open(cls, path: Path, *, rebuild: bool = False, lock_timeout: float = 10.0) -> LexicalIndex:
        """Open the index in ``path``, creating the folder and an empty index when missing.

        ``rebuild=True`` first deletes an existing index there (for ``--rebuild``, also when its
        layout is outdated). Raises :class:`IndexVersionError` when the index on disk was built with
        another layout, :class:`LexicalIndexError` when it cannot be opened.
        """
        path = Path(path)
        if rebuild:
            cls.remove(path)
        try:
            path.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise LexicalIndexError(
                f"cannot create the lexical index folder {path}: {error.strerror}"
            ) from None
        exists = (path / "meta.json").exists()
        if exists:
            version = cls._read_version(path)
            if version != SCHEMA_VERSION:
                built = f"layout {version}" if version is not None else "an unknown layout"
                raise IndexVersionError(
                    f"the lexical index at {path} has {built}, this paperboard needs layout "
                    f"{SCHEMA_VERSION}: {REBUILD_HINT}"
                )
        try:
            index = tantivy.Index(_schema(), path=str(path), reuse=True)
        except ValueError as error:
            message = _first_line(error)
            if "schema does not match" in message:
                raise IndexVersionError(
                    f"the lexical index at {path} has other fields than this paperboard's: "
                    f"{REBUILD_HINT}"
                ) from None
            raise LexicalIndexError(f"cannot open the lexical index at {path}: {message}") from None
        index.register_tokenizer(TEXT_TOKENIZER, _text_analyzer())
        index.register_tokenizer(NAME_TOKENIZER, _name_analyzer())
        index.register_tokenizer(
            PAIR_TOKENIZER, tantivy.TextAnalyzerBuilder(tantivy.Tokenizer.whitespace()).build()
        )
        index.config_reader(reload_policy="manual")
        if not exists:
            cls._write_version(path)
        return cls(path, index, lock_timeout=lock_timeout)

    @staticmethod
    def _read_version(path: Path) -> int | None:
        try:
            data = json.loads((path / VERSION_FILE).read_text(encoding="utf-8"))
            return int(data["schema_version"])
        except (OSError, ValueError, KeyError, TypeError):
            return None

    @staticmethod
    def _write_version(path: Path) -> None:
        atomic_write(path / VERSION_FILE, json.dumps({"schema_version": SCHEMA_VERSION}) + "\n")

    @staticmethod
    def remove(path: Path) -> None:
        """Delete the index folder at ``path``; refuses a folder that holds anything else."""
        if not path.exists():
            return
        if not path.is_dir():
            raise LexicalIndexError(f"{path} is a file, not a lexical index folder")
        names = {p.name for p in path.iterdir()}
        if names and not names & {"meta.json", VERSION_FILE}:
            raise LexicalIndexError(
                f"{path} holds files that are no lexical index: not deleting them"
            )
        shutil.rmtree(path)

    # -- writing ----------------------------------------------------------------------------------

    def bulk(self) -> None:
        """Size the next writer for a whole build (see ``BULK_WRITER_HEAP``): call before the first
        :meth:`upsert` of many papers; back to the small writer after :meth:`commit`."""
        with self._write_lock:
            if self._writer is None:
                self._bulk = True

    def _get_writer(self) -> tantivy.IndexWriter:
        if self._writer is not None:
            return self._writer
        deadline = time.monotonic() + self.lock_timeout
        heap, threads = (BULK_WRITER_HEAP, 1) if self._bulk else (WRITER_HEAP, WRITER_THREADS)
        while True:
            try:
                self._writer = self._index.writer(heap_size=heap, num_threads=threads)
                return self._writer
            except ValueError as error:
                if "LockBusy" not in str(error):
                    raise LexicalIndexError(
                        f"cannot write the lexical index at {self.path}: {_first_line(error)}"
                    ) from None
                if time.monotonic() >= deadline:
                    raise LexicalIndexError(
                        f"the lexical index at {self.path} is being written by another process "
                        f"(waited {self.lock_timeout:g} s): try again when it has finished"
                    ) from None
                time.sleep(0.05)

    def _document(self, paper: dict[str, Any]) -> tantivy.Document:
        doc = tantivy.Document()
        doc.add_text("id", paper["id"])
        key = _id_key(paper["id"])
        if key:
            doc.add_unsigned("key", key)
        title, abstract = _nfc(paper.get("title")), _nfc(paper.get("abstract"))
        doc.add_text("title", title)
        doc.add_text("abstract", abstract)
        title_pairs = " ".join(_pairs(_terms(title)))
        abstract_pairs = " ".join(_pairs(_terms(abstract)))
        doc.add_text("title_pairs", title_pairs)
        doc.add_text("abstract_pairs", abstract_pairs)
        for name in paper.get("authors") or ():
            if name:
                doc.add_text("authors", _nfc(name))
        archives: dict[str, None] = {}
        for category in paper.get("categories") or ():
            if category:
                category = str(category).strip().lower()
                doc.add_text("category", category)
                archives.setdefault(category.split(".", 1)[0])
        for archive in archives:
            doc.add_text("archive", archive)
        for field_name, column in (("published_day", "published_at"), ("feed_day", "feed_date")):
            day = _day(paper.get(column))
            if day is not None:
                doc.add_integer(field_name, day)
        doc.add_boolean("has_code", bool(paper.get("code_urls")))
        changed = paper.get("changed_at")
        if isinstance(changed, datetime):
            doc.add_integer("changed", change_stamp(changed))
        return doc

    def upsert(self, papers: Iterable[dict[str, Any]]) -> int:
        """Add papers, replacing any indexed paper with the same id; returns how many distinct ids
        were written. Nothing is visible to searches before :meth:`commit`."""
        ids: set[str] = set()
        with self._write_lock:
            writer = self._get_writer()
            for paper in papers:
                paper_id = paper.get("id")
                if not paper_id or not isinstance(paper_id, str):
                    title = str(paper.get("title"))[:60]
                    raise LexicalIndexError(f"a paper to index has no id (title {title!r})")
                doc = self._document(paper)
                writer.delete_documents_by_term("id", paper_id)
                writer.add_document(doc)
                ids.add(paper_id)
        return len(ids)

    def delete(self, ids: Iterable[str]) -> int:
        """Remove papers by id; returns how many of them were in the index (as last committed).
        Visible after :meth:`commit`."""
        wanted = list(dict.fromkeys(ids))
        if not wanted:
            return 0
        searcher = self._searcher()
        found = 0
        with self._write_lock:
            writer = self._get_writer()
            for paper_id in wanted:
                term = Query.term_query(self._schema, "id", paper_id)
                if searcher.search(term, 1, count=False).hits:
                    found += 1
                writer.delete_documents_by_term("id", paper_id)
        return found

    def commit(self) -> None:
        """Make the writes so far visible (and durable), then let other writers in."""
        with self._write_lock:
            writer, self._writer = self._writer, None
            self._bulk = False
            if writer is None:
                return
            try:
                writer.commit()
                writer.wait_merging_threads()  # merges done, the lock released
            except ValueError as error:
                raise LexicalIndexError(
                    f"cannot commit to the lexical index at {self.path}: {_first_line(error)}"
                ) from None
        self._reload()

    def rollback(self) -> None:
        """Drop the writes since the last commit."""
        with self._write_lock:
            writer, self._writer = self._writer, None
            self._bulk = False
            if writer is not None:
                writer.rollback()
                del writer

    def clear(self) -> None:
        """Delete every paper (committed at once), keeping the index and its layout."""
        with self._write_lock:
            writer = self._get_writer()
            writer.delete_all_documents()
        self.commit()

    def close(self) -> None:
        """Drop uncommitted writes and release the writer lock (searching still works)."""
        self.rollback()

    def __enter__(self) -> LexicalIndex:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- reading ----------------------------------------------------------------------------------

    def _meta_stamp(self) -> tuple[int, int] | None:
        try:
            stat = (self.path / "meta.json").stat()
        except OSError:
            return None
        return stat.st_mtime_ns, stat.st_size

    def _reload(self) -> None:
        self._stamp = self._meta_stamp()
        self._index.reload()

    def _searcher(self) -> tantivy.Searcher:
        if self._meta_stamp() != self._stamp:  # another process (or instance) committed
            self._reload()
        return self._index.searcher()

    def reload(self) -> None:
        """See the latest commit now (searches also notice new commits on their own)."""
        self._reload()

    def count(self) -> int:
        """Papers in the index, as last committed."""
        return self._searcher().num_docs

    def __contains__(self, paper_id: object) -> bool:
        if not isinstance(paper_id, str):
            return False
        term = Query.term_query(self._schema, "id", paper_id)
        return bool(self._searcher().search(term, 1, count=False).hits)

    # -- queries ----------------------------------------------------------------------------------

    def _match(self, field: str, tokens: list[tuple[int, str]], slop: int = 0) -> Query:
        if len(tokens) == 1:
            return Query.term_query(self._schema, field, tokens[0][1])
        return Query.phrase_query(self._schema, field, list(tokens), slop=slop)

    def _in_text(self, text: str, fields: Sequence[str], title_weight: int = 1) -> list[Query]:
        """Clauses for a word or phrase in each field, the title's weighted by ``title_weight``."""
        tokens = _tokens(_TEXT, text)
        if not tokens:
            return []
        return [
            _weighted(self._match(field, tokens), title_weight if field == "title" else 1)
            for field in fields
        ]

    def _in_names(self, text: str) -> Query | None:
        tokens = _tokens(_NAMES, text)
        if len(tokens) > 1:  # initials ("G. Hinton") say little and may be spelled out in the index
            longer = [(p, t) for p, t in tokens if len(t) > 1]
            if longer:
                tokens = [(p - longer[0][0], t) for p, t in longer]
        if not tokens:
            return None
        if len(tokens) == 1:
            return Query.term_query(self._schema, "authors", tokens[0][1])
        words = [t for _, t in tokens]
        forward = Query.phrase_query(self._schema, "authors", list(enumerate(words)), slop=2)
        words.reverse()
        backward = Query.phrase_query(self._schema, "authors", list(enumerate(words)), slop=2)
        return _any_of([forward, backward])

    def _anywhere(self, text: str) -> list[Query]:
        """Clauses for a word or phrase in the title (weighted), the abstract or the author names;
        a paper matches if any does, and its score is their sum."""
        queries = self._in_text(text, ("title", "abstract"), title_weight=TITLE_WEIGHT)
        names = self._in_names(text)
        if names is not None:
            queries.append(names)
        return queries

    def _ranking(self, text: str, quoted: bool) -> list[Query]:
        """Clauses that rank papers by a free word, hyphenated word or quoted phrase.

        A word scores in the title (counted twice), the abstract and the author names; a hyphenated
        word or two-word phrase by its adjacent pairs in the title and abstract. All are plain term
        queries. A longer quoted phrase must be exact, so it stays a phrase query (slower: it turns
        the top-k pruning off for that query)."""
        terms = [t for _, t in _tokens(_TEXT, text)]
        pairs = _pairs(terms)
        if len(terms) <= 1 or not pairs or (quoted and len(terms) > 2):
            return self._anywhere(text)
        queries = []
        for pair in pairs:
            queries.append(
                _weighted(Query.term_query(self._schema, "title_pairs", pair), TITLE_WEIGHT)
            )
            queries.append(Query.term_query(self._schema, "abstract_pairs", pair))
        names = self._in_names(text) if quoted else None  # "self" in "self-supervised" is no name
        return queries if names is None else [*queries, names]

    def _clause(self, clause: FieldClause) -> Query:
        if clause.field == "category":
            value = clause.value.strip().lower()
            field = "category" if "." in value else "archive"
            return Query.term_query(self._schema, field, value)
        if clause.field == "authors":
            query = self._in_names(clause.value)
        else:
            query = _should(self._in_text(clause.value, (clause.field,)))
        return query if query is not None else Query.empty_query()

    def _filters(self, filters: Filters | None) -> list[Query]:
        if filters is None:
            return []
        out: list[Query] = []
        cats = [Query.term_query(self._schema, f, v) for f, v in _category_terms(filters)]
        if cats:
            out.append(_any_of(cats))
        if filters.since is not None or filters.until is not None:
            field = "feed_day" if filters.date_field == "feed" else "published_day"
            out.append(
                Query.range_query(
                    self._schema,
                    field,
                    tantivy.FieldType.Integer,
                    _day(filters.since) if filters.since is not None else 0,
                    _day(filters.until) if filters.until is not None else 99991231,
                )
            )
        if filters.has_code is not None:
            out.append(Query.term_query(self._schema, "has_code", bool(filters.has_code)))
        return out

    def _build(
        self, parsed: ParsedQuery, filters: Filters | None
    ) -> tuple[Query | None, Query | None]:
        """The search query and the query whose words get highlighted (None: nothing to find)."""
        selects = [Query.const_score_query(q, 0.0) for q in self._filters(filters)]
        if parsed.paper_id is not None:
            term = Query.term_query(self._schema, "id", parsed.paper_id)
            selects.append(Query.const_score_query(term, 1.0))
            return Query.boolean_query([(Occur.Must, q) for q in selects]), None

        should = [q for text in parsed.terms for q in self._ranking(text, quoted=False)]
        should += [q for text in parsed.phrases for q in self._ranking(text, quoted=True)]
        scoring: list[Query] = []
        excluded: list[Query] = []
        highlight: list[Query] = []
        for text in (*parsed.terms, *parsed.phrases, *parsed.required):
            highlight += self._in_text(text, ("title", "abstract"))
        for text in parsed.required:
            scoring.append(_should(self._anywhere(text)) or Query.empty_query())
        for clause in parsed.fields:
            query = self._clause(clause)
            if clause.negated:
                excluded.append(query)
            elif clause.field in ("title", "abstract"):
                scoring.append(query)
                highlight.append(query)
            else:
                selects.append(Query.const_score_query(query, 0.0))
        for text in parsed.excluded:
            excluded += self._anywhere(text)

        subqueries = [(Occur.Must, q) for q in (*selects, *scoring)]
        if scoring:  # the free words only add to the score
            subqueries += [(Occur.Should, q) for q in should]
        elif selects and should:  # at least one free word must match
            subqueries.append((Occur.Must, _any_of(should)))
        elif should:  # a flat OR of term queries: the fast path
            subqueries += [(Occur.Should, q) for q in should]
        if not subqueries:
            return None, None
        subqueries += [(Occur.MustNot, q) for q in excluded]
        return Query.boolean_query(subqueries), _should(highlight)

    def _hits(
        self, parsed: ParsedQuery, k: int, filters: Filters | None, offset: int
    ) -> tuple[tantivy.Searcher, Query | None, list[tuple[float, float, Any]]]:
        """The searcher, the highlight query and ``(score, order key, address)`` of each hit, in
        order: the key is the score, or the publication day (``YYYYMMDD``, 0 for none) for a
        query with nothing to rank by, whose hits come newest first with a score of 0."""
        if k <= 0:
            return self._searcher(), None, []
        if isinstance(parsed, str):  # forgive a caller that did not parse
            parsed = parse_query(parsed)
        query, highlight = self._build(parsed, filters)
        searcher = self._searcher()
        if query is None:
            return searcher, None, []
        offset = max(0, offset)
        try:
            if parsed.ranked or parsed.paper_id is not None:
                hits = searcher.search(query, k, count=False, offset=offset).hits
                return searcher, highlight, [(score, score, at) for score, at in hits]
            hits = searcher.search(
                query, k, count=False, offset=offset, order_by_field="published_day"
            ).hits
        except ValueError as error:  # should not happen; never let tantivy's text out
            raise LexicalIndexError(f"the lexical search failed: {_first_line(error)}") from None
        return searcher, highlight, [(0.0, float(day or 0), at) for day, at in hits]

    def search(
        self,
        query: ParsedQuery,
        *,
        k: int = 10,
        filters: Filters | None = None,
        highlight: bool = True,
        offset: int = 0,
    ) -> list[LexicalHit]:
        """The best ``k`` papers for a query (after skipping ``offset``), with highlighted title and
        abstract snippet. A query for a paper id returns that paper if it is indexed."""
        keyed = self.search_keyed(query, k=k, filters=filters, highlight=highlight, offset=offset)
        return [hit for _, hit in keyed]

    def search_keyed(
        self,
        query: ParsedQuery,
        *,
        k: int = 10,
        filters: Filters | None = None,
        highlight: bool = True,
        offset: int = 0,
    ) -> list[tuple[float, LexicalHit]]:
        """:meth:`search` with each hit's order key (its score, or its publication day when the
        query ranks nothing), by which the results of several indexes merge."""
        searcher, marks, hits = self._hits(query, k, filters, offset)
        title_gen = abstract_gen = None
        if highlight and marks is not None and hits:
            title_gen = tantivy.SnippetGenerator.create(searcher, marks, self._schema, "title")
            title_gen.set_max_num_chars(10_000)
            abstract_gen = tantivy.SnippetGenerator.create(
                searcher, marks, self._schema, "abstract"
            )
            abstract_gen.set_max_num_chars(SNIPPET_CHARS)
        out = []
        for score, key, address in hits:
            doc = searcher.doc(address)
            title = doc.get_first("title") or ""
            abstract = doc.get_first("abstract") or ""
            title_html = html.escape(title)
            snippet_html = ""
            if title_gen is not None and title:
                spans, _, _ = _fragment_spans(title, title_gen.snippet_from_doc(doc))
                if spans:
                    title_html = mark_spans(title, spans)
            if abstract_gen is not None and abstract:
                spans, start, end = _fragment_spans(abstract, abstract_gen.snippet_from_doc(doc))
                if spans:
                    snippet_html = fragment(abstract, spans, start, end)
            if not snippet_html:
                snippet_html = lead(abstract, SNIPPET_CHARS)
            hit = LexicalHit(str(doc.get_first("id")), float(score), title_html, snippet_html)
            out.append((float(key), hit))
        return out

    def indexed_changes(self, ids: Sequence[str]) -> dict[str, int]:
        """For each of ``ids`` in the index (as last committed), the :func:`change_stamp` it was
        indexed with (0 when it had none); ids not in the index are left out."""
        wanted = list(dict.fromkeys(ids))
        if not wanted:
            return {}
        searcher = self._searcher()
        query = Query.term_set_query(self._schema, "id", wanted)
        addresses = [
            address for _, address in searcher.search(query, len(wanted), count=False).hits
        ]
        if not addresses:
            return {}
        stamps = searcher.fast_field_values("changed", addresses)
        found = self._ids(searcher, addresses)
        return {pid: int(stamp or 0) for pid, stamp in zip(found, stamps, strict=True)}

    def _ids(self, searcher: tantivy.Searcher, addresses: list[Any]) -> list[str]:
        keys = searcher.fast_field_values("key", addresses) if addresses else []
        return [
            _key_id(int(key)) if key else str(searcher.doc(address).get_first("id"))
            for key, address in zip(keys, addresses, strict=True)
        ]

    def search_ids(
        self, query: ParsedQuery, *, k: int = 100, filters: Filters | None = None
    ) -> list[tuple[str, float]]:
        """``(id, score)`` of the best ``k`` papers, best first, no highlighting (for fusion)."""
        return [
            (paper_id, score)
            for _, paper_id, score in self.search_ids_keyed(query, k=k, filters=filters)
        ]

    def search_ids_keyed(
        self, query: ParsedQuery, *, k: int = 100, filters: Filters | None = None
    ) -> list[tuple[float, str, float]]:
        """``(order key, id, score)`` of :meth:`search_ids`' papers (see :meth:`search_keyed`)."""
        searcher, _, hits = self._hits(query, k, filters, 0)
        ids = self._ids(searcher, [address for _, _, address in hits])
        return [
            (float(key), paper_id, float(score))
            for paper_id, (score, key, _) in zip(ids, hits, strict=True)
        ]

    def selection(self, filters: Filters | None, *, limit: int) -> list[str] | None:
        """Every indexed paper the filters select, when they select at most ``limit`` of them;
        None when they select more, or when there are no filters. Filters that term counts
        cannot bound by ``limit`` are not run at all: listing a broad selection of a large
        index to find it is broad costs more than the search it would serve."""
        parts = self._filters(filters)
        if not parts or filters is None:
            return None
        searcher = self._searcher()
        bound = self._upper_bound(searcher, filters)
        if bound is None or bound > limit:
            return None
        query = Query.boolean_query([(Occur.Must, Query.const_score_query(q, 0.0)) for q in parts])
        try:
            hits = searcher.search(query, limit + 1, count=False).hits
        except ValueError as error:  # should not happen; never let tantivy's text out
            raise LexicalIndexError(f"the lexical search failed: {_first_line(error)}") from None
        if len(hits) > limit:
            return None
        return self._ids(searcher, [address for _, address in hits])

    def _upper_bound(self, searcher: tantivy.Searcher, filters: Filters) -> int | None:
        """At most how many papers ``filters`` select, from the counts of their terms (the
        least of the bounds of each filter; deleted papers still count): None when no filter
        can be bounded, such as a date range longer than :data:`COUNTED_DAYS`."""
        bounds = []
        counts = [searcher.doc_freq(f, v) for f, v in _category_terms(filters)]
        if counts:
            bounds.append(sum(counts))
        if filters.has_code is not None:
            bounds.append(searcher.doc_freq("has_code", bool(filters.has_code)))
        if filters.since is not None:
            field = "feed_day" if filters.date_field == "feed" else "published_day"
            last = self._last_day(searcher, field)
            first = _day(filters.since)
            end = min(last, _day(filters.until) or last) if last is not None else None
            if first is not None and end is not None:
                start, stop = _as_date(first), _as_date(end)
                if stop < start:
                    bounds.append(0)
                elif (stop - start).days < COUNTED_DAYS:
                    days = (start + timedelta(days=n) for n in range((stop - start).days + 1))
                    bounds.append(sum(searcher.doc_freq(field, _day(d) or 0) for d in days))
        return min(bounds) if bounds else None

    def _last_day(self, searcher: tantivy.Searcher, field: str) -> int | None:
        """The latest day of ``field`` in the index, found once per reload of the index."""
        stamp, days = self._last_days
        if stamp != self._stamp:
            days = {}
        if field not in days:
            found = searcher.aggregate(Query.all_query(), {field: {"max": {"field": field}}})
            value = (found.get(field) or {}).get("value")
            if value is None:  # an empty index
                return None
            days = {**days, field: int(value)}
            self._last_days = (self._stamp, days)
        return days[field]

    def match_count(self, query: ParsedQuery, *, filters: Filters | None = None) -> int:
        """How many indexed papers the query matches (any free word, every field and filter),
        however many a page shows: the total a search page reports."""
        if isinstance(query, str):  # forgive a caller that did not parse
            query = parse_query(query)
        built, _ = self._build(query, filters)
        if built is None:
            return 0
        try:
            found = self._searcher().search(built, 1, count=True)
            return int(found.count)  # type: ignore[attr-defined]  # the stub leaves count out
        except ValueError as error:  # should not happen; never let tantivy's text out
            raise LexicalIndexError(f"the lexical count failed: {_first_line(error)}") from None

    def more_like(
        self, paper: dict[str, Any], *, k: int = 50, max_terms: int = 25
    ) -> list[tuple[str, float]]:
        """Papers that share the words of ``paper``'s title and its most distinctive abstract words
        (by tf-idf in this index), best first; ``paper`` itself is left out."""
        if k <= 0:
            return []
        searcher = self._searcher()
        total = max(searcher.num_docs, 1)

        def useful(term: str) -> bool:
            return len(term) > 1 and not term.isdigit() and term not in _STEMMED_STOPWORDS

        title_tokens = _tokens(_TEXT, paper.get("title") or "")
        title_terms = list(dict.fromkeys(t for _, t in title_tokens if useful(t)))
        counts = Counter(t for _, t in _tokens(_TEXT, paper.get("abstract") or "") if useful(t))
        weighted = []
        for term, tf in counts.items():
            if term in title_terms:
                continue
            df = searcher.doc_freq("abstract", term)
            if df == 0 or df > total * 0.2:
                continue
            weighted.append(((1 + math.log(tf)) * math.log(1 + total / df), term))
        weighted.sort(reverse=True)
        abstract_terms = [term for _, term in weighted[:max_terms]]

        queries = []
        for term in title_terms[:max_terms]:
            queries.append(_weighted(Query.term_query(self._schema, "title", term), TITLE_WEIGHT))
            queries.append(Query.term_query(self._schema, "abstract", term))
        for term in abstract_terms:
            queries.append(Query.term_query(self._schema, "title", term))
            queries.append(Query.term_query(self._schema, "abstract", term))
        if not queries:
            return []
        # a flat OR (block-max WAND applies); the paper itself is dropped afterwards, which is
        # cheaper than a must-not clause that would turn the pruning off
        query = Query.boolean_query([(Occur.Should, q) for q in queries])
        hits = searcher.search(query, k + 1, count=False).hits
        ids = self._ids(searcher, [address for _, address in hits])
        own = paper.get("id")
        found = [(i, float(score)) for i, (score, _) in zip(ids, hits, strict=True) if i != own]
        return found[:k]
