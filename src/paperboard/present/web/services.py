"""What every request works with, made once per app process: settings, the stores, the search
index (opened lazily: a feed page never loads the embedding model)."""

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
    _index_lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _dense_ready: bool | None = None
    arxiv_lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    arxiv_client: Any = None

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

    @cached_property
    def index(self) -> SearchIndex:
        return SearchIndex(self.settings)

    def has_vectors(self) -> bool:
        """Whether dense search is possible. The first call loads the vectors, the model and
        the neighbour index under a lock, so that concurrent first requests load them once."""
        if self._dense_ready is None:
            with self._index_lock:
                if self._dense_ready is None:
                    try:
                        ready = len(self.index.vectors) > 0
                        if ready:
                            self.index.neighbours  # noqa: B018 - loads it
                            self.index.embedder  # noqa: B018
                    except Exception as error:  # no model files or no vectors yet: words only
                        import logging

                        logging.getLogger(__name__).warning("dense search unavailable: %s", error)
                        ready = False
                    self._dense_ready = ready
        return self._dense_ready

    def search_index(self) -> SearchIndex:
        """The search index with its lexical part open (and dense parts when there are vectors)."""
        self.has_vectors()
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
