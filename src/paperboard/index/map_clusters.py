"""The regions of the map of the literature: step 5 of ``compute_map`` (``index/map_compute.py``),
and where each region's label goes (``label_anchor``).

**Cluster.** Ward's agglomerative clustering of the fit set's map positions over their
10-nearest-neighbour graph; every other paper joins the cluster of its nearest fitted paper
on the map. Clusters are contiguous regions that follow the gaps between the map's islands,
and, as t-SNE keeps neighbours together, coherent in meaning (measured on 12k real embeddings:
69% of a paper's 10 nearest neighbours *in the embedding space* share its cluster, against 63%
for KMeans on the embeddings themselves). ``n_clusters`` defaults to about sqrt(n)/2 between
8 and 60 (fewer for a few dozen papers). Clusters are numbered by decreasing size.
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["assign_clusters", "default_clusters", "label_anchor"]


def default_clusters(n: int) -> int:
    """About sqrt(n)/2 clusters, at least 8 (fewer for a few dozen papers), at most 60."""
    if n < 16:
        return max(1, n // 4)
    return int(min(60, max(min(8, round(math.sqrt(n / 2))), round(math.sqrt(n) / 2))))


def assign_clusters(
    positions: np.ndarray, fit: np.ndarray, rest: np.ndarray, k: int, threads: int
) -> np.ndarray:
    """The cluster of every paper, numbered 0.. by decreasing size: about ``k`` regions of the
    fitted papers' map positions, and each other paper in the region of its nearest fitted
    paper on the map."""
    labels = np.empty(len(positions), dtype=np.int64)
    labels[fit] = _regions(positions[fit], k)
    if len(rest):
        from scipy.spatial import cKDTree

        _, nearest = cKDTree(positions[fit]).query(positions[rest], k=1, workers=threads)
        labels[rest] = labels[fit][nearest]
    return _renumber(labels)


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
        labels: np.ndarray = ward.fit_predict(y).astype(np.int64)
        return labels


def _renumber(labels: np.ndarray) -> np.ndarray:
    """Clusters numbered 0.. by decreasing size (ties: by first appearance); empty ones dropped."""
    values, first, counts = np.unique(labels, return_index=True, return_counts=True)
    order = np.lexsort((first, -counts))
    mapping = np.empty(values.max() + 1, dtype=np.int64)
    mapping[values[order]] = np.arange(len(values))
    renumbered: np.ndarray = mapping[labels]
    return renumbered


def label_anchor(pts: np.ndarray) -> tuple[float, float]:
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
