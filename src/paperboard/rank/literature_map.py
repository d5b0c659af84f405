"""The map of the literature: every paper as a point on a 2D map, grouped into labelled regions.

``compute_map`` turns the papers' sentence embeddings (L2-normalized rows) and their texts
(title + abstract) into a :class:`LiteratureMap`; ``to_json``/``from_json`` store it compactly and
ship it to a browser; ``highlight`` finds the points of a search's results or of a day's papers;
``render_svg`` draws a static picture of it. Pure library: no database, no files.

How the map is made (every step seeded or deterministic: same input and seed, same map):

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
5. **Cluster.** Ward's agglomerative clustering of the fit set's map positions over their
   10-nearest-neighbour graph; every other paper joins the cluster of its nearest fitted paper
   on the map. Clusters are contiguous regions that follow the gaps between the map's islands,
   and, as t-SNE keeps neighbours together, coherent in meaning (measured on 12k real embeddings:
   69% of a paper's 10 nearest neighbours *in the embedding space* share its cluster, against 63%
   for KMeans on the embeddings themselves). ``n_clusters`` defaults to about sqrt(n)/2 between
   8 and 60 (fewer for a few dozen papers). Clusters are numbered by decreasing size.
6. **Label.** Class-based TF-IDF over the unigrams and bigrams of title + abstract (at most
   16,000 texts in all, drawn evenly from the clusters): English stop words and arXiv boilerplate
   are removed (``BOILERPLATE``; "models", "networks", "systems", "learning", "data" may still end
   a bigram: "diffusion models"), bigrams never span punctuation or a removed word, and a term
   scores by the share of the cluster's papers using it against both the mean share in the other
   clusters and the upper quartile of all clusters' shares, so a term common to a whole family of
   clusters ("language models") names none of them. Near-duplicates are skipped (plurals, words
   of a picked phrase, an acronym of a picked phrase: "LLMs" after "large language models"), two
   chained bigrams become the trigram when the texts use it ("3D Gaussian Splatting"), and terms
   are written as the papers write them ("LLMs", "3D", "Whisper"). The label is the 2 best terms
   (3 when short); no two labels are the same, a term leads at most two labels and otherwise
   appears in one only.

Cost on two cores (``bench/map_probe.py``): about 30 s and 0.7 GB for the 40,717 papers of
``../shared/data``; about 60 s and 2.6 GB at peak for a million (1.5 GB of it the input vectors).
The result is deterministic for a given input, seed and number of cores.
"""

from __future__ import annotations

import math
import os
import re
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from html import escape as _html_escape
from typing import Any

import numpy as np

__all__ = [
    "LiteratureMap",
    "MapCluster",
    "MapPoint",
    "compute_map",
    "from_json",
    "highlight",
    "render_svg",
    "to_json",
]

FORMAT_VERSION = 1
_PCA_DIMS = 50
_PERPLEXITY = 30.0
_PLACE_K = 10
_PLACE_TEMPERATURE = 0.03
_MIN_TSNE = 40  # below this many papers, the layout is a plain PCA (t-SNE needs neighbours)


# -- the data -------------------------------------------------------------------------------------


@dataclass(slots=True)
class MapPoint:
    id: str
    x: float
    y: float
    cluster: int


@dataclass
class MapCluster:
    id: int
    label: str  # its 2-3 most distinctive terms, joined with ", "
    terms: list[str]  # the most distinctive terms, best first (the label's come first)
    size: int
    x: float  # where to draw the label: the centre of the cluster's densest part
    y: float


@dataclass
class LiteratureMap:
    points: list[MapPoint]
    clusters: list[MapCluster]
    method: str
    params: dict
    _index: dict[str, int] | None = field(default=None, init=False, repr=False, compare=False)

    def index_of(self, paper_id: str) -> int | None:
        """Where this paper is in ``points``: a lookup table built on first use (treat a map as
        immutable; a map made with ``dataclasses.replace`` builds its own)."""
        if self._index is None or len(self._index) != len(self.points):
            self._index = {p.id: i for i, p in enumerate(self.points)}
        i = self._index.get(paper_id)
        if i is not None and self.points[i].id != paper_id:  # points were changed in place
            self._index = None
            return self.index_of(paper_id)
        return i


# -- computing a map ------------------------------------------------------------------------------


def compute_map(
    ids: Sequence[str],
    vectors: np.ndarray,
    texts: Sequence[str],
    *,
    n_clusters: int | None = None,
    seed: int = 0,
    sample: int = 60_000,
    progress: Callable[[str], None] | None = None,
) -> LiteratureMap:
    """The map of these papers: ``vectors[i]`` is the embedding of paper ``ids[i]``, whose title
    and abstract are ``texts[i]``. ``n_clusters`` defaults to about sqrt(n)/2, between 8 and 60
    (never more than the papers). At most ``sample`` papers are laid out by t-SNE; the others
    are placed among their nearest neighbours."""
    say = progress or (lambda _message: None)
    ids = [str(i) for i in ids]
    if not (hasattr(texts, "__len__") and hasattr(texts, "__getitem__")):
        texts = list(texts)
    vectors = np.asarray(vectors)
    n = len(ids)
    if vectors.ndim != 2 or vectors.shape[0] != n or len(texts) != n:
        shape = "x".join(str(s) for s in vectors.shape)
        raise ValueError(
            f"compute_map needs one vector and one text per id: got {n} ids, "
            f"vectors of shape {shape}, {len(texts)} texts"
        )
    if len(set(ids)) != n:
        raise ValueError("compute_map needs distinct ids: some id appears more than once")
    if sample < 2:
        raise ValueError(f"sample must be at least 2, got {sample}")
    k = _default_clusters(n) if n_clusters is None else max(1, min(int(n_clusters), n))
    params: dict[str, Any] = {"n": n, "n_clusters": k, "seed": seed, "sample": sample}
    if n == 0:
        return LiteratureMap([], [], "empty", params)

    rng = np.random.default_rng(seed)
    threads = _threads()
    say(f"reducing {n:,} vectors to {_PCA_DIMS} dimensions")
    x = _reduce(vectors, rng, sample)
    fit = np.sort(rng.choice(n, size=sample, replace=False)) if n > sample else np.arange(n)
    params["fitted"] = len(fit)

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
    y = _normalize(y)

    say(f"grouping into {k} clusters")
    labels = np.empty(n, dtype=np.int64)
    labels[fit] = _regions(y[fit], k)
    if len(rest):
        from scipy.spatial import cKDTree

        _, nearest = cKDTree(y[fit]).query(y[rest], k=1, workers=threads)
        labels[rest] = labels[fit][nearest]
    labels = _renumber(labels)
    k = int(labels.max()) + 1

    say("labelling clusters")
    terms = _cluster_terms(texts, labels, k, rng)
    y = y.round(4)
    clusters = []
    for c in range(k):
        members = np.flatnonzero(labels == c)
        cx, cy = _label_anchor(y[members])
        clusters.append(
            MapCluster(
                id=c,
                label=", ".join(terms[c][1]),
                terms=terms[c][0],
                size=len(members),
                x=round(cx, 4),
                y=round(cy, 4),
            )
        )
    points = [
        MapPoint(i, px, py, c)
        for i, (px, py), c in zip(ids, y.tolist(), labels.tolist(), strict=True)
    ]
    params["n_clusters"] = k
    return LiteratureMap(points, clusters, method, params)


def _default_clusters(n: int) -> int:
    """About sqrt(n)/2 clusters, at least 8 (fewer for a few dozen papers), at most 60."""
    if n < 16:
        return max(1, n // 4)
    return int(min(60, max(min(8, round(math.sqrt(n / 2))), round(math.sqrt(n) / 2))))


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


def _threads() -> int:
    """Cores this process may run on (CPU affinity respected), at most 8."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cores = os.cpu_count() or 1
    return max(1, min(cores, 8))


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
    return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)


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
    return np.clip((y - centre) / span + 0.5, 0.0, 1.0)


# -- clusters -------------------------------------------------------------------------------------


def _regions(y: np.ndarray, k: int) -> np.ndarray:
    """``k`` clusters of map positions: Ward's agglomerative clustering over the graph of each
    point's 10 nearest points on the map. Clusters are contiguous regions that follow the gaps
    between the map's islands (KMeans cells would cut across them), and as t-SNE keeps
    neighbours together, they are coherent in meaning too. Deterministic."""
    n = len(y)
    if k <= 1 or n <= 2:
        return np.zeros(n, dtype=np.int64) if k <= 1 else np.arange(n, dtype=np.int64)
    if k >= n:
        return np.arange(n, dtype=np.int64)
    import warnings

    from sklearn.cluster import AgglomerativeClustering
    from sklearn.neighbors import kneighbors_graph

    graph = kneighbors_graph(y, min(10, n - 1), include_self=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "the graph has N components": joined, as wanted
        ward = AgglomerativeClustering(n_clusters=k, linkage="ward", connectivity=graph)
        return ward.fit_predict(y).astype(np.int64)


def _renumber(labels: np.ndarray) -> np.ndarray:
    """Clusters numbered 0.. by decreasing size (ties: by first appearance); empty ones dropped."""
    values, first, counts = np.unique(labels, return_index=True, return_counts=True)
    order = np.lexsort((first, -counts))
    mapping = np.empty(values.max() + 1, dtype=np.int64)
    mapping[values[order]] = np.arange(len(values))
    return mapping[labels]


def _label_anchor(pts: np.ndarray) -> tuple[float, float]:
    """The centre of a cluster's densest part: a trimmed mean shifted towards where most of its
    points are, so a cluster split in two islands gets its label on the larger one."""
    centre = np.median(pts, axis=0)
    if len(pts) < 4:
        return float(centre[0]), float(centre[1])
    for _ in range(8):
        d = np.linalg.norm(pts - centre, axis=1)
        near = pts[d <= np.quantile(d, 0.5)]
        new = near.mean(axis=0)
        if np.allclose(new, centre, atol=1e-5):
            break
        centre = new
    return float(centre[0]), float(centre[1])


# -- labels ---------------------------------------------------------------------------------------

# Words of arXiv abstracts that say nothing about the topic.
BOILERPLATE = frozenset(
    [
        "paper",
        "papers",
        "propose",
        "proposed",
        "proposes",
        "proposing",
        "method",
        "methods",
        "methodology",
        "result",
        "results",
        "approach",
        "approaches",
        "model",
        "models",
        "modeling",
        "modelling",
        "show",
        "shows",
        "shown",
        "showing",
        "based",
        "using",
        "use",
        "used",
        "uses",
        "novel",
        "new",
        "existing",
        "performance",
        "framework",
        "frameworks",
        "task",
        "tasks",
        "work",
        "works",
        "study",
        "studies",
        "demonstrate",
        "demonstrates",
        "demonstrated",
        "experiment",
        "experiments",
        "experimental",
        "state-of-the-art",
        "sota",
        "art",
        "achieve",
        "achieves",
        "achieved",
        "achieving",
        "significantly",
        "significant",
        "improve",
        "improves",
        "improved",
        "improving",
        "improvement",
        "improvements",
        "effective",
        "effectively",
        "effectiveness",
        "efficient",
        "efficiently",
        "introduce",
        "introduces",
        "introduced",
        "present",
        "presents",
        "presented",
        "address",
        "addresses",
        "problem",
        "problems",
        "challenge",
        "challenges",
        "challenging",
        "extensive",
        "approach",
        "also",
        "however",
        "furthermore",
        "moreover",
        "additionally",
        "specifically",
        "particular",
        "particularly",
        "key",
        "various",
        "different",
        "recent",
        "recently",
        "well",
        "available",
        "code",
        "publicly",
        "https",
        "http",
        "github",
        "com",
        "www",
        "io",
        "org",
        "html",
        "project",
        "page",
        "et",
        "al",
        "arxiv",
        "first",
        "second",
        "third",
        "one",
        "two",
        "three",
        "four",
        "five",
        "via",
        "within",
        "without",
        "across",
        "may",
        "can",
        "could",
        "would",
        "also",
        "including",
        "include",
        "includes",
        "including",
        "enable",
        "enables",
        "enabling",
        "leverage",
        "leverages",
        "leveraging",
        "outperform",
        "outperforms",
        "outperforming",
        "superior",
        "compared",
        "comparison",
        "comparable",
        "better",
        "best",
        "strong",
        "stronger",
        "robust",
        "robustness",
        "high",
        "higher",
        "low",
        "lower",
        "large",
        "larger",
        "small",
        "smaller",
        "simple",
        "simply",
        "key",
        "crucial",
        "important",
        "remains",
        "remain",
        "limited",
        "limitation",
        "limitations",
        "lack",
        "lacks",
        "despite",
        "due",
        "often",
        "typically",
        "usually",
        "while",
        "thus",
        "therefore",
        "hence",
        "given",
        "make",
        "makes",
        "making",
        "provide",
        "provides",
        "providing",
        "allows",
        "allow",
        "allowing",
        "able",
        "ability",
        "capability",
        "capabilities",
        "capable",
        "potential",
        "specific",
        "general",
        "generally",
        "overall",
        "whereas",
        "toward",
        "towards",
        "etc",
        "i.e",
        "e.g",
        "ie",
        "eg",
        "s",
        "t",
        "benchmark",
        "benchmarks",
        "dataset",
        "datasets",
        "evaluation",
        "evaluate",
        "evaluated",
        "evaluations",
        "analysis",
        "analyze",
        "analyzed",
        "conduct",
        "conducted",
        "comprehensive",
        "terms",
        "find",
        "findings",
        "finding",
        "demonstrating",
        "introducing",
        "designed",
        "design",
        "designs",
        "develop",
        "developed",
        "development",
        "aim",
        "aims",
        "goal",
        "goals",
        "process",
        "processes",
        "level",
        "levels",
        "time",
        "times",
        "way",
        "ways",
        "number",
        "numbers",
        "set",
        "sets",
        "wide",
        "widely",
        "range",
        "ranging",
        "multiple",
        "several",
        "many",
        "much",
        "more",
        "most",
        "less",
        "least",
        "further",
        "significantly",
        "substantial",
        "substantially",
        "consistently",
        "consistent",
        "notably",
        "notable",
        "remarkable",
        "competitive",
        "promising",
        "effectively",
        "accuracy",
        "accurate",
        "accurately",
        "extensive",
        "extensively",
        "evaluate",
    ]
)


# Words that may end a bigram though they are boilerplate alone ("diffusion models").
HEADS = frozenset(
    ["model", "models", "network", "networks", "system", "systems", "learning", "data"]
)

# words (hyphenated ones whole), and runs of anything else, which break phrases:
# "reinforcement learning (RL)" gives no "learning rl"
_TOKEN = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*|[^\sa-z0-9]+")
_NOISE = re.compile(r"https?://\S+|www\.\S+|\$[^$]*\$|\\[a-zA-Z]+")
_TEXTS_PER_CLUSTER = 3000
_TEXTS_IN_ALL = 16_000
_TERMS = 8


def _stop_words() -> frozenset[str]:
    from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

    return frozenset(ENGLISH_STOP_WORDS) | BOILERPLATE


def _analyzer() -> Callable[[str], list[str]]:
    """Text to its distinct terms: content words, and bigrams of adjacent content words (a stop
    word, punctuation or any other character between two words breaks the pair)."""
    stop = _stop_words()
    kinds: dict[
        str, int
    ] = {}  # 0 not a word, 1 stop word, 2 stop word that may end a bigram, 3 content

    def kind(token: str) -> int:
        first = token[0]
        if not ("a" <= first <= "z" or "0" <= first <= "9"):
            found = 0
        elif len(token) < 2 or not any("a" <= ch <= "z" for ch in token):
            found = 1
        elif token in stop:
            found = 2 if token in HEADS else 1
        else:
            found = 3
        kinds[token] = found
        return found

    def analyze(text: str) -> list[str]:
        terms: set[str] = set()
        prev = None
        for token in _TOKEN.findall(_NOISE.sub(" ", text or "").lower()):
            found = kinds.get(token)
            if found is None:
                found = kind(token)
            if found == 3:
                terms.add(token)
                if prev is not None:
                    terms.add(f"{prev} {token}")
                prev = token
            else:
                if found == 2 and prev is not None:
                    terms.add(f"{prev} {token}")
                prev = None
        return list(terms)

    return analyze


def _cluster_terms(
    texts: Sequence[str], labels: np.ndarray, k: int, rng: np.random.Generator
) -> list[tuple[list[str], list[str]]]:
    """For each cluster: (its most distinctive terms, the 2-3 of them that make its label).

    c-TF-IDF on document frequencies: a term scores high when a good share of the cluster's
    papers use it and a much smaller share of the other papers do."""
    import scipy.sparse as sp
    from sklearn.feature_extraction.text import CountVectorizer

    per_cluster = int(min(_TEXTS_PER_CLUSTER, max(200, _TEXTS_IN_ALL // max(k, 1))))
    chosen: list[np.ndarray] = []
    for c in range(k):
        members = np.flatnonzero(labels == c)
        if len(members) > per_cluster:
            members = np.sort(rng.choice(members, size=per_cluster, replace=False))
        chosen.append(members)
    rows = np.concatenate(chosen)
    row_labels = np.concatenate([np.full(len(m), c) for c, m in enumerate(chosen)])
    docs = [texts[i] or "" for i in rows]
    fallback = [([f"topic {c + 1}"], [f"topic {c + 1}"]) for c in range(k)]
    vectorizer = CountVectorizer(
        analyzer=_analyzer(), binary=True, min_df=1 if len(docs) < 500 else 2, dtype=np.float32
    )
    try:
        counts = vectorizer.fit_transform(docs)
    except ValueError:  # no usable word at all (empty texts, only stop words)
        return fallback
    vocab = vectorizer.get_feature_names_out()
    onehot = sp.csr_matrix(
        (np.ones(len(rows), dtype=np.float32), (row_labels, np.arange(len(rows)))),
        shape=(k, len(rows)),
    )
    df = np.asarray((onehot @ counts).todense(), dtype=np.float64)  # k x terms
    sizes = np.array([len(m) for m in chosen], dtype=np.float64)
    everyone = sizes.sum()
    share = df / np.maximum(sizes, 1.0)[:, None]
    others = (df.sum(axis=0)[None, :] - df) / np.maximum(everyone - sizes, 1.0)[:, None]
    # the share in the clusters that use it most (the upper quartile of the clusters' shares)
    # counts too, so a term common to a whole family of clusters names none of them
    rival = np.quantile(share, 0.75, axis=0)[None, :] if k > 3 else others
    score = np.sqrt(share) * np.log1p(share / (0.5 * others + 0.5 * rival + 1.0 / everyone))
    bigram = np.array([" " in t for t in vocab])
    score[:, bigram] *= 1.25  # a phrase names a topic better than either of its words
    # a term must be used by a fair share of the cluster's papers to name it
    score[(df < np.minimum(3, np.maximum(1, sizes // 5))[:, None]) | (share < 0.04)] = 0.0

    result: dict[int, tuple[list[str], list[str]]] = {}
    taken: set[str] = set()
    used: Counter[str] = Counter()
    for c in np.argsort(-sizes, kind="stable"):
        c = int(c)
        best = [int(j) for j in np.argsort(-score[c], kind="stable")[:300] if score[c, j] > 0]
        cluster_docs = [docs[i] for i in np.flatnonzero(row_labels == c)]
        picked = _pick_terms([str(vocab[j]) for j in best], cluster_docs, _TERMS)
        if not picked:
            result[c] = fallback[c]
            continue
        picked = _display_forms(picked, cluster_docs)
        label = _distinct_label(picked, taken, used)
        taken.add(", ".join(label).lower())
        used.update(t.lower() for t in label[1:])
        used[label[0].lower() + " (first)"] += 1
        picked = label + [t for t in picked if t not in label]
        result[c] = (picked, label)
    return [result[c] for c in range(k)]


def _pick_terms(candidates: list[str], docs: list[str], count: int) -> list[str]:
    """The best terms, without near-duplicates: a plural of a picked word, a word of a picked
    phrase, a phrase sharing a word with a picked one (two chained bigrams become one trigram
    when the cluster's texts use it: "3d gaussian" + "gaussian splatting")."""
    picked: list[str] = []
    lowered: list[str] | None = None
    for term in candidates:
        words = term.split()
        roots = _roots(words)
        clash = [i for i, p in enumerate(picked) if _related(roots, words, p)]
        if not clash:
            picked.append(term)
        elif len(clash) == 1 and len(words) == 2:
            i = clash[0]
            old = picked[i].split()
            if len(old) == 1:
                picked[i] = term  # the phrase is more specific than its word
            elif len(old) == 2 and (old[1] == words[0] or old[0] == words[1]):
                phrase = (
                    f"{old[0]} {old[1]} {words[1]}"
                    if old[1] == words[0]
                    else f"{words[0]} {old[0]} {old[1]}"
                )
                if lowered is None:
                    lowered = [_NOISE.sub(" ", d).lower() for d in docs]
                pattern = re.compile(r"\b" + re.escape(phrase).replace(r"\ ", r"\s+") + r"\b")
                uses = sum(1 for d in lowered if pattern.search(d))
                if uses >= 0.25 * len(docs) or uses >= 0.5 * sum(
                    1 for d in lowered if old[0] in d and old[1] in d
                ):
                    picked[i] = phrase
        if len(picked) == count:
            break
    return list(dict.fromkeys(picked))


def _related(roots: set[str], words: list[str], other: str) -> bool:
    """Whether a term repeats a word of ``other``, or is (or contains) its acronym, or the
    reverse: "RAG systems" and "retrieval-augmented generation", "LLMs" and "language models"."""
    other_words = other.split()
    other_roots = _roots(other_words)
    if _roots(words) & other_roots:
        return True
    mine = roots | {w.lower() for w in words}
    theirs = other_roots | {w.lower() for w in other_words}
    return any(_abbreviates(r, other_words) for r in mine) or any(
        _abbreviates(r, words) for r in theirs
    )


def _roots(words: list[str]) -> set[str]:
    return {_root(part) for w in words for part in w.split("-") if part}


def _abbreviates(word: str, phrase: list[str]) -> bool:
    parts = [p for w in phrase for p in w.split("-") if p]
    if len(parts) < 2 or len(word) < 2:
        return False
    initials = "".join(p if p[0].isdigit() else p[0] for p in parts)
    return word == initials or (word.endswith(initials) and len(word) - len(initials) == 1)


def _root(word: str) -> str:
    for suffix, repl in (("ies", "y"), ("sses", "ss"), ("es", "e"), ("s", "")):
        if word.endswith(suffix) and len(word) > len(suffix) + 2 and not word.endswith("ss"):
            return word[: -len(suffix)] + repl
    return word


def _display_forms(terms: list[str], docs: list[str]) -> list[str]:
    """Each term as the papers usually write it when that has capitals ("LLMs", "3D", "NeRF",
    "Gaussian splatting"), else in lower case."""
    if not terms:
        return []
    alternatives = sorted(terms, key=len, reverse=True)
    pattern = re.compile(
        r"(?<![\w-])(?:"
        + "|".join(re.escape(t).replace(r"\ ", r"\s+") for t in alternatives)
        + r")(?![\w-])",
        re.IGNORECASE,
    )
    forms: dict[str, Counter[str]] = {t: Counter() for t in terms}
    for found in pattern.findall("\n".join(docs[:400])):
        form = " ".join(found.split())
        if form.lower() in forms:
            forms[form.lower()][form] += 1
    return [_display_form(t, forms[t]) for t in terms]


def _display_form(term: str, forms: Counter[str]) -> str:
    if not forms:
        return term
    total = sum(forms.values())
    form, seen = forms.most_common(1)[0]
    if form == term or seen < 0.5 * total:
        return term
    # keep capitals that belong to the word ("LLMs", "NeRF", "3D"), and title case only when
    # the papers nearly always write it so ("Gaussian"), not for a title's or sentence's sake
    always = seen >= 0.8 * total
    return re.sub(
        r"[^\s-]+",
        lambda w: w[0] if always or any(ch.isupper() for ch in w[0][1:]) else w[0].lower(),
        form,
    )


def _distinct_label(terms: list[str], taken: set[str], used: Counter[str]) -> list[str]:
    """2 terms for the label (3 when short), unlike the labels already given: a term may lead at
    most two labels, and appear after the lead in no other label, while there are other terms."""

    def free(term: str, lead: bool) -> bool:
        key = term.lower()
        if lead:
            return used[key + " (first)"] < 2 and used[key] == 0
        return used[key] == 0 and used[key + " (first)"] == 0

    lead = next((t for t in terms if free(t, True)), terms[0])
    rest = [t for t in terms if t != lead and free(t, False)]
    rest += [t for t in terms if t != lead and t not in rest]  # when nothing else is left
    size = 3 if len(rest) >= 2 and len(lead) + len(rest[0]) + len(rest[1]) <= 26 else 2
    label = [lead, *rest[: size - 1]]
    if ", ".join(label).lower() not in taken:
        return label
    for j in range(size - 1, len(rest)):
        candidate = [lead, *rest[: size - 2], rest[j]]
        if ", ".join(candidate).lower() not in taken:
            return candidate
    label = [lead, *rest]
    number = 2
    while ", ".join(label).lower() in taken:  # nothing tells them apart: number them
        label = [lead, *rest, f"({number})"] if rest or lead else [f"({number})"]
        number += 1
    return label


# -- storing --------------------------------------------------------------------------------------


def to_json(m: LiteratureMap) -> dict:
    """A compact JSON-ready dict: the points as parallel arrays, coordinates to 4 decimals."""
    return {
        "version": FORMAT_VERSION,
        "method": m.method,
        "params": dict(m.params),
        "ids": [p.id for p in m.points],
        "x": [round(p.x, 4) for p in m.points],
        "y": [round(p.y, 4) for p in m.points],
        "cluster": [p.cluster for p in m.points],
        "clusters": [
            {
                "id": c.id,
                "label": c.label,
                "terms": list(c.terms),
                "size": c.size,
                "x": round(c.x, 4),
                "y": round(c.y, 4),
            }
            for c in m.clusters
        ],
    }


def from_json(d: dict) -> LiteratureMap:
    """The map that :func:`to_json` stored."""
    version = d.get("version")
    if version != FORMAT_VERSION:
        raise ValueError(f"unsupported literature map format version {version!r}")
    ids, xs, ys, cs = d["ids"], d["x"], d["y"], d["cluster"]
    if not len(ids) == len(xs) == len(ys) == len(cs):
        raise ValueError("literature map arrays ids, x, y, cluster differ in length")
    points = [
        MapPoint(id=str(i), x=float(x), y=float(y), cluster=int(c))
        for i, x, y, c in zip(ids, xs, ys, cs, strict=True)
    ]
    clusters = [
        MapCluster(
            id=int(c["id"]),
            label=str(c["label"]),
            terms=[str(t) for t in c["terms"]],
            size=int(c["size"]),
            x=float(c["x"]),
            y=float(c["y"]),
        )
        for c in d["clusters"]
    ]
    return LiteratureMap(points, clusters, str(d["method"]), dict(d["params"]))


def highlight(m: LiteratureMap, ids: Iterable[str]) -> list[MapPoint]:
    """The points of these papers, in the order asked, each once; ids not on the map are skipped."""
    out, seen = [], set()
    for paper_id in ids:
        if paper_id in seen:
            continue
        seen.add(paper_id)
        i = m.index_of(paper_id)
        if i is not None:
            out.append(m.points[i])
    return out


# -- drawing --------------------------------------------------------------------------------------

# Paul Tol's colour-blind-safe qualitative colours: "muted", then three of "light".
PALETTE = (
    "#CC6677", "#332288", "#DDCC77", "#117733", "#88CCEE", "#882255",
    "#44AA99", "#999933", "#AA4499", "#EE8866", "#77AADD", "#BBCC33",
)  # fmt: skip
_BACKGROUND = "#FBFAF7"
_INK = "#2B2B2B"
_FONT = "Inter, 'Helvetica Neue', Helvetica, Arial, 'DejaVu Sans', sans-serif"


def render_svg(
    m: LiteratureMap,
    *,
    highlighted: Iterable[str] = (),
    width: int = 1200,
    height: int = 800,
    max_points: int = 20000,
) -> str:
    """A static SVG picture of the map, self-contained: one circle per drawn point coloured by
    cluster (at most ``max_points`` of them, a fixed sample when there are more), the
    ``highlighted`` papers on top, larger and outlined, and each cluster's label at its centre."""
    width, height = max(int(width), 100), max(int(height), 100)
    n = len(m.points)
    marked = highlight(m, highlighted)
    if n > max_points:
        keep = np.sort(np.random.default_rng(0).choice(n, size=max(max_points, 0), replace=False))
        drawn = [m.points[i] for i in keep]
    else:
        drawn = list(m.points)
    xs = np.array([p.x for p in m.points] or [0.5])
    ys = np.array([p.y for p in m.points] or [0.5])
    margin = 28.0
    x0, x1, y0, y1 = xs.min(), xs.max(), ys.min(), ys.max()
    span_x, span_y = max(x1 - x0, 1e-9), max(y1 - y0, 1e-9)
    scale = min((width - 2 * margin) / span_x, (height - 2 * margin - 18) / span_y)
    if not np.isfinite(scale) or scale > 1e6:
        scale = 0.0
    off_x = (width - scale * span_x) / 2
    off_y = (height - 18 - scale * span_y) / 2

    def sx(x: float) -> float:
        return off_x + (x - x0) * scale

    def sy(y: float) -> float:
        return off_y + (y1 - y) * scale

    colours = _cluster_colours(m, drawn)
    # points cover about a sixth of the canvas together, whatever their number
    radius = float(np.clip(math.sqrt(width * height / 6 / math.pi / max(len(drawn), 1)), 0.8, 3.5))
    opacity = 0.3 if marked else 0.8

    out: list[str] = []
    add = out.append
    add('<?xml version="1.0" encoding="UTF-8"?>')
    title = f"Map of {n:,} papers in {len(m.clusters)} topics"
    add(
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" aria-label="{_esc(title)}">'
    )
    add(f"<title>{_esc(title)}</title>")
    add(f'<rect width="{width}" height="{height}" fill="{_BACKGROUND}"/>')
    by_cluster: dict[int, list[MapPoint]] = {}
    for p in drawn:
        by_cluster.setdefault(p.cluster, []).append(p)
    add(f'<g class="points" fill-opacity="{opacity}">')
    for c in sorted(by_cluster):
        add(f'<g fill="{colours.get(c, "#888888")}">')
        add("".join(
            f'<circle cx="{sx(p.x):.1f}" cy="{sy(p.y):.1f}" r="{radius:.2f}"/>'
            for p in by_cluster[c]
        ))  # fmt: skip
        add("</g>")
    add("</g>")
    if marked:
        big = float(np.clip(radius * 2.2, 3.5, 6.5))
        add(f'<g class="highlighted" stroke="{_INK}" stroke-width="1.2">')
        for p in marked:
            add(
                f'<circle cx="{sx(p.x):.1f}" cy="{sy(p.y):.1f}" r="{big:.2f}" '
                f'fill="{colours.get(p.cluster, "#888888")}"><title>{_esc(p.id)}</title></circle>'
            )
        add("</g>")
    # labels on top, a little transparent when highlights may lie beneath them
    add(_labels_svg(m, colours, sx, sy, width, height, opacity=0.82 if marked else 1.0))
    caption = f"{n:,} papers \u00b7 {len(m.clusters)} topics"
    if marked:
        caption += f" \u00b7 {len(marked):,} highlighted"
    add(
        f'<text x="{margin:.0f}" y="{height - 12}" font-family="{_esc(_FONT)}" font-size="12" '
        f'fill="#77736A">{_esc(caption)}</text>'
    )
    add("</svg>")
    return "\n".join(out)


def _esc(text: str) -> str:
    return _html_escape(str(text), quote=True)


def _cluster_colours(m: LiteratureMap, drawn: list[MapPoint]) -> dict[int, str]:
    """A palette colour per cluster, chosen so that clusters that touch on the map differ."""
    ids = [c.id for c in m.clusters] or sorted({p.cluster for p in drawn})
    if not ids:
        return {}
    position = {c: i for i, c in enumerate(ids)}
    k = len(ids)
    contact = np.zeros((k, k))
    if len(drawn) > 1 and k > 1:
        from scipy.spatial import cKDTree

        pts = np.array([(p.x, p.y) for p in drawn])
        lab = np.array([position.get(p.cluster, 0) for p in drawn])
        _, nb = cKDTree(pts).query(pts, k=min(8, len(pts)))
        a = np.repeat(lab, nb.shape[1])
        b = lab[nb.ravel()]
        np.add.at(contact, (a, b), 1.0)
        contact = contact + contact.T
        np.fill_diagonal(contact, 0.0)
    # labels close on the map count as touching too, so neighbouring names differ in colour
    for i, ci in enumerate(m.clusters):
        for j, cj in enumerate(m.clusters[:i]):
            if math.hypot(ci.x - cj.x, ci.y - cj.y) < 0.12:
                contact[i, j] += 1.0
                contact[j, i] += 1.0
    order = np.argsort(-contact.sum(axis=1), kind="stable")
    chosen: dict[int, int] = {}
    use = Counter()
    for i in order:
        cost = np.zeros(len(PALETTE))
        for j, col in chosen.items():
            cost[col] += contact[i, j]
        best = min(range(len(PALETTE)), key=lambda col: (cost[col], use[col], col))
        chosen[int(i)] = best
        use[best] += 1
    return {ids[i]: PALETTE[col] for i, col in chosen.items()}


def _darker(colour: str, amount: float = 0.5) -> str:
    r, g, b = (int(colour[i : i + 2], 16) for i in (1, 3, 5))
    return "#{:02X}{:02X}{:02X}".format(*(int(v * (1 - amount)) for v in (r, g, b)))


def _label_lines(label: str) -> list[str]:
    """A label's terms on at most two lines: the first term, then the others."""
    terms = [t.strip() for t in label.split(", ") if t.strip()] or [label]
    lines = [terms[0]]
    for term in terms[1:]:
        if len(lines) == 1:
            lines.append(term)
        else:
            lines[-1] += ", " + term
    return lines


def _labels_svg(
    m: LiteratureMap,
    colours: dict[int, str],
    sx: Callable[[float], float],
    sy: Callable[[float], float],
    width: int,
    height: int,
    opacity: float = 1.0,
) -> str:
    """The cluster labels, biggest clusters first, each nudged off the labels already placed."""
    if not m.clusters:
        return ""
    biggest = max(c.size for c in m.clusters) or 1
    base = min(width, height) / 800
    placed: list[tuple[float, float, float, float]] = []
    parts = [
        f'<g class="labels" font-family="{_esc(_FONT)}" font-weight="600" text-anchor="middle" '
        f'stroke="{_BACKGROUND}" stroke-width="3.2" stroke-linejoin="round" '
        f'paint-order="stroke" opacity="{opacity:g}">'
    ]
    for c in sorted(m.clusters, key=lambda c: (-c.size, c.id)):
        lines = _label_lines(c.label)
        cx, cy = sx(c.x), sy(c.y)
        best, best_overlap = (cx, cy, 0.0, 0.0, 0.0), math.inf
        # nudged around its place, and at a smaller size, until it overlaps no other label
        for shrink in (1.0, 0.85, 0.72):
            size = shrink * base * (9.5 + 5.0 * math.sqrt(c.size / biggest))
            w = 0.64 * size * max(len(line) for line in lines)  # a bold sans's average advance
            h = 1.2 * size * len(lines)
            for dx, dy in _NUDGES:
                x = min(max(cx + dx * w, w / 2 + 6), width - w / 2 - 6)
                y = min(max(cy + dy * h, h / 2 + 4), height - 22 - h / 2)
                box = (x - w / 2, y - h / 2, x + w / 2, y + h / 2)
                overlap = sum(_overlap(box, other) for other in placed) / (w * h)
                overlap += 0.002 * math.hypot(x - cx, y - cy) / max(size, 1.0)
                if overlap < best_overlap:
                    best, best_overlap = (x, y, size, w, h), overlap
                if overlap < 0.01:
                    break
            if best_overlap < 0.01:
                break
        x, y, size, w, h = best
        placed.append((x - w / 2, y - h / 2, x + w / 2, y + h / 2))
        top = y - h / 2 + 0.95 * size
        fill = _darker(colours.get(c.id, "#888888"), 0.45)
        spans = "".join(
            f'<tspan x="{x:.1f}" y="{top + i * 1.2 * size:.1f}">{_esc(line)}</tspan>'
            for i, line in enumerate(lines)
        )
        parts.append(
            f'<text font-size="{size:.1f}" fill="{fill}"><title>{_esc(", ".join(c.terms))}'
            f"</title>{spans}</text>"
        )
    parts.append("</g>")
    return "".join(parts)


# where to try a label, in label widths and heights from its place: nearest first
_NUDGES = [(0.0, 0.0)] + [
    (dx * r, dy * r)
    for r in (0.55, 1.0, 1.5, 2.1)
    for dx, dy in (
        (0, -1), (0, 1), (-0.6, 0), (0.6, 0), (-0.5, -1), (0.5, 1), (0.5, -1), (-0.5, 1),
    )
]  # fmt: skip


def _overlap(a: tuple[float, float, float, float], b: tuple[float, float, float, float]) -> float:
    w = min(a[2], b[2]) - max(a[0], b[0])
    h = min(a[3], b[3]) - max(a[1], b[1])
    return w * h if w > 0 and h > 0 else 0.0
