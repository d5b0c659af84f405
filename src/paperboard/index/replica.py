"""This node's indexes as a replica of the shared store, refreshed in the background.

Every app server keeps its own lexical index, vectors and nearest-neighbour index in its
``HOME``; the papers, the vectors and the map live in the database. A :class:`Replica` brings
the local copies up to date from the store's change stamps: the papers changed or deleted since
the last look go into the lexical index, the vectors any node stored are copied (never
embedded here: that is a worker's job), the nearest-neighbour index is rebuilt when vectors
came, and a newer map is copied. A background thread does it every
``PAPERBOARD_REPLICA_REFRESH_SECONDS``; no request ever builds an index.

Processes sharing one ``HOME`` (uvicorn's workers, a worker beside the site) refresh it one at a
time under a file lock; one that finds the lock taken skips its turn, since the holder is doing
the same work. :meth:`Replica.status` says whether the node is ready (its first refresh is done)
and how far behind the store it is, for ``/healthz`` and ``/metrics``.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import UTC, datetime

from paperboard.core.config import Settings
from paperboard.core.files import atomic_write
from paperboard.index.indexer import (
    SearchIndex,
    build_neighbours,
    folder_stamp,
    index_lock,
    sync_facets,
    sync_lexical,
    sync_vectors,
)
from paperboard.index.maps import MAP_FILE
from paperboard.store.papers import PaperStore

log = logging.getLogger(__name__)

FULL_EVERY = 60.0  # seconds: a full pass at least this often, whatever the probe says


@dataclass
class RefreshReport:
    """What one refresh copied into the local indexes."""

    lexical: int = 0
    deleted: int = 0
    vectors: int = 0
    facets: int = 0
    embedded: int = 0  # papers embedded here (a worker's refresh only)
    map: bool = False
    seconds: float = 0.0

    @property
    def changed(self) -> bool:
        return bool(self.lexical or self.deleted or self.vectors or self.facets or self.map)


class Replica:
    """Keeps one node's local indexes in step with the store."""

    def __init__(
        self,
        settings: Settings,
        store: PaperStore,
        index: SearchIndex,
        *,
        claim: Callable[[str], AbstractContextManager[bool]] | None = None,
    ) -> None:
        """With ``claim`` (a worker's), papers without a vector are embedded too, each share of a
        big run by whoever claims it (``sync_vectors``); without, vectors are only copied."""
        self.settings = settings
        self.claim = claim
        self.store = store
        self.index = index
        self.refreshed_at: datetime | None = None  # the end of the last refresh that ran
        self.error: str | None = None  # the last refresh's failure, cleared by a success
        self._last_probe: tuple[object, ...] | None = None
        self._last_full = 0.0  # time.monotonic() of the last full pass
        self._model_warned = False
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # -- refreshing -----------------------------------------------------------------------------

    def _vector_model(self) -> str | None:
        """The model the vectors must come from; None (words only, said once in the log) when
        the embedding model cannot be loaded here."""
        try:
            return str(self.index.vector_model)
        except Exception as error:
            if not self._model_warned:
                log.warning("replica: no embedding model, words only: %s", error)
                self._model_warned = True
            return None

    def _probe(self, model: str | None) -> tuple[object, ...]:
        """What changes when the store has something new for this node (cheap: indexed MAX()s)."""
        store = self.store
        return (
            store.newest_change(),
            store.newest_deletion(),
            store.embeddings.newest(model) if model is not None else None,
            store.shared_files.stamp(MAP_FILE),
        )

    def refresh(self, *, wait: bool = False) -> RefreshReport | None:
        """Copy what changed in the store into the local indexes; None when another process of
        this ``HOME`` is refreshing it now (and ``wait`` is False).

        When nothing in the store has moved since the last refresh, this is four indexed
        look-ups; still, a full pass runs at least every ``FULL_EVERY`` seconds, for a
        transaction that committed after a later one (its change stamp is older than the
        newest one already seen)."""
        started = time.monotonic()
        model = self._vector_model()
        probe = self._probe(model)
        if probe == self._last_probe and started - self._last_full < FULL_EVERY:
            self.refreshed_at = datetime.now(UTC)
            return RefreshReport()
        with index_lock(self.index, wait=wait) as held:
            if not held:
                return None
            report = RefreshReport()
            report.lexical, report.deleted = sync_lexical(self.store, self.index)
            vectors = self.index.folder / "vectors"
            facets = self.index.folder / "facets"
            before = (folder_stamp(vectors), folder_stamp(facets))
            embed = self.claim is not None
            if model is not None:
                report.embedded = sync_vectors(
                    self.store, self.index, embed=embed, claim=self.claim
                )
                if self.settings.facets:
                    sync_facets(self.store, self.index, embed=embed, claim=self.claim)
            after = (folder_stamp(vectors), folder_stamp(facets))
            if after[0] != before[0]:
                report.vectors = 1
            if after[1] != before[1]:
                report.facets = 1
            if after != before:
                build_neighbours(self.index)
            report.map = self._copy_map()
        report.seconds = time.monotonic() - started
        self._last_probe, self._last_full = probe, started
        self.refreshed_at = datetime.now(UTC)
        self.error = None
        if report.changed:
            log.info(
                "replica: %d papers indexed, %d deleted%s%s (%.1fs)",
                report.lexical,
                report.deleted,
                ", vectors copied" if report.vectors or report.facets else "",
                ", map copied" if report.map else "",
                report.seconds,
            )
        return report

    def _copy_map(self) -> bool:
        shared = self.store.shared_files
        stamp = shared.stamp(MAP_FILE)
        state = self.index.state()
        if stamp is None or state.get("map:stored") == stamp.isoformat():
            return False
        found = shared.get(MAP_FILE)
        if found is None:
            return False
        data, stamp = found
        atomic_write(self.index.folder / MAP_FILE, data)
        state = self.index.state()
        state["map:stored"] = stamp.isoformat()
        self.index._save_state(state)
        return True

    # -- in the background ----------------------------------------------------------------------

    def start(self, every: float) -> None:
        """Refresh now and then every ``every`` seconds in a daemon thread, until :meth:`stop`."""
        if self._thread is not None:
            return
        self._stop.clear()
        self._thread = threading.Thread(
            target=self._run, args=(every,), name="paperboard-replica", daemon=True
        )
        self._thread.start()

    def _run(self, every: float) -> None:
        while not self._stop.is_set():
            try:
                self.refresh()
            except Exception as error:  # logged and retried: the site keeps serving what it has
                self.error = f"{type(error).__name__}: {' '.join(str(error).split())[:200]}"
                log.exception("replica refresh failed")
            self._stop.wait(every)

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
            self._thread = None

    # -- status ---------------------------------------------------------------------------------

    def lag_seconds(self, now: datetime | None = None) -> float:
        """How long the oldest change this node's lexical index has not seen has waited (0 when
        it has seen every paper the store holds)."""
        now = now or datetime.now(UTC)
        seen = self.index.state().get("lexical")
        oldest = self.store.oldest_change_after(datetime.fromisoformat(seen) if seen else None)
        if oldest is None:
            return 0.0
        return max(0.0, (now - oldest).total_seconds())

    def status(self, *, background: bool) -> dict[str, object]:
        """Readiness and lag for ``/healthz``: a node that refreshes in the ``background`` is
        ready once its first refresh has finished; one that does not (a single node whose
        worker indexes the shared ``HOME``) is ready at once."""
        lag = self.lag_seconds()
        ready = self.refreshed_at is not None or not background
        status: dict[str, object] = {
            "ready": ready,
            "replica_lag_seconds": round(lag, 1),
            "refreshed_at": self.refreshed_at.isoformat() if self.refreshed_at else None,
        }
        if self.error:
            status["refresh_error"] = self.error
        return status
