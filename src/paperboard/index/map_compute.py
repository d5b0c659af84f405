"""The map of the literature: every paper as a point on a 2D map, grouped into labelled regions.

``compute_map`` turns the papers' sentence embeddings (L2-normalized rows) and their texts
(title + abstract) into a :class:`~paperboard.index.map_data.LiteratureMap`. Pure library: no
database, no files (``index/maps.py`` builds the map of the store and keeps it in
``HOME/index/map.json``; ``present/map_svg.py`` draws it).

How the map is made (every step seeded or deterministic: same input and seed, same map):

1. **reduce** the vectors to their first 50 principal components,
2. **lay out** at most ``sample`` of the papers by t-SNE,
3. **place the rest** among their nearest fitted neighbours, and
4. **normalize** the map into [0, 1]^2, its long axis horizontal: ``index/map_layout.py``;
5. **cluster** the map positions into contiguous regions (Ward): ``index/map_clusters.py``;
6. **label** each region with its 2-3 most distinctive terms (class-based TF-IDF over title +
   abstract, no two labels alike): ``index/map_labels.py``.

Cost on two cores (``bench/map_probe.py``): about 30 s and 0.7 GB for the 40,717 papers of
``../shared/data``; about 60 s and 2.6 GB at peak for a million (1.5 GB of it the input vectors).
The result is deterministic for a given input, seed and number of cores.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from paperboard.index.map_clusters import assign_clusters, default_clusters, label_anchor
from paperboard.index.map_data import LiteratureMap, MapCluster, MapPoint
from paperboard.index.map_labels import cluster_terms
from paperboard.index.map_layout import cpu_threads, layout

__all__ = ["compute_map"]


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
    k = default_clusters(n) if n_clusters is None else max(1, min(int(n_clusters), n))
    params: dict[str, Any] = {"n": n, "n_clusters": k, "seed": seed, "sample": sample}
    if n == 0:
        return LiteratureMap([], [], "empty", params)

    rng = np.random.default_rng(seed)
    threads = cpu_threads()
    laid = layout(vectors, rng, seed=seed, sample=sample, threads=threads, say=say)
    params.update(laid.params)
    y = laid.positions

    say(f"grouping into {k} clusters")
    labels = assign_clusters(y, laid.fit, laid.rest, k, threads)
    k = int(labels.max()) + 1

    say("labelling clusters")
    terms = cluster_terms(texts, labels, k, rng)
    y = y.round(4)
    clusters = []
    for c in range(k):
        members = np.flatnonzero(labels == c)
        cx, cy = label_anchor(y[members])
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
    return LiteratureMap(points, clusters, laid.method, params)
