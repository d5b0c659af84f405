"""Similar papers: nearest neighbours by embedding, fused with lexical evidence (a query built
from the paper's own title and most distinctive abstract words); by words alone while there are
no usable embeddings. The paper itself never appears; its other versions share its id, so they
cannot either.

A facet ("similar method") ranks the candidates of both rankings by the cosine of the two papers'
facet vectors (the mean embedding of the abstract sentences tagged with that role, see
:mod:`paperboard.index.facets`), plus half the whole papers' cosine, so a shared method in an
unrelated field does not outrank the same method on the same problem.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from paperboard.core.errors import NotFoundError, PaperboardError
from paperboard.index.facets import FACETS, facet_vectors
from paperboard.index.indexer import SearchIndex
from paperboard.rank.search import fuse
from paperboard.store.papers import PaperStore
from paperboard.store.rows import CountedPaperRow, PaperRow

POOL = 100
SIMILAR_RRF_K = 60
FACET_POOL = 200  # dense candidates a facet ranking looks at, beside the lexical POOL
FACET_PAPER_WEIGHT = 0.5


class FacetError(PaperboardError):
    """An unknown facet was asked for."""


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
    row = store.get(paper_id)
    if row is None:
        raise NotFoundError(f"no paper {paper_id} in the store")
    dense: list[str] = []
    if index.dense_ready():
        vector = paper_vector(index, row)
        found = index.neighbours.search(vector, max(k, dense_k), exclude={paper_id})
        dense = [pid for pid, _ in found]
    lexical = [pid for pid, _ in index.lexical.more_like(row, k=k) if pid != paper_id]
    return {
        "dense": dense,
        "lexical": lexical,
        "hybrid": [pid for pid, _ in fuse(dense[:k], lexical, k=SIMILAR_RRF_K)][:k],
    }


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
    if facet not in FACETS:
        raise FacetError(f"unknown facet {facet!r}: use one of {', '.join(FACETS)}")
    row = store.get(paper_id)
    if row is None:
        raise NotFoundError(f"no paper {paper_id} in the store")
    if not index.dense_ready():
        return []
    mine = paper_facets(index, row).get(facet)
    stored = index.facet_set()
    if mine is None or stored is None:
        return []
    rankings = similar_rankings(index, store, paper_id, k=POOL, dense_k=FACET_POOL)
    candidates = list(dict.fromkeys(rankings["dense"] + rankings["lexical"]))
    have = [pid for pid in candidates if pid in stored.row_of and pid in index.vectors.row_of]
    if not have:
        return []
    dim = index.embedder.dim
    f = FACETS.index(facet)
    theirs = stored.rows([stored.row_of[pid] for pid in have])[:, f * dim : (f + 1) * dim]
    facet_cosine = theirs @ mine  # zero rows (no sentence of that role) score 0
    paper_cosine = index.vectors.rows([index.vectors.row_of[pid] for pid in have]) @ paper_vector(
        index, row
    )
    scores = facet_cosine + FACET_PAPER_WEIGHT * paper_cosine
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
    row = store.get(paper_id)
    if row is None:
        raise NotFoundError(f"no paper {paper_id} in the store")
    if facet is not None:
        by_facet = facet_ranking(index, store, paper_id, facet, k=k * 2)
        ranked = [pid for pid, _, _ in by_facet]
        scores = {pid: score for pid, score, _ in by_facet}
        facet_cosines: dict[str, float] = {pid: cosine for pid, _, cosine in by_facet}
    else:
        ranked = similar_rankings(index, store, paper_id)["hybrid"]
        scores = {pid: 1.0 / (SIMILAR_RRF_K + r) for r, pid in enumerate(ranked, start=1)}
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
