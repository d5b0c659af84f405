"""What every request works with, made once per app process: settings, the stores, the search
index (opened lazily: a feed page never loads the embedding model; whether dense search can run
is ``index.dense_ready()``, which also picks up vectors a later ``paperboard index`` writes)."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from paperboard.core.config import Settings
from paperboard.index.indexer import SearchIndex
from paperboard.store.community import CommunityStore
from paperboard.store.members import MemberStore
from paperboard.store.papers import PaperStore


@dataclass
class Services:
    settings: Settings
    papers: PaperStore
    index: SearchIndex = field(init=False, repr=False)  # made with the app: one per process
    _index_lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    arxiv_lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    arxiv_client: Any = None

    def __post_init__(self) -> None:
        self.index = SearchIndex(self.settings)

    @classmethod
    def open(cls, settings: Settings) -> Services:
        return cls(settings=settings, papers=PaperStore.open(settings))

    @cached_property
    def members(self) -> MemberStore:
        return MemberStore(self.papers.engine)

    @cached_property
    def community(self) -> CommunityStore:
        return CommunityStore(self.papers.engine)

    @cached_property
    def maps(self) -> MapCache:
        return MapCache()

    def search_index(self) -> SearchIndex:
        """The search index with its lexical part open (opened once, under a lock)."""
        with self._index_lock:
            self.index.lexical  # noqa: B018
        return self.index

    def close(self) -> None:
        if self.arxiv_client is not None:
            self.arxiv_client.close()
        self.papers.close()


class MapCache:
    """The stored map of the literature, re-read when ``paperboard map`` writes a new one."""

    def __init__(self) -> None:
        self._stamp: float | None = None
        self._map = None

    def get(self, index: SearchIndex):  # type: ignore[no-untyped-def]
        from paperboard.index.maps import load_map

        path = index.folder / "map.json"
        try:
            stamp = path.stat().st_mtime
        except OSError:
            return None
        if stamp != self._stamp:
            self._map, self._stamp = load_map(index), stamp
        return self._map
