"""Where each paper lies on the map of the literature: 2D positions from sentence embeddings
(L2-normalized rows). ``layout`` makes steps 1-4 of ``compute_map`` (``index/map_compute.py``),
each seeded or deterministic:

1. **Reduce.** Rows are renormalized, centred and projected on their first 50 principal
   components (randomized SVD fitted on at most ``sample`` rows, then applied in chunks): the
   neighbourhoods are kept and every later step is cheaper.
2. **Lay out.** A *fit set* of at most ``sample`` papers (all of them when there are fewer, a
   seeded random sample otherwise) is laid out by t-SNE with openTSNE: perplexity 30 on the
   90-nearest-neighbour graph (cosine, faiss: exact up to 20k papers, an IVF index above, which
   finds ~95% of the true neighbours), PCA initialisation, 250 iterations of early exaggeration
   12, then 350-500 iterations at a mild exaggeration that grows with the corpus (1 at 1k papers,
   2 at 10k, 3 from 100k) so that large maps show compact, separated topics and a readable global
   arrangement instead of one even disc. Gradients by Barnes-Hut below 8k papers, by FFT
   interpolation above. Below 40 papers (or for identical vectors) the layout is the first two
   principal components.
3. **Place the rest** (only when there are more papers than ``sample``): each other paper goes to
   the mean of the positions of its 10 most similar fitted papers (faiss IVF search over the fit
   set), weighted by a softmax of the cosine similarities (temperature 0.03), so the nearest
   dominate and the others smooth. Linear in the corpus (about 25 s per million papers on two
   cores), and the fitted layout is not disturbed.
4. **Normalize.** The map is rotated so its long axis is horizontal and scaled into [0, 1]^2 with
   its aspect ratio kept: x spans 0 to 1, y is centred (rare far outliers, beyond the 0.05% and
   99.95% quantiles, are clamped to the edge).
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = ["Layout", "cpu_threads", "layout"]

_PCA_DIMS = 50
_PERPLEXITY = 30.0
_PLACE_K = 10
_PLACE_TEMPERATURE = 0.03
_MIN_TSNE = 40  # below this many papers, the layout is a plain PCA (t-SNE needs neighbours)


@dataclass
class Layout:
    """Positions of n papers on the map, and how they were made."""

    positions: np.ndarray  # n x 2, in [0, 1]^2
    fit: np.ndarray  # the papers laid out by t-SNE (or PCA), in increasing order
    rest: np.ndarray  # the others, placed among their nearest fitted papers
    method: str  # "pca50+tsne" or "pca2", then "+knn10" when some papers were placed
    params: dict[str, Any]  # "fitted", and for t-SNE its "perplexity" and "exaggeration"


def layout(
    vectors: np.ndarray,
    rng: np.random.Generator,
    *,
    seed: int,
    sample: int,
    threads: int,
    say: Callable[[str], None],
) -> Layout:
    """The map positions of these n >= 1 vectors: at most ``sample`` of them laid out by t-SNE
    (a sample drawn from ``rng``), the others placed among their nearest fitted neighbours."""
    n = len(vectors)
    say(f"reducing {n:,} vectors to {_PCA_DIMS} dimensions")
    x = _reduce(vectors, rng, sample)
    fit = np.sort(rng.choice(n, size=sample, replace=False)) if n > sample else np.arange(n)
    params: dict[str, Any] = {"fitted": len(fit)}

    y_fit = None
    spread = float(x[fit].var(axis=0).sum())
    if len(fit) >= _MIN_TSNE and spread > 1e-8:
        say(f"laying out {len(fit):,} papers (t-SNE)")
        y_fit = _tsne(x[fit], seed, threads, say)
        method = "pca50+tsne"
        params["perplexity"] = round(min(_PERPLEXITY, (len(fit) - 1) / 3), 2)
        params["exaggeration"] = round(_final_exaggeration(len(fit)), 2)
        if not np.isfinite(y_fit).all():  # never seen; a map of PCA beats no map
            y_fit = None
    if y_fit is None:
        y_fit = _pca2(x[fit])
        method = "pca2"
    y = np.empty((n, 2), dtype=np.float64)
    y[fit] = y_fit
    rest = np.setdiff1d(np.arange(n), fit, assume_unique=True)
    if len(rest):
        say(f"placing {len(rest):,} more papers among their nearest fitted neighbours")
        y[rest] = _place(x[fit], y_fit, x[rest], threads)
        method += f"+knn{_PLACE_K}"
    del x
    return Layout(_normalize(y), fit, rest, method, params)


def cpu_threads() -> int:
    """Cores this process may run on (CPU affinity respected), at most 8."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cores = os.cpu_count() or 1
    return max(1, min(cores, 8))


def _place(base: np.ndarray, base_y: np.ndarray, queries: np.ndarray, threads: int) -> np.ndarray:
    """Map positions for papers outside the fit set: the mean of the positions of their
    ``_PLACE_K`` most similar fitted papers, with softmax weights on similarity, so the nearest
    dominate and the others smooth the position."""
    out = np.empty((len(queries), 2), dtype=np.float64)
    nbr, sim = _search(base, queries, _PLACE_K, threads, approximate=True)
    step = 200_000
    for start in range(0, len(queries), step):
        s = sim[start : start + step].astype(np.float64)
        w = np.exp((s - s[:, :1]) / _PLACE_TEMPERATURE)
        w /= w.sum(axis=1, keepdims=True)
        out[start : start + step] = np.einsum("nk,nkd->nd", w, base_y[nbr[start : start + step]])
    return out


def _reduce(vectors: np.ndarray, rng: np.random.Generator, sample: int) -> np.ndarray:
    """Rows renormalized, centred and projected on the first principal components (float32)."""
    n, d = vectors.shape
    fit_rows = np.sort(rng.choice(n, size=sample, replace=False)) if n > sample else slice(None)
    basis = vectors[fit_rows].astype(np.float32)
    basis = basis / np.maximum(np.linalg.norm(basis, axis=1, keepdims=True), 1e-12)
    mean = basis.mean(axis=0)
    dims = min(_PCA_DIMS, d, max(1, basis.shape[0] - 1))
    if dims >= d:
        components = np.eye(d, dtype=np.float32)
    else:
        from sklearn.utils.extmath import randomized_svd

        _, _, vt = randomized_svd(
            basis - mean, dims, n_iter=4, random_state=int(rng.integers(2**31 - 1))
        )
        components = vt.T.astype(np.float32)
    del basis
    out = np.empty((n, components.shape[1]), dtype=np.float32)
    step = 100_000
    for start in range(0, n, step):
        chunk = vectors[start : start + step].astype(np.float32)
        chunk /= np.maximum(np.linalg.norm(chunk, axis=1, keepdims=True), 1e-12)
        out[start : start + step] = (chunk - mean) @ components
    return out


def _search(
    base: np.ndarray, queries: np.ndarray, k: int, threads: int, *, approximate: bool = False
) -> tuple[np.ndarray, np.ndarray]:
    """The ``k`` nearest base rows of each query (cosine similarity), best first."""
    import faiss

    faiss.omp_set_num_threads(threads)
    base = np.ascontiguousarray(_unit(base))
    queries = np.ascontiguousarray(_unit(queries))
    k = min(k, len(base))
    index: faiss.IndexIVFFlat | faiss.IndexFlatIP
    if approximate and len(base) >= 20_000:
        # inverted lists: about 4 sqrt(n) of them, 16 probed: ~95% of the true neighbours,
        # 3-4x faster than the exact search at 40k (and far more at 1M queries)
        nlist = int(min(4096, math.sqrt(len(base)) * 4, len(base) // 39))  # 39: faiss's minimum
        quantizer = faiss.IndexFlatIP(base.shape[1])
        index = faiss.IndexIVFFlat(quantizer, base.shape[1], nlist, faiss.METRIC_INNER_PRODUCT)
        index.cp.seed = 1234
        index.train(base)
        index.add(base)
        index.nprobe = 16
    else:
        index = faiss.IndexFlatIP(base.shape[1])
        index.add(base)
    sims = np.empty((len(queries), k), dtype=np.float32)
    nbrs = np.empty((len(queries), k), dtype=np.int64)
    step = 50_000
    for start in range(0, len(queries), step):
        s, i = index.search(queries[start : start + step], k)
        sims[start : start + step], nbrs[start : start + step] = s, i
    # an IVF search can come back short (-1); fall back on the best neighbour found
    missing = nbrs < 0
    if missing.any():
        nbrs = np.where(missing, nbrs[:, :1], nbrs)
        sims = np.where(missing, 0.0, sims)
    return nbrs, sims


def _unit(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float32)
    unit: np.ndarray = x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)
    return unit


def _pca2(x: np.ndarray) -> np.ndarray:
    n = len(x)
    if n == 1:
        return np.zeros((1, 2))
    centred = x - x.mean(axis=0)
    _, _s, vt = np.linalg.svd(centred.astype(np.float64), full_matrices=False)
    y = centred @ vt[:2].T
    if y.shape[1] < 2:
        y = np.hstack([y, np.zeros((n, 2 - y.shape[1]))])
    return _fix_signs(y)


def _tsne(x: np.ndarray, seed: int, threads: int, say: Callable[[str], None]) -> np.ndarray:
    import openTSNE
    from openTSNE.affinity import PerplexityBasedNN
    from openTSNE.nearest_neighbors import PrecomputedNeighbors

    n = len(x)
    perplexity = min(_PERPLEXITY, (n - 1) / 3)
    k = min(n - 1, int(3 * perplexity))
    nbrs, sims = _search(x, x, k + 1, threads, approximate=True)
    # drop each point itself (the first hit, except where duplicates tie)
    own = nbrs == np.arange(n)[:, None]
    keep = ~own
    keep[own.sum(axis=1) == 0, -1] = False
    nbrs = nbrs[keep].reshape(n, k)
    sims = sims[keep].reshape(n, k)
    dist = np.sqrt(np.maximum(2.0 - 2.0 * sims.astype(np.float64), 0.0))
    affinities = PerplexityBasedNN(
        perplexity=perplexity,
        knn_index=PrecomputedNeighbors(nbrs, dist),
        n_jobs=threads,
        random_state=seed,
    )
    # a small map's iterations are too short to share between threads: one is faster (much
    # faster when the cores are busy with other work)
    threads = 1 if n < 2500 else threads
    init = _pca2(x)
    scale = float(np.std(init[:, 0]))
    if not np.isfinite(scale) or scale < 1e-12:
        init = np.random.default_rng(seed).normal(size=(n, 2))
        scale = float(np.std(init[:, 0]))
    init = init / scale * 1e-4
    embedding = openTSNE.TSNEEmbedding(
        init,
        affinities,
        n_jobs=threads,
        random_state=seed,
        # Barnes-Hut below 8k points (the FFT grid costs the same at any size), FFT above
        negative_gradient_method="bh" if n < 8000 else "fft",
    )
    say("  t-SNE: early exaggeration")
    embedding = embedding.optimize(n_iter=250, exaggeration=12, momentum=0.5)
    say("  t-SNE: refining")
    # with exaggeration (large maps) the layout settles within ~200 iterations
    embedding = embedding.optimize(
        n_iter=500 if n < 8000 else 350, exaggeration=_final_exaggeration(n), momentum=0.8
    )
    return np.asarray(embedding, dtype=np.float64)


def _final_exaggeration(n: int) -> float:
    """Mild exaggeration for large maps: compact, separated clusters and a readable global
    arrangement (plain t-SNE spreads 40k papers into one even disc); 1 up to 1,000 papers,
    2 at 10,000, 3 from 100,000."""
    return 1.0 + min(2.0, max(0.0, math.log10(max(n, 1) / 1000)))


def _fix_signs(y: np.ndarray) -> np.ndarray:
    """Flip each axis so that its heavier tail is on the positive side (a deterministic choice)."""
    for j in range(y.shape[1]):
        if np.sum(y[:, j] ** 3) < 0:
            y[:, j] = -y[:, j]
    return y


def _normalize(y: np.ndarray) -> np.ndarray:
    """Rotated so the long axis is horizontal, scaled into [0, 1]^2 keeping the aspect ratio."""
    n = len(y)
    if n == 1:
        return np.full((1, 2), 0.5)
    y = y - np.median(y, axis=0)
    cov = np.cov(y.T) if n > 2 else (y.T @ y)
    _, vecs = np.linalg.eigh(cov)
    y = y @ vecs[:, ::-1]
    y = _fix_signs(y)
    if n >= 1000:
        lo, hi = np.quantile(y, 0.0005, axis=0), np.quantile(y, 0.9995, axis=0)
    else:
        lo, hi = y.min(axis=0), y.max(axis=0)
    span = float(max(hi - lo))
    if span <= 0:
        return np.full((n, 2), 0.5)
    centre = (lo + hi) / 2
    normalized: np.ndarray = np.clip((y - centre) / span + 0.5, 0.0, 1.0)
    return normalized
