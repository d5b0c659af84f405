"""What every request works with, made once per app process: the :class:`Container`'s
settings, stores and search index, plus the site's own parts (the arXiv client submissions use,
the map cache). The search index opens its parts lazily: a feed page never loads the embedding
model; whether dense search can run is ``index.dense_ready()``, which also picks up vectors a
later ``paperboard index`` writes."""

from __future__ import annotations

import threading
from functools import cached_property
from typing import Any

from paperboard.core.config import Settings
from paperboard.index.indexer import SearchIndex
from paperboard.index.map_data import LiteratureMap
from paperboard.index.replica import Replica
from paperboard.present.container import Container
from paperboard.rank.recommend import PoolCache
from paperboard.store.papers import PaperStore
from paperboard.store.rows import CountedPaperRow


class Services(Container):
    """The container of one app process, with the site's own parts."""

    def __init__(self, settings: Settings, papers: PaperStore) -> None:
        super().__init__(settings, papers)
        self.index  # noqa: B018 -- made now, before requests arrive: one per process
        self._index_lock = threading.Lock()
        self.arxiv_lock = threading.Lock()
        self.arxiv_client: Any = None

    @cached_property
    def pools(self) -> PoolCache:
        """The "for you" candidates, shared by every member's picks in this process (rebuilt on
        a thread, so no request waits for a new pool once there is one)."""
        return PoolCache(background=True)

    @cached_property
    def replica(self) -> Replica:
        """This node's indexes kept in step with the store (``paperboard.index.replica``)."""
        return Replica(self.settings, self.papers, self.index)

    @property
    def refreshes_in_background(self) -> bool:
        return self.settings.replica_refresh_seconds > 0

    @cached_property
    def maps(self) -> MapCache:
        return MapCache()

    def search_index(self) -> SearchIndex:
        """The search index with its lexical part open (opened once, under a lock)."""
        with self._index_lock:
            self.index.lexical  # noqa: B018
        return self.index

    def fetch_arxiv(self, arxiv_id: str) -> CountedPaperRow:
        """Fetch one paper from arXiv into the store. One client per process, one request at a
        time: arXiv's pause holds across submissions."""
        from paperboard.present.submitting import fetch_from_arxiv
        from paperboard.sources.http import PoliteClient

        settings = self.settings
        with self.arxiv_lock:
            if self.arxiv_client is None:
                self.arxiv_client = PoliteClient.for_url(settings, settings.arxiv_api_url)
            return fetch_from_arxiv(self, self.arxiv_client, arxiv_id)

    def complete_submission(self, request_id: int) -> None:
        """The background task of a queued submission: fetch its paper and submit it."""
        from paperboard.present.submitting import complete

        complete(self, request_id, self.fetch_arxiv)

    def close(self) -> None:
        if "replica" in self.__dict__:
            self.replica.stop()
        if self.arxiv_client is not None:
            self.arxiv_client.close()
        super().close()


class MapCache:
    """The stored map of the literature, re-read when ``paperboard map`` writes a new one."""

    def __init__(self) -> None:
        self._stamp: float | None = None
        self._map: LiteratureMap | None = None

    def get(self, index: SearchIndex) -> LiteratureMap | None:
        from paperboard.index.maps import load_map

        path = index.folder / "map.json"
        try:
            stamp = path.stat().st_mtime
        except OSError:
            return None
        if stamp != self._stamp:
            self._map, self._stamp = load_map(index), stamp
        return self._map
