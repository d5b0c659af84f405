"""Indexes computed once and copied everywhere: embeddings stored in the database by the node
that makes them, copied by every other node's replica (never embedded again), deletions and the
map following; a big embedding run split between workers by share leases. Both engines."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest
from test_search import CORPUS, paper

from paperboard.core.config import Settings
from paperboard.index import indexer
from paperboard.index.indexer import SearchIndex, build_neighbours, sync_lexical, sync_vectors
from paperboard.index.replica import Replica
from paperboard.store.leases import LeaseStore
from paperboard.store.papers import PaperStore


def other_node(settings: Settings, tmp_path: Path, name: str) -> Settings:
    home = tmp_path / name
    home.mkdir()
    return settings.model_copy(update={"home": home})


@pytest.fixture
def first_node(
    store: PaperStore, settings: Settings, model_cache: Path
) -> tuple[PaperStore, SearchIndex]:
    store.write(CORPUS)
    index = SearchIndex(settings, models=model_cache)
    sync_lexical(store, index)
    assert sync_vectors(store, index) == len(CORPUS)
    build_neighbours(index)
    return store, index


def test_a_second_node_copies_the_vectors_and_embeds_nothing(
    first_node: tuple[PaperStore, SearchIndex],
    settings: Settings,
    model_cache: Path,
    tmp_path: Path,
) -> None:
    store, index = first_node
    model = index.vector_model
    assert store.embeddings.count(model) == len(CORPUS)
    second = SearchIndex(other_node(settings, tmp_path, "b"), models=model_cache)
    replica = Replica(settings, store, second)
    assert replica.lag_seconds() > 0
    assert replica.status(background=True)["ready"] is False
    report = replica.refresh(wait=True)
    assert report is not None and report.lexical == len(CORPUS) and report.vectors
    mine, theirs = index.vector_store.load(), second.vector_store.load()
    assert sorted(theirs.ids) == sorted(mine.ids)
    for paper_id in mine.ids:  # the very same float16 numbers
        assert np.array_equal(mine.vector(paper_id), theirs.vector(paper_id))
    assert replica.lag_seconds() == 0 and replica.status(background=True)["ready"] is True
    assert second.dense_ready()
    assert second.lexical.count() == len(CORPUS)
    # Nothing new: a refresh is a probe and copies nothing.
    again = replica.refresh(wait=True)
    assert again is not None and not again.changed


def test_changes_and_deletions_reach_the_other_node(
    first_node: tuple[PaperStore, SearchIndex],
    settings: Settings,
    model_cache: Path,
    tmp_path: Path,
) -> None:
    store, index = first_node
    second = SearchIndex(other_node(settings, tmp_path, "b"), models=model_cache)
    replica = Replica(settings, store, second)
    replica.refresh(wait=True)
    gone = CORPUS[0].id
    store.delete(gone)
    changed = paper("speech", 1, abstract="New words on lattice cryptography.", version=2)
    store.write([changed])
    # The replica waits for a worker to embed the changed text: it never embeds.
    replica._last_probe = None
    replica.refresh(wait=True)
    assert gone not in second.lexical and changed.id in second.lexical
    assert second.vector_store.known_hashes().get(changed.id) != indexer.text_hash(
        changed.title, changed.abstract
    )
    assert replica.lag_seconds() == 0  # the words are there; the vector follows
    assert sync_vectors(store, index) == 1  # the first node (a worker) embeds the change
    replica.refresh(wait=True)
    vectors = second.vector_store.load()
    assert gone not in vectors.row_of
    assert second.vector_store.known_hashes()[changed.id] == indexer.text_hash(
        changed.title, changed.abstract
    )
    assert gone not in store.embeddings.get(index.vector_model, [gone])


def test_the_map_is_copied_when_a_newer_one_is_stored(
    first_node: tuple[PaperStore, SearchIndex],
    settings: Settings,
    model_cache: Path,
    tmp_path: Path,
) -> None:
    store, _ = first_node
    second = SearchIndex(other_node(settings, tmp_path, "b"), models=model_cache)
    replica = Replica(settings, store, second)
    store.shared_files.put("map.json", b'{"first": 1}')
    assert replica.refresh(wait=True).map  # type: ignore[union-attr]
    assert (second.folder / "map.json").read_bytes() == b'{"first": 1}'
    store.shared_files.put("map.json", b'{"second": 2}')
    assert replica.refresh(wait=True).map  # type: ignore[union-attr]
    assert (second.folder / "map.json").read_bytes() == b'{"second": 2}'


def test_workers_split_a_big_embedding_run_by_shares(
    store: PaperStore,
    settings: Settings,
    model_cache: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(indexer, "EMBED_CHUNK", 4)  # 30 papers make a "big" run here
    store.write(CORPUS)
    leases = LeaseStore(store.engine)
    model = SearchIndex(settings, models=model_cache).vector_model
    taken = {f"embed:{model}:{n}" for n in range(0, indexer.EMBED_SHARES, 2)}
    for name in taken:  # another worker holds every even share
        assert leases.acquire(name, "elsewhere:1", 300)

    def claim_for(holder: str) -> indexer.Callable[[str], indexer.AbstractContextManager[bool]]:
        @contextmanager
        def claim(name: str) -> Iterator[bool]:
            if not leases.acquire(name, holder, 60):
                yield False
                return
            try:
                yield True
            finally:
                leases.release(name, holder)

        return claim

    index = SearchIndex(settings, models=model_cache)
    first = sync_vectors(store, index, claim=claim_for("here:2"))
    assert 0 < first < len(CORPUS)  # only the odd shares
    assert store.embeddings.count(model) == first
    assert "vectors" not in index.state()  # not caught up: the mark waits
    for name in taken:
        leases.release(name, "elsewhere:1")
    second = sync_vectors(store, index, claim=claim_for("here:2"))
    assert first + second == len(CORPUS)  # the rest, nothing twice
    assert store.embeddings.count(model) == len(CORPUS)
    assert sync_vectors(store, index, claim=claim_for("here:2")) == 0


def test_vectors_made_before_they_were_shared_are_stored_for_the_others(
    first_node: tuple[PaperStore, SearchIndex],
    settings: Settings,
    model_cache: Path,
    tmp_path: Path,
) -> None:
    store, index = first_node
    model = index.vector_model
    assert store.embeddings.drop_model(model) == len(CORPUS)  # as an older paperboard left it
    assert sync_vectors(store, index) == 0  # nothing embedded: the local vectors are stored
    assert store.embeddings.count(model) == len(CORPUS)
    second = SearchIndex(other_node(settings, tmp_path, "b"), models=model_cache)
    Replica(settings, store, second).refresh(wait=True)
    assert len(second.vector_store.load()) == len(CORPUS)


def test_without_an_embedding_model_a_replica_serves_words_and_is_ready(
    first_node: tuple[PaperStore, SearchIndex],
    settings: Settings,
    tmp_path: Path,
) -> None:
    store, _ = first_node
    broken = tmp_path / "models-is-a-file"
    broken.write_text("not a model folder")
    second = SearchIndex(other_node(settings, tmp_path, "b"), models=broken)
    replica = Replica(settings, store, second)
    report = replica.refresh(wait=True)
    assert report is not None and report.lexical == len(CORPUS) and not report.vectors
    assert replica.status(background=True)["ready"] is True
    assert not (second.folder / "vectors").exists() or not list(
        (second.folder / "vectors").glob("chunk-*")
    )
