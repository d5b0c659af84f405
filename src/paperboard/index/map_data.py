"""The map of the literature as data: :class:`LiteratureMap` (every paper a :class:`MapPoint`
on a 2D map, grouped into labelled :class:`MapCluster` regions); ``to_json``/``from_json``, its
compact stored form (``HOME/index/map.json``, also shipped to browsers); and ``highlight``, which
finds the points of some papers. ``index/map_compute.py`` makes a map, ``present/map_svg.py``
draws one."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "FORMAT_VERSION",
    "LiteratureMap",
    "MapCluster",
    "MapPoint",
    "from_json",
    "highlight",
    "to_json",
]

FORMAT_VERSION = 1


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
    params: dict[str, Any]
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


def to_json(m: LiteratureMap) -> dict[str, Any]:
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


def from_json(d: dict[str, Any]) -> LiteratureMap:
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
