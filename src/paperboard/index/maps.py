"""The stored map of the literature: computed from the vectors and texts of every embedded paper,
kept as ``HOME/index/map.json`` for the web pages to draw (``index/map_compute.py`` computes,
``index/map_data.py`` says what is stored), and in the store's shared files, from which every
other node's replica copies it (``index/replica.py``)."""

from __future__ import annotations

import json
from collections.abc import Callable

from paperboard.core.errors import NotFoundError
from paperboard.core.files import atomic_write
from paperboard.index.indexer import SearchIndex
from paperboard.index.map_compute import compute_map
from paperboard.index.map_data import LiteratureMap, from_json, to_json
from paperboard.store.papers import PaperStore

MAP_FILE = "map.json"


def build_map(
    store: PaperStore,
    index: SearchIndex,
    *,
    seed: int = 0,
    progress: Callable[[str], None] | None = None,
) -> LiteratureMap:
    """Compute the map of every paper that has an embedding, and store it."""
    vectors = index.vectors
    rows = store.get_many(vectors.ids)
    keep = [
        i for i, pid in enumerate(vectors.ids) if pid in rows
    ]  # deleted since embedding: left out
    ids = [vectors.ids[i] for i in keep]
    texts = [f"{rows[pid]['title'] or ''}. {rows[pid]['abstract'] or ''}" for pid in ids]
    literature_map = compute_map(ids, vectors.rows(keep), texts, seed=seed, progress=progress)
    data = json.dumps(to_json(literature_map), separators=(",", ":")).encode()
    store.shared_files.put(MAP_FILE, data)
    atomic_write(index.folder / MAP_FILE, data)
    return literature_map


def load_map(index: SearchIndex) -> LiteratureMap:
    """The stored map; NotFoundError when `paperboard map` has not been run."""
    path = index.folder / MAP_FILE
    if not path.exists():
        raise NotFoundError("no map yet: run paperboard map")
    return from_json(json.loads(path.read_text()))
