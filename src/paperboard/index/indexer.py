"""Keep the search indexes in step with the store: ``paperboard index``.

The store tells what changed (``changed_since``) and what was deleted (``deleted_since``); a state
file in the index folder remembers how far each index got. Every run:

1. forgets deleted papers in the lexical index and the vectors;
2. re-indexes lexically every paper changed since the last run (fast: done after every import);
3. embeds every paper whose title or abstract has no vector yet, in chunks written atomically,
   so a killed run redoes nothing already stored (the text hash says what is current), and the
   same for its facet vectors (``facets/``: background, method and result);
4. rebuilds the nearest-neighbour index when the vectors changed.

The marks are moved back by ``OVERLAP`` when read: a transaction that began before the last run
but committed after it is still seen; seeing a paper twice changes nothing.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import logging
import os
import threading
import time
import zlib
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np

from paperboard.core.config import Settings
from paperboard.core.errors import PaperboardError
from paperboard.core.files import atomic_write
from paperboard.index.vectors import (
    NearestNeighbours,
    NeighbourIndexMissing,
    VectorSet,
    VectorStore,
)
from paperboard.store.papers import PaperStore
from paperboard.store.rows import PaperRow

log = logging.getLogger(__name__)

OVERLAP = timedelta(minutes=10)
BULK_PAPERS = 50_000  # a catch-up this big writes with the whole-build writer (fewer segments)
EMBED_CHUNK = 1024
DENSE_CHECK_SECONDS = 2.0  # how often dense_ready looks for vectors written since it loaded
LOCK_FILE = "sync.lock"  # held by whoever brings this HOME's indexes up to date
_ANN_META = "ann.json"  # written by NearestNeighbours after the faiss index it describes

Stamp = tuple[tuple[str, int], ...]  # (file name, mtime_ns) of the files that say what is stored


def text_hash(title: str | None, abstract: str | None) -> str:
    """What an embedding depends on, hashed: a paper is re-embedded only when this changes."""
    return hashlib.blake2b(f"{title or ''}\x1f{abstract or ''}".encode(), digest_size=8).hexdigest()


@dataclass
class IndexReport:
    """What one indexing run did."""

    deleted: int = 0
    lexical: int = 0
    embedded: int = 0
    faceted: int = 0
    vectors: int = 0
    seconds: float = 0.0

    def summary(self) -> str:
        return (
            f"index: {self.lexical:,} papers (re)indexed, {self.embedded:,} embedded, "
            f"{self.faceted:,} faceted, {self.deleted:,} deleted; {self.vectors:,} vectors "
            f"({self.seconds:.1f}s)"
        )


class SearchIndex:
    """The index folder of one deployment: lexical index, vectors, nearest-neighbour index.

    Parts load lazily, so a command that only needs the lexical index never loads the model.
    Whether dense search can run is decided by :meth:`dense_ready` alone.
    """

    def __init__(self, settings: Settings, *, models: Path | None = None) -> None:
        self.folder = settings.home / "index"
        self.models = models or settings.model_cache
        self.max_tokens = settings.embed_max_tokens
        self.folder.mkdir(parents=True, exist_ok=True)
        self._dense_lock = threading.Lock()
        self._dense = False  # the answer of dense_ready until the next look
        self._dense_decided = False  # a first look has been made (until then, callers wait)
        self._dense_stamp: Stamp | None = None  # the vector files at the last look
        self._dense_next_look = 0.0  # time.monotonic() of the next look at the vector files
        self._dense_loaded = False  # vectors were loaded once: a reload never trains an IVF index
        self._dense_awaits_ann = False  # large vectors: reload once their faiss index is stored
        self._facets_lock = threading.Lock()
        self._facets: VectorSet | None = None
        self._facets_stamp: Stamp | None = None
        self._facets_next_look = 0.0

    @cached_property
    def lexical(self):  # type: ignore[no-untyped-def]
        from paperboard.index.shards import open_lexical

        return open_lexical(self.folder / "lexical")

    @cached_property
    def embedder(self):  # type: ignore[no-untyped-def]
        from paperboard.index.embed import Embedder

        return Embedder.load(self.models)

    @property
    def vector_model(self) -> str:
        """What the stored vectors must come from: another model, build or text length gives
        different numbers (loads the model)."""
        return f"{self.embedder.name}/t{self.max_tokens}"

    @cached_property
    def vector_store(self) -> VectorStore:
        return VectorStore(self.folder / "vectors", self.vector_model, self.embedder.dim)

    @cached_property
    def vectors(self) -> VectorSet:
        return self.vector_store.load()

    @cached_property
    def neighbours(self) -> NearestNeighbours:
        return NearestNeighbours(self.vectors, self.folder / "vectors" / "ann.faiss")

    def vectors_rank(self, query: Any, paper_ids: list[str]) -> list[str]:
        """``paper_ids`` that have vectors, most similar to the query vector first."""
        rows = [(pid, self.vectors.row_of[pid]) for pid in paper_ids if pid in self.vectors.row_of]
        if not rows:
            return []
        scores = self.vectors.rows([row for _, row in rows]) @ query
        order = np.argsort(-np.asarray(scores, dtype=np.float32), kind="stable")
        return [rows[int(i)][0] for i in order]

    def refresh(self) -> None:
        """Drop loaded vectors so the next use reads what an indexing run wrote."""
        for name in ("vectors", "neighbours"):
            self.__dict__.pop(name, None)
        self._dense_next_look = 0.0
        self._facets_next_look = 0.0

    # -- facets -----------------------------------------------------------------------------

    @property
    def facet_model(self) -> str:
        """What the stored facet vectors must come from: the model, the sentence length and the
        role tagger's weights (new weights tag sentences differently)."""
        from paperboard.index.facets import SENTENCE_TOKENS, tagger_digest

        return f"{self.embedder.name}/s{SENTENCE_TOKENS}/roles-{tagger_digest()}"

    @cached_property
    def facet_store(self) -> VectorStore:
        """One row per paper: its background, method and result vectors side by side (zeros for
        a facet its abstract lacks)."""
        from paperboard.index.facets import FACETS

        return VectorStore(
            self.folder / "facets", self.facet_model, self.embedder.dim * len(FACETS)
        )

    def facet_set(self) -> VectorSet | None:
        """The stored facet vectors (None when there are none), loaded again at most every
        ``DENSE_CHECK_SECONDS`` when an indexing run has changed them."""
        from paperboard.index.facets import FACETS

        now = time.monotonic()
        with self._facets_lock:
            if now >= self._facets_next_look:
                self._facets_next_look = now + DENSE_CHECK_SECONDS
                stamp = folder_stamp(self.folder / "facets")
                if stamp != self._facets_stamp:
                    self._facets_stamp = stamp
                    self._facets = None
                    if any(name.startswith("chunk-") for name, _ in stamp):
                        try:
                            self._facets = VectorStore(
                                self.folder / "facets",
                                self.facet_model,
                                self.embedder.dim * len(FACETS),
                            ).load()
                        except Exception as error:  # another model's or broken: no facets
                            log.warning("facet search unavailable: %s", error)
            return self._facets

    # -- dense search -----------------------------------------------------------------------

    def dense_ready(self) -> bool:
        """Whether dense search can run now: vectors, model and neighbour index are loaded.

        Without vector chunks on disk this is False at the cost of one directory listing: the model
        is not loaded. Otherwise the first call loads all three; concurrent first calls wait for it
        and load nothing themselves. Then, at most every ``DENSE_CHECK_SECONDS``, one caller looks
        whether an indexing run (in any process) has written, removed or compacted vectors since,
        and loads them again if so while the others go on with the loaded ones. Vectors too many
        for exact search are switched to once the run has stored their faiss index
        (``build_neighbours``): a serving process never trains one after its first load.
        Vectors or a model that cannot be loaded log one warning and make this False (words only)
        until the vector files change."""
        if time.monotonic() < self._dense_next_look:
            return self._dense
        # The first look is waited for; later ones are skipped while another caller makes them.
        if not self._dense_lock.acquire(blocking=not self._dense_decided):
            return self._dense
        try:
            if time.monotonic() >= self._dense_next_look:
                self._look_at_vectors()
                self._dense_decided = True
                self._dense_next_look = time.monotonic() + DENSE_CHECK_SECONDS
            return self._dense
        finally:
            self._dense_lock.release()

    def _vector_stamp(self) -> Stamp:
        """Names and modification times of the chunk lists, removals and faiss index metadata:
        any write to the vectors (append, removal, compaction, a new faiss index) changes it."""
        return folder_stamp(self.folder / "vectors", also=(_ANN_META,))

    def _look_at_vectors(self) -> None:
        """Load the vectors again if their files changed since the last look (under the lock)."""
        stamp = self._vector_stamp()
        if stamp == self._dense_stamp:
            return
        self._dense_stamp = stamp  # taken before loading: a write during the load shows next time
        if not any(name.startswith("chunk-") for name, _ in stamp):
            self._dense = False  # nothing embedded yet, or a rebuild has just reset the vectors
            return
        times = dict(stamp)
        ann = times.pop(_ANN_META, -1)
        if self._dense_loaded and self._dense_awaits_ann and ann < max(times.values()):
            return  # large vectors written since their faiss index: wait for the run to store one
        try:
            # A new VectorStore checks model.json again: a rebuild may have changed the model.
            vectors = VectorStore(
                self.folder / "vectors", self.vector_model, self.embedder.dim
            ).load()
            if len(vectors) == 0:
                self._dense = False
                return
            neighbours = NearestNeighbours(
                vectors, self.folder / "vectors" / "ann.faiss", build=not self._dense_loaded
            )
        except NeighbourIndexMissing:
            self._dense_awaits_ann = True  # keep what is loaded until the run stores the index
            return
        except Exception as error:  # no model files, vectors of another model, broken files
            log.warning("dense search unavailable (words only): %s", error)
            self._dense = False
            return
        # Each attribute is replaced whole, so a search running meanwhile sees old or new ones.
        self.__dict__["vectors"] = vectors
        self.__dict__["neighbours"] = neighbours
        self._dense_loaded = True
        self._dense_awaits_ann = not neighbours.exact
        self._dense = True
        log.info("dense search: %d vectors loaded", len(vectors))

    # -- state ------------------------------------------------------------------------------

    @property
    def _state_path(self) -> Path:
        return self.folder / "state.json"

    def state(self) -> dict[str, Any]:
        try:
            state: dict[str, Any] = json.loads(self._state_path.read_text())
        except FileNotFoundError:
            return {}
        return state

    def _save_state(self, state: dict[str, Any]) -> None:
        atomic_write(self._state_path, json.dumps(state))


@contextmanager
def index_lock(index: SearchIndex, *, wait: bool) -> Iterator[bool]:
    """Hold the lock on this ``HOME``'s indexes; yields False (nothing held) when ``wait`` is
    False and another process holds it."""
    path = index.folder / LOCK_FILE
    descriptor = os.open(path, os.O_CREAT | os.O_RDWR, 0o600)
    try:
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
        except BlockingIOError:
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(descriptor, fcntl.LOCK_UN)
    finally:
        os.close(descriptor)


def folder_stamp(folder: Path, *, also: tuple[str, ...] = ()) -> Stamp:
    """Names and modification times of a vector folder's chunk lists and removals (and of the
    files named in ``also``)."""
    found: list[tuple[str, int]] = []
    try:
        entries = list(os.scandir(folder))
    except FileNotFoundError:
        return ()
    for entry in entries:
        if (entry.name.startswith("chunk-") and entry.name.endswith(".json")) or (
            entry.name == "removed.json" or entry.name in also
        ):
            try:
                found.append((entry.name, entry.stat().st_mtime_ns))
            except FileNotFoundError:  # compacted away since the listing
                continue
    return tuple(sorted(found))


def _mark(state: dict[str, Any], name: str) -> datetime | None:
    value = state.get(name)
    return datetime.fromisoformat(value) - OVERLAP if value else None


def sync_lexical(
    store: PaperStore, index: SearchIndex, *, rebuild: bool = False, upgrade: bool = True
) -> tuple[int, int]:
    """Bring the lexical index up to date; returns (papers indexed, papers deleted).

    An index left by a paperboard with another layout is rebuilt from the store (nothing is lost:
    every paper is there); ``upgrade=False`` raises IndexVersionError instead, for callers that
    must stay quick (a web request)."""
    from paperboard.index.lexical import IndexVersionError, change_stamp
    from paperboard.index.shards import open_lexical, shard_count, shards_for

    if not rebuild and upgrade:
        try:
            index.lexical  # noqa: B018 -- opening it checks the layout
        except IndexVersionError:
            rebuild = True
    state = {} if rebuild else index.state()
    since = _mark(state, "lexical")
    if since is None:  # a whole build: the shards are chosen for the store's size
        shards = shards_for(store.count())
        folder = index.folder / "lexical"
        if rebuild or shards != shard_count(folder):
            if "lexical" in index.__dict__:
                index.lexical.close()
            index.__dict__["lexical"] = open_lexical(folder, rebuild=True, shards=shards)
    last = since + OVERLAP if since is not None else None  # the newest change indexed last time
    if last is None or store.count_changed_since(last) >= BULK_PAPERS:
        index.lexical.bulk()
    deleted = store.deleted_since(since)
    if deleted:
        index.lexical.delete(deleted)
    newest = state.get("lexical")
    count = 0
    for batch in store.changed_since(since):
        newest = max(newest or "", batch[-1]["changed_at"].isoformat())
        if last is not None:  # the overlap: skip what is indexed as it is now (after a big import:
            # the whole import, which would otherwise be indexed twice)
            seen = [row["id"] for row in batch if row["changed_at"] <= last]
            known = index.lexical.indexed_changes(seen) if seen else {}
            batch = [
                row for row in batch if known.get(row["id"]) != change_stamp(row["changed_at"])
            ]
        if batch:
            count += index.lexical.upsert(batch)
    index.lexical.commit()
    state = index.state()
    state["lexical"] = newest
    index._save_state(state)
    return count, len(deleted)


def sync_vectors(
    store: PaperStore,
    index: SearchIndex,
    *,
    rebuild: bool = False,
    progress: Callable[[int, int], None] | None = None,
    embed: bool = True,
    claim: Callable[[str], AbstractContextManager[bool]] | None = None,
) -> int:
    """Copy the vectors other nodes stored and embed what has none yet (not with
    ``embed=False``: a replica only copies); returns the number of papers embedded."""
    from paperboard.index.embed import paper_text

    if rebuild:  # also the way out of vectors made by another model or build
        index.__dict__["vector_store"] = VectorStore(
            index.folder / "vectors", index.vector_model, index.embedder.dim, reset=True
        )
        _forget_mark(index, "vectors")

    def embed_rows(rows: list[PaperRow]) -> Any:
        texts = [paper_text(row["title"], row["abstract"]) for row in rows]
        return index.embedder.embed(texts, max_length=index.max_tokens)

    before = folder_stamp(index.folder / "vectors")
    done = _embed_changed(
        store,
        index,
        index.vector_store,
        "vectors",
        embed_rows if embed else None,
        progress,
        claim,
    )
    if done or rebuild or folder_stamp(index.folder / "vectors") != before:
        index.refresh()
    return done


def sync_facets(
    store: PaperStore,
    index: SearchIndex,
    *,
    rebuild: bool = False,
    progress: Callable[[int, int], None] | None = None,
    embed: bool = True,
    claim: Callable[[str], AbstractContextManager[bool]] | None = None,
) -> int:
    """Tag and embed the abstract sentences of every paper whose facet vectors are missing or
    out of date (copied from the store where another node made them; with ``embed=False`` only
    copied); returns the number of papers done. Resumable like :func:`sync_vectors`."""
    import numpy as np

    from paperboard.index.facets import FACETS, facet_vectors

    if rebuild or _facets_stale(index):
        index.__dict__["facet_store"] = VectorStore(
            index.folder / "facets",
            index.facet_model,
            index.embedder.dim * len(FACETS),
            reset=True,
        )
        _forget_mark(index, "facets")
    dim = index.embedder.dim

    def embed_rows(rows: list[PaperRow]) -> Any:
        found = facet_vectors(index.embedder, [row["abstract"] for row in rows])
        matrix = np.zeros((len(rows), dim * len(FACETS)), dtype=np.float32)
        for i, facets in enumerate(found):
            for f, facet in enumerate(FACETS):
                if facet in facets:
                    matrix[i, f * dim : (f + 1) * dim] = facets[facet]
        return matrix

    return _embed_changed(
        store,
        index,
        index.facet_store,
        "facets",
        embed_rows if embed else None,
        progress,
        claim,
    )


def _forget_mark(index: SearchIndex, name: str) -> None:
    state = index.state()
    state.pop(name, None)
    state.pop(f"{name}:stored", None)
    index._save_state(state)


def _embed_changed(
    store: PaperStore,
    index: SearchIndex,
    vectors: VectorStore,
    mark: str,
    embed: Callable[[list[PaperRow]], Any] | None,
    progress: Callable[[int, int], None] | None,
    claim: Callable[[str], AbstractContextManager[bool]] | None = None,
) -> int:
    """Bring the local ``vectors`` up to date with the store, embedding only what no node has.

    1. Forget deleted papers (here and in the store's shared vectors).
    2. Copy the vectors any node stored since the last look (the ``MARK:stored`` mark).
    3. Every paper changed since the ``mark`` whose text hash has no local row yet: take its
       vector from the store when one is there for that text, else ``embed`` it (a chunk of rows
       at a time, stored in the database first, then locally). With ``embed=None`` (an app
       server's replica) this step is skipped: step 2 already copied every vector there is.

    With ``claim``, a big run is cut into shares, each embedded only by the caller that claims
    it (``claim(name)`` yields whether it got it): workers on several nodes split a backfill.

    Moves the marks on and returns how many papers were embedded (by this call)."""
    shared = store.embeddings
    state = index.state()
    since = _mark(state, mark)
    newest_change = store.newest_change()  # read before the deletions: the overlap covers both
    deleted = store.deleted_since(since)
    if deleted:
        known = vectors.known_hashes()
        vectors.remove([paper_id for paper_id in deleted if paper_id in known])
        if embed is not None:
            shared.delete(deleted)
    _copy_stored(store, index, vectors, f"{mark}:stored")
    if embed is None:
        # A replica has all it can get: every vector any node stored is copied above (a text
        # embedded again is stored again, so it is copied too). No paper needs reading.
        state = index.state()
        if newest_change is not None:
            state[mark] = max(state.get(mark) or "", newest_change.isoformat())
        index._save_state(state)
        return 0
    _publish_local(store, vectors)
    known = vectors.known_hashes()
    pending: list[tuple[str, str, PaperRow]] = []
    newest = state.get(mark)
    for batch in store.changed_since(since):
        for row in batch:
            digest = text_hash(row["title"], row["abstract"])
            if known.get(row["id"]) != digest:
                pending.append((row["id"], digest, row))
        newest = max(newest or "", batch[-1]["changed_at"].isoformat())
    done = 0
    waiting = 0  # papers left for another node to embed
    for bucket, items in _buckets(pending, vectors.model, claim):
        with claim(bucket) if claim is not None else nullcontext(True) as mine:
            if not mine:  # another worker embeds this share now: copied from the store later
                waiting += len(items)
                continue
            done_here, waiting_here = _embed_items(
                store, vectors, items, embed, progress, done, len(pending)
            )
        done += done_here
        waiting += waiting_here
    state = index.state()
    if not waiting:  # moved on only once every changed paper has its vector here
        state[mark] = newest
    index._save_state(state)
    return done


def _publish_local(store: PaperStore, vectors: VectorStore) -> int:
    """Store in the database the local vectors it lacks: those an older paperboard made before
    vectors were shared, so other nodes copy them instead of embedding them again. One count
    query when there are none to store; returns how many were stored."""
    import numpy as np

    shared = store.embeddings
    known = vectors.known_hashes()
    if shared.count(vectors.model) >= len(known):
        return 0
    loaded = vectors.load()
    ids = [paper_id for paper_id in known if paper_id in loaded.row_of]
    published = 0
    for start in range(0, len(ids), EMBED_CHUNK):
        part = ids[start : start + EMBED_CHUNK]
        there = shared.get(vectors.model, part)
        rows = [
            (
                paper_id,
                known[paper_id],
                np.asarray(loaded.vector(paper_id), dtype=np.float16).tobytes(),
            )
            for paper_id in part
            if there.get(paper_id, ("",))[0] != known[paper_id]
        ]
        shared.put(vectors.model, rows)
        published += len(rows)
    if published:
        log.info("stored %d local vectors in the database for other nodes", published)
    return published


EMBED_SHARES = 16
"""A big embedding run is cut into this many shares (by a hash of the paper id); workers on
several nodes each take the shares no other holds, so they split a backfill between them."""


def _buckets(
    pending: list[tuple[str, str, PaperRow]],
    model: str,
    claim: Callable[[str], AbstractContextManager[bool]] | None,
) -> list[tuple[str, list[tuple[str, str, PaperRow]]]]:
    """``pending`` cut into named shares (one share when nobody else could take part)."""
    if claim is None or len(pending) <= EMBED_CHUNK:
        return [(f"embed:{model}:all", pending)] if pending else []
    shares: dict[int, list[tuple[str, str, PaperRow]]] = {}
    for item in pending:
        shares.setdefault(zlib.crc32(item[0].encode()) % EMBED_SHARES, []).append(item)
    start = os.getpid() % EMBED_SHARES  # workers start on different shares
    order = sorted(shares, key=lambda n: (n - start) % EMBED_SHARES)
    return [(f"embed:{model}:{n}", shares[n]) for n in order]


def _embed_items(
    store: PaperStore,
    vectors: VectorStore,
    items: list[tuple[str, str, PaperRow]],
    embed: Callable[[list[PaperRow]], Any] | None,
    progress: Callable[[int, int], None] | None,
    done_before: int,
    total: int,
) -> tuple[int, int]:
    """Give each of ``items`` a local vector: the store's where it has one for that text, else
    a new one (stored in the database first); returns (embedded, left waiting)."""
    import numpy as np

    shared = store.embeddings
    done = waiting = 0
    for start in range(0, len(items), EMBED_CHUNK):
        chunk = items[start : start + EMBED_CHUNK]
        stored = shared.get(vectors.model, [paper_id for paper_id, _, _ in chunk])
        ready = [item for item in chunk if item[0] in stored and stored[item[0]][0] == item[1]]
        if ready:
            matrix = np.stack(
                [np.frombuffer(stored[paper_id][1], dtype=np.float16) for paper_id, _, _ in ready]
            )
            vectors.append([i for i, _, _ in ready], [h for _, h, _ in ready], matrix)
        missing = [item for item in chunk if item not in ready]
        if not missing:
            continue
        if embed is None:
            waiting += len(missing)
            continue
        matrix = np.asarray(embed([row for _, _, row in missing]), dtype=np.float16)
        shared.put(
            vectors.model,
            [(i, h, matrix[n].tobytes()) for n, (i, h, _) in enumerate(missing)],
        )
        vectors.append([i for i, _, _ in missing], [h for _, h, _ in missing], matrix)
        done += len(missing)
        if progress is not None:
            progress(done_before + done, total)
    return done, waiting


def _copy_stored(store: PaperStore, index: SearchIndex, vectors: VectorStore, mark: str) -> int:
    """Append to ``vectors`` the rows the store holds for its model that were stored after
    the ``mark`` (less ``OVERLAP``) and differ from the local ones; returns how many."""
    import numpy as np

    shared = store.embeddings
    state = index.state()
    seen = state.get(mark)
    newest = shared.newest(vectors.model)
    if newest is None or (seen is not None and newest.isoformat() <= seen):
        return 0  # nothing stored since the last look: one indexed MAX() and done
    known = vectors.known_hashes()
    copied = 0
    for batch in shared.stored_since(vectors.model, _mark(state, mark)):
        fresh = [row for row in batch if known.get(row["paper_id"]) != row["text_hash"]]
        if fresh:
            matrix = np.stack([np.frombuffer(row["vector"], dtype=np.float16) for row in fresh])
            if matrix.shape[1] != vectors.dim:
                raise PaperboardError(
                    f"the store's vectors for {vectors.model} have {matrix.shape[1]} dimensions, "
                    f"not {vectors.dim}"
                )
            vectors.append(
                [row["paper_id"] for row in fresh], [row["text_hash"] for row in fresh], matrix
            )
            for row in fresh:
                known[row["paper_id"]] = row["text_hash"]
            copied += len(fresh)
        seen = max(seen or "", batch[-1]["stored_at"].isoformat())
    state = index.state()
    state[mark] = seen
    index._save_state(state)
    return copied


def _facets_stale(index: SearchIndex) -> bool:
    """Whether the stored facet vectors come from another model or tagger (then they are made
    again: unlike the paper vectors, no search depends on them while that happens)."""
    meta = index.folder / "facets" / "model.json"
    if not meta.exists():
        return False
    return bool(json.loads(meta.read_text()).get("model") != index.facet_model)


def build_neighbours(index: SearchIndex) -> int:
    """Compact the vectors into one file (which serving processes then memory-map), load them and
    build (or reuse) the nearest-neighbour index; returns the count."""
    if (index.folder / "facets" / "model.json").exists():
        index.facet_store.compact()
    index.vector_store.compact()
    index.refresh()
    return len(index.neighbours.vectors)
