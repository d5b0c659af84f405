"""Similar papers: nearest neighbours by embedding, fused with lexical evidence (a query built
from the paper's own title and most distinctive abstract words); by words alone while there are
no usable embeddings. The paper itself never appears; its other versions share its id, so they
cannot either.

The two are fused by score, not by rank as search does: each candidate of either ranking scores
its embedding cosine to the paper plus ``LEXICAL_WEIGHT`` (0.3) times its "more like this" score
over the best one's (a candidate the lexical ranking did not return gets its last score). For a
whole paper as the query both scores are informative all the way down, where reciprocal-rank
fusion only sees the order; ``docs/search.md`` has the measurements against the baselines.

A facet ("similar method") adds to that overall score ``FACET_WEIGHT`` times the cosine of the
two papers' facet vectors (the mean embedding of the abstract sentences tagged with that role,
see :mod:`paperboard.index.facets`): papers like this one that share its method come first, and
a shared method in an unrelated field does not outrank the same method on the same problem.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from paperboard.core.errors import NotFoundError, PaperboardError
from paperboard.core.threads import thread_pool
from paperboard.index.facets import FACETS, facet_vectors
from paperboard.index.indexer import SearchIndex
from paperboard.store.papers import PaperStore
from paperboard.store.rows import CountedPaperRow, PaperRow

POOL = 100
LEXICAL_WEIGHT = 0.3  # fitted on the dev split of bench/devset/similar (0.2-0.5 within 0.013)
FACET_POOL = 200  # dense candidates a facet ranking looks at, beside the lexical POOL
FACET_WEIGHT = 0.5  # see docs/search.md: per-facet judgments, bench/devset/similar/facets


class FacetError(PaperboardError):
    """An unknown facet was asked for."""


def check_facet(facet: str) -> None:
    """Raise FacetError (one line) unless ``facet`` is one of FACETS."""
    if facet not in FACETS:
        raise FacetError(f"unknown facet {facet[:40]!r}: use one of {', '.join(FACETS)}")


def _stored_row(store: PaperStore, paper_id: str) -> PaperRow:
    row = store.get(paper_id)
    if row is None:
        raise NotFoundError(f"no paper {paper_id} in the store")
    return row


@dataclass
class SimilarHit:
    id: str
    score: float
    similarity: float | None  # cosine of the two papers' embeddings, when both have one
    paper: CountedPaperRow
    facet_similarity: float | None = None  # cosine of the asked facet's vectors


def paper_vector(index: SearchIndex, row: PaperRow) -> np.ndarray:
    """The stored embedding of a paper, or one computed now if it has none yet."""
    from paperboard.index.embed import paper_text

    stored = index.vectors.vector(row["id"])
    if stored is not None:
        return stored
    computed: np.ndarray = index.embedder.embed(
        [paper_text(row["title"], row["abstract"])], max_length=index.max_tokens
    )[0]
    return computed


def similar_rankings(
    index: SearchIndex, store: PaperStore, paper_id: str, *, k: int = POOL, dense_k: int = 0
) -> dict[str, list[str]]:
    """The dense, lexical and fused ("hybrid") rankings of papers like ``paper_id`` (dense empty
    when dense search is not ready); ``dense_k`` takes more dense candidates than ``k``."""
    row = _stored_row(store, paper_id)
    dense, lexical, hybrid = _rankings(index, row, k=k, dense_k=dense_k)
    return {"dense": dense, "lexical": lexical, "hybrid": [pid for pid, _ in hybrid]}


def _rankings(
    index: SearchIndex, row: PaperRow, *, k: int, dense_k: int = 0
) -> tuple[list[str], list[str], list[tuple[str, float]]]:
    """Dense ids, lexical ids, and the fused ranking with its scores, of papers like ``row``."""
    paper_id = row["id"]
    # The lexical query runs on another core while the neighbours are found (tantivy and faiss
    # both let go of the GIL): at 1M papers each takes 8-19 ms.
    pending = thread_pool("more-like", 4).submit(index.lexical.more_like, row, k=k)
    found: list[tuple[str, float]] = []
    vector = None
    if index.dense_ready():
        vector = paper_vector(index, row)
        found = index.neighbours.search(vector, max(k, dense_k), exclude={paper_id})
    words = [(pid, score) for pid, score in pending.result() if pid != paper_id]
    if vector is None or not words:
        hybrid = (found or words)[:k]  # one ranking alone, with its own scores
    else:
        hybrid = _fused(index, vector, found[:k], words)[:k]
    return [pid for pid, _ in found], [pid for pid, _ in words], hybrid


def _fused(
    index: SearchIndex,
    vector: np.ndarray,
    dense: list[tuple[str, float]],
    words: list[tuple[str, float]],
) -> list[tuple[str, float]]:
    """The candidates of both rankings, best first, with cosine + LEXICAL_WEIGHT x (lexical score
    / best lexical score)."""
    best, floor = words[0][1] or 1.0, words[-1][1]
    lexical = dict(words)
    cosine = dict(dense)
    missing = [pid for pid in lexical if pid not in cosine and pid in index.vectors.row_of]
    if missing:
        rows = index.vectors.rows([index.vectors.row_of[pid] for pid in missing]) @ vector
        cosine.update(zip(missing, (float(c) for c in rows), strict=True))
    candidates = list(dict.fromkeys([*cosine, *lexical]))
    scores = {
        pid: cosine.get(pid, 0.0) + LEXICAL_WEIGHT * lexical.get(pid, floor) / best
        for pid in candidates
    }
    return sorted(scores.items(), key=lambda item: -item[1])


def paper_facets(index: SearchIndex, row: PaperRow) -> dict[str, np.ndarray]:
    """A paper's facet vectors: the stored ones, or computed now (a paper not indexed yet)."""
    stored = index.facet_set()
    if stored is not None:
        vector = stored.vector(row["id"])
        if vector is not None:
            return _split_facets(vector, index.embedder.dim)
    return facet_vectors(index.embedder, [row["abstract"]])[0]


def _split_facets(row: np.ndarray, dim: int) -> dict[str, np.ndarray]:
    out = {}
    for f, facet in enumerate(FACETS):
        part = row[f * dim : (f + 1) * dim]
        if np.any(part):
            out[facet] = part
    return out


def facet_ranking(
    index: SearchIndex, store: PaperStore, paper_id: str, facet: str, *, k: int = POOL
) -> list[tuple[str, float, float]]:
    """Papers like ``paper_id`` in one facet, best first: (id, score, facet cosine). Empty when
    the paper's abstract has no sentence of that role, or dense search is not ready."""
    check_facet(facet)
    return _facet_ranking(index, _stored_row(store, paper_id), facet, k=k)


def _facet_ranking(
    index: SearchIndex, row: PaperRow, facet: str, *, k: int
) -> list[tuple[str, float, float]]:
    if not index.dense_ready():
        return []
    mine = paper_facets(index, row).get(facet)
    stored = index.facet_set()
    if mine is None or stored is None:
        return []
    dense, lexical, hybrid = _rankings(index, row, k=POOL, dense_k=FACET_POOL)
    overall = dict(hybrid)
    floor = min(overall.values()) if overall else 0.0
    candidates = list(dict.fromkeys([*dense, *lexical]))
    have = [pid for pid in candidates if pid in stored.row_of]
    if not have:
        return []
    dim = index.embedder.dim
    f = FACETS.index(facet)
    theirs = stored.rows([stored.row_of[pid] for pid in have])[:, f * dim : (f + 1) * dim]
    facet_cosine = theirs @ mine  # zero rows (no sentence of that role) score 0
    scores = np.asarray([overall.get(pid, floor) for pid in have]) + FACET_WEIGHT * facet_cosine
    order = np.argsort(-scores, kind="stable")[:k]
    return [(have[i], float(scores[i]), float(facet_cosine[i])) for i in order]


def similar(
    index: SearchIndex,
    store: PaperStore,
    paper_id: str,
    *,
    k: int = 10,
    facet: str | None = None,
) -> list[SimilarHit]:
    """The ``k`` papers most like ``paper_id``, best first (the fused ranking of
    :func:`similar_rankings`, or :func:`facet_ranking` for a facet), each with its embedding
    cosine to the paper when there is one."""
    if facet is not None:
        check_facet(facet)
    row = _stored_row(store, paper_id)
    if facet is not None:
        by_facet = _facet_ranking(index, row, facet, k=k * 2)
        ranked = [pid for pid, _, _ in by_facet]
        scores = {pid: score for pid, score, _ in by_facet}
        facet_cosines: dict[str, float] = {pid: cosine for pid, _, cosine in by_facet}
    else:
        hybrid = _rankings(index, row, k=POOL)[2]
        ranked = [pid for pid, _ in hybrid]
        scores = dict(hybrid)
        facet_cosines = {}
    vector = paper_vector(index, row) if index.dense_ready() else None
    rows = store.get_many(ranked[: k * 2])
    hits: list[SimilarHit] = []
    for pid in ranked:
        if pid in rows:
            cosine = None
            if vector is not None:
                other = index.vectors.vector(pid)
                cosine = float(other @ vector) if other is not None else None
            hits.append(SimilarHit(pid, scores[pid], cosine, rows[pid], facet_cosines.get(pid)))
        if len(hits) == k:
            break
    return hits


def tagged_sentences(index: SearchIndex, row: PaperRow) -> list[tuple[str, str]]:
    """The paper's abstract sentences with the role the tagger gives each (for showing which
    sentences a facet is made of)."""
    from paperboard.index.facets import SENTENCE_TOKENS, abstract_sentences, role_tagger

    sentences = abstract_sentences(row["abstract"])
    if not sentences:
        return []
    vectors = index.embedder.embed(sentences, max_length=SENTENCE_TOKENS)
    return list(zip(sentences, role_tagger().tag(sentences, vectors), strict=True))
