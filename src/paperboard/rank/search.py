"""Search: lexical (BM25), dense (embeddings) and hybrid, the default.

Hybrid ranking fuses the two rankings by reciprocal rank fusion: a paper's score is the sum over
rankings of ``1 / (RRF_K + rank)``. It needs no score calibration between BM25 and cosine, and a
paper that both rankings place high wins. Field-only queries (``au:``, ``cat:``) have no free text
to embed and are ranked lexically. A query that is an arXiv id or URL goes straight to the paper.
"""

from __future__ import annotations

import time
from concurrent.futures import Future
from dataclasses import dataclass, field

from paperboard.core.errors import PaperboardError
from paperboard.core.threads import thread_pool
from paperboard.index.highlight import mark, snippet
from paperboard.index.indexer import SearchIndex
from paperboard.index.lexical import Filters
from paperboard.index.query import ParsedQuery, QueryError, parse_query
from paperboard.store.papers import PaperStore
from paperboard.store.rows import CountedPaperRow, FilterFieldsRow

MODES = ("hybrid", "lexical", "dense")
RRF_K = 60
POOL = 100  # candidates taken from each ranking before fusion
BM25_THREADS = ("bm25", 4)  # BM25 and its count, beside the dense half (started on first use)
DENSE_POOL = 300  # dense candidates before filters are applied
# Filters that select at most this many papers (a week of a field, say) have their selection
# ranked by meaning exactly: the nearest neighbours of the whole index rarely fall inside it.
NARROW = 2_000


@dataclass
class SearchHit:
    """One result: the paper's row, its fused score, and where each ranking placed it."""

    id: str
    score: float
    paper: CountedPaperRow
    title_html: str
    snippet_html: str
    lexical_rank: int | None = None
    dense_rank: int | None = None


@dataclass
class SearchResult:
    query: str
    mode: str
    hits: list[SearchHit] = field(default_factory=list)
    paper_id: str | None = None  # set when the query named one paper (id or URL)
    milliseconds: float = 0.0
    notes: list[str] = field(default_factory=list)  # what was forgiven or could not be used
    # With count=True: how many papers match the words, fields and filters (the lexical matches;
    # hybrid and dense rank these and may add papers close in meaning that hold none of them).
    total: int | None = None


def matches_filters(paper: FilterFieldsRow, filters: Filters | None) -> bool:
    """The same filters the lexical index applies, for candidates found by other rankings."""
    if filters is None:
        return True
    if filters.categories:
        mine = [c.lower() for c in paper.get("categories") or []]
        wanted = [f.lower() for f in filters.categories]
        if not any(c == f or c.startswith(f + ".") for f in wanted for c in mine):
            return False
    if filters.date_field == "feed":
        day = paper.get("feed_date")
    else:
        published = paper.get("published_at")
        day = published.date() if published else None
    if filters.since and (day is None or day < filters.since):
        return False
    if filters.until and (day is None or day > filters.until):
        return False
    return not (filters.has_code is not None and bool(paper.get("code_urls")) != filters.has_code)


def fuse(*rankings: list[str], k: int = RRF_K) -> list[tuple[str, float]]:
    """Reciprocal rank fusion of id rankings, best first (ties keep first-seen order)."""
    scores: dict[str, float] = {}
    for ranking in rankings:
        for rank, paper_id in enumerate(ranking, start=1):
            scores[paper_id] = scores.get(paper_id, 0.0) + 1.0 / (k + rank)
    return sorted(scores.items(), key=lambda item: -item[1])


def _highlight_terms(query: ParsedQuery) -> list[str]:
    fielded = [c.value for c in query.fields if c.field in ("title", "abstract") and not c.negated]
    return [*query.terms, *query.phrases, *query.required, *fielded]


def _constrained(query: ParsedQuery) -> bool:
    """Whether the query selects papers (fields, +words, -words) beyond ranking them."""
    return bool(query.fields or query.required or query.excluded)


def search(
    index: SearchIndex,
    store: PaperStore,
    text: str,
    *,
    mode: str = "hybrid",
    k: int = 10,
    offset: int = 0,
    filters: Filters | None = None,
    count: bool = False,
    highlight: bool = True,
) -> SearchResult:
    """Search the papers; raises QueryError (one line) for a query that cannot be understood.
    ``count`` also counts every lexical match (``SearchResult.total``), on another core;
    ``highlight=False`` leaves the hits' ``title_html`` and ``snippet_html`` empty (for callers
    that show no search page)."""
    if mode not in MODES:
        raise QueryError(f"unknown search mode {mode!r}: use one of {', '.join(MODES)}")
    started = time.perf_counter()
    query = parse_query(text)
    result = SearchResult(query=text, mode=mode, notes=list(query.warnings))
    if query.paper_id is not None:
        row = store.get(query.paper_id)
        result.paper_id = query.paper_id
        if row is not None:
            result.hits.append(_hit(row, 1.0, query, highlight))
        if count:
            result.total = len(result.hits)
        result.milliseconds = (time.perf_counter() - started) * 1000
        return result

    wanted = offset + k
    lexical: list[str] = []
    dense: list[str] = []
    rows: dict[str, CountedPaperRow] = {}
    pending: Future[list[tuple[str, float]]] | None = None
    counting = (
        thread_pool(*BM25_THREADS).submit(index.lexical.match_count, query, filters=filters)
        if count
        else None
    )
    dense_ready = mode != "lexical" and bool(query.text) and index.dense_ready()
    if mode == "lexical" or not query.text:  # ranked by words alone: the page is all it needs
        lexical = [pid for pid, _ in index.lexical.search_ids(query, k=wanted, filters=filters)]
    elif mode == "hybrid" and (_constrained(query) or not dense_ready):
        # the dense half ranks this selection, or there is none: BM25 first
        lexical = [
            pid for pid, _ in index.lexical.search_ids(query, k=max(POOL, wanted), filters=filters)
        ]
    elif mode == "hybrid":
        # BM25 runs on another core while the query is embedded and its neighbours found (both
        # let go of the GIL), so hybrid costs about the slower of the two, not their sum.
        pending = thread_pool(*BM25_THREADS).submit(
            index.lexical.search_ids, query, k=max(POOL, wanted), filters=filters
        )
    if mode in ("hybrid", "dense") and query.text and not dense_ready:
        if mode == "dense":
            raise PaperboardError("no embeddings yet: run paperboard index")
        result.notes.append("ranked by words only: no embeddings yet (run paperboard index)")
    elif mode in ("hybrid", "dense") and query.text:
        vector = index.embedder.embed_query(query.text)
        if _constrained(query):
            # au:, cat:, +word and -word select papers: rank the lexical selection by meaning.
            if not lexical:
                lexical = [
                    pid for pid, _ in index.lexical.search_ids(query, k=DENSE_POOL, filters=filters)
                ]
            dense = index.vectors_rank(vector, lexical)
        elif (selected := index.lexical.selection(filters, limit=NARROW)) is not None:
            dense = index.vectors_rank(vector, selected)
        else:
            candidates = index.neighbours.search(vector, max(DENSE_POOL, wanted * 3))
            if filters is None or filters == Filters():
                dense = [pid for pid, _ in candidates]  # papers deleted since are dropped below
            else:
                fields = store.filter_fields([pid for pid, _ in candidates])
                dense = [
                    pid
                    for pid, _ in candidates
                    if pid in fields and matches_filters(fields[pid], filters)
                ]
        dense = dense[: max(POOL, wanted)]
    if pending is not None:
        lexical = [pid for pid, _ in pending.result()]
    if mode == "lexical" or not dense:
        ranked = [(pid, 1.0 / (RRF_K + r)) for r, pid in enumerate(lexical, start=1)]
    elif mode == "dense" or not lexical:
        ranked = [(pid, 1.0 / (RRF_K + r)) for r, pid in enumerate(dense, start=1)]
    else:
        ranked = fuse(lexical, dense)
    page = ranked[offset:wanted]
    missing = [pid for pid, _ in page if pid not in rows]
    rows.update(store.get_many(missing))
    lexical_rank = {pid: r for r, pid in enumerate(lexical, start=1)}
    dense_rank = {pid: r for r, pid in enumerate(dense, start=1)}
    for pid, score in page:
        if pid in rows:  # a paper deleted since it was indexed is left out
            hit = _hit(rows[pid], score, query, highlight)
            hit.lexical_rank, hit.dense_rank = lexical_rank.get(pid), dense_rank.get(pid)
            result.hits.append(hit)
    if counting is not None:
        result.total = counting.result()
    result.milliseconds = (time.perf_counter() - started) * 1000
    return result


def ranked_ids(
    index: SearchIndex,
    store: PaperStore,
    text: str,
    *,
    mode: str,
    k: int,
    filters: Filters | None = None,
) -> list[str]:
    """Just the ids, best first (for evaluation)."""
    return [hit.id for hit in search(index, store, text, mode=mode, k=k, filters=filters).hits]


def _hit(row: CountedPaperRow, score: float, query: ParsedQuery, highlight: bool) -> SearchHit:
    if not highlight:
        return SearchHit(id=row["id"], score=score, paper=row, title_html="", snippet_html="")
    terms = _highlight_terms(query)
    return SearchHit(
        id=row["id"],
        score=score,
        paper=row,
        title_html=mark(row.get("title") or "", terms),
        snippet_html=snippet(row.get("abstract") or "", terms),
    )
