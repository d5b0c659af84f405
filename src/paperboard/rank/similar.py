"""Similar papers: nearest neighbours by embedding, fused with lexical evidence (a query built
from the paper's own title and most distinctive abstract terms); by words alone while there are no
usable embeddings. The paper itself never appears; its other versions share its id, so they cannot
either."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from paperboard.core.errors import NotFoundError
from paperboard.index.indexer import SearchIndex
from paperboard.rank.search import RRF_K, fuse
from paperboard.store.papers import PaperStore
from paperboard.store.rows import CountedPaperRow, PaperRow

POOL = 100


@dataclass
class SimilarHit:
    id: str
    score: float
    similarity: float | None  # cosine of the two papers' embeddings, when both have one
    paper: CountedPaperRow


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
    index: SearchIndex, store: PaperStore, paper_id: str, *, k: int = POOL
) -> dict[str, list[str]]:
    """The dense, lexical and fused ("hybrid") rankings of papers like ``paper_id`` (dense empty
    when dense search is not ready)."""
    row = store.get(paper_id)
    if row is None:
        raise NotFoundError(f"no paper {paper_id} in the store")
    dense: list[str] = []
    if index.dense_ready():
        vector = paper_vector(index, row)
        dense = [pid for pid, _ in index.neighbours.search(vector, k, exclude={paper_id})]
    lexical = [pid for pid, _ in index.lexical.more_like(row, k=k) if pid != paper_id]
    return {
        "dense": dense,
        "lexical": lexical,
        "hybrid": [pid for pid, _ in fuse(dense, lexical)][:k],
    }


def similar(
    index: SearchIndex, store: PaperStore, paper_id: str, *, k: int = 10
) -> list[SimilarHit]:
    """The ``k`` papers most like ``paper_id``, best first (the fused ranking of
    :func:`similar_rankings`), each with its embedding cosine to the paper when there is one."""
    ranked = similar_rankings(index, store, paper_id)["hybrid"]
    row = store.get(paper_id)
    assert row is not None  # similar_rankings raised otherwise
    vector = paper_vector(index, row) if index.dense_ready() else None
    rows = store.get_many(ranked[: k * 2])
    scores = {pid: 1.0 / (RRF_K + rank) for rank, pid in enumerate(ranked, start=1)}
    hits: list[SimilarHit] = []
    for pid in ranked:
        if pid in rows:
            cosine = None
            if vector is not None:
                other = index.vectors.vector(pid)
                cosine = float(other @ vector) if other is not None else None
            hits.append(SimilarHit(pid, scores[pid], cosine, rows[pid]))
        if len(hits) == k:
            break
    return hits
