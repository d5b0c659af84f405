"""Embedding files on disk and nearest-neighbour search (exact and faiss IVF)."""

from pathlib import Path

import numpy as np
import pytest

from paperboard.core.errors import PaperboardError
from paperboard.index import vectors as vectors_module
from paperboard.index.vectors import NearestNeighbours, NeighbourIndexMissing, VectorStore


def unit(rows: np.ndarray) -> np.ndarray:
    return (rows / np.linalg.norm(rows, axis=1, keepdims=True)).astype(np.float32)


def test_chunks_later_rows_win_and_removals_apply(tmp_path: Path) -> None:
    store = VectorStore(tmp_path / "v", "model-a", 4)
    first = unit(np.eye(4)[:3] + 0.01)
    store.append(["a", "b", "c"], ["h1", "h2", "h3"], first)
    store.append(["b"], ["h2b"], unit(np.array([[0, 0, 0, 1.0]])))
    store.remove(["c"])
    loaded = store.load()
    assert loaded.ids == ["a", "b"]
    assert loaded.hashes == {"a": "h1", "b": "h2b"}
    assert np.allclose(loaded.vector("b"), [0, 0, 0, 1], atol=1e-3)
    assert store.known_hashes() == {"a": "h1", "b": "h2b"}
    assert store.compact() == 2
    assert len(list((tmp_path / "v").glob("chunk-*.json"))) == 1
    assert store.load().ids == ["a", "b"]


def test_a_compacted_store_is_memory_mapped_and_rows_widen_to_float32(tmp_path: Path) -> None:
    store = VectorStore(tmp_path / "v", "model-a", 4)
    rows = unit(np.arange(1, 25, dtype=np.float32).reshape(6, 4))
    store.append(["a", "b", "c"], ["h"] * 3, rows[:3])
    store.append(["d", "e", "f"], ["h"] * 3, rows[3:])
    in_memory = store.load()  # two chunks: stitched in memory, still float16
    assert in_memory.matrix.dtype == np.float16 and not isinstance(in_memory.matrix, np.memmap)
    store.compact()
    mapped = store.load()
    assert isinstance(mapped.matrix, np.memmap) and mapped.matrix.dtype == np.float16
    assert mapped.vector("e").dtype == np.float32
    assert np.allclose(mapped.rows([1, 4]), rows[[1, 4]], atol=1e-3)
    query = rows[2]
    assert np.allclose(mapped.scores(query), rows @ query, atol=1e-3)


def test_a_half_written_chunk_is_ignored(tmp_path: Path) -> None:
    store = VectorStore(tmp_path / "v", "model-a", 4)
    store.append(["a"], ["h"], unit(np.ones((1, 4))))
    (tmp_path / "v" / "chunk-000002.npy").write_bytes(b"partial")  # killed before its .json
    (tmp_path / "v" / "chunk-000003.json.tmp").write_text("{")
    assert store.load().ids == ["a"]


def test_another_model_needs_a_rebuild(tmp_path: Path) -> None:
    VectorStore(tmp_path / "v", "model-a", 4)
    with pytest.raises(PaperboardError, match="--rebuild"):
        VectorStore(tmp_path / "v", "model-b", 4)


def test_exact_search_orders_by_cosine_and_excludes(tmp_path: Path) -> None:
    store = VectorStore(tmp_path / "v", "m", 3)
    store.append(
        ["x", "y", "z"],
        ["1", "2", "3"],
        unit(np.array([[1, 0, 0], [0.9, 0.1, 0], [0, 1, 0]], dtype=float)),
    )
    nn = NearestNeighbours(store.load())
    assert nn.exact
    hits = nn.search(np.array([1, 0, 0], dtype=np.float32), 2)
    assert [h[0] for h in hits] == ["x", "y"] and hits[0][1] == pytest.approx(1.0)
    assert [h[0] for h in nn.search(np.array([1, 0, 0], dtype=np.float32), 2, exclude={"x"})] == [
        "y",
        "z",
    ]


def test_ivf_index_has_high_recall_and_is_reused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(vectors_module, "ANN_THRESHOLD", 1000)
    rng = np.random.default_rng(1)
    centers = unit(rng.normal(size=(40, 32)))
    matrix = unit(centers[rng.integers(0, 40, 6000)] + 0.2 * rng.normal(size=(6000, 32)))
    store = VectorStore(tmp_path / "v", "m", 32)
    store.append([f"p{i}" for i in range(6000)], ["h"] * 6000, matrix)
    loaded = store.load()
    path = tmp_path / "v" / "ann.faiss"
    nn = NearestNeighbours(loaded, path)
    assert not nn.exact and path.exists()
    queries = unit(matrix[rng.integers(0, 6000, 50)] + 0.1 * rng.normal(size=(50, 32)))
    recall = []
    for q in queries:
        truth = {loaded.ids[i] for i in np.argsort(-(loaded.matrix @ q))[:10]}
        found = {pid for pid, _ in nn.search(q, 10)}
        recall.append(len(truth & found) / 10)
    assert np.mean(recall) >= 0.9
    stamp = path.stat().st_mtime_ns
    NearestNeighbours(loaded, path)
    assert path.stat().st_mtime_ns == stamp  # same vectors: the saved index is reused
    batch = nn.search_many(queries[:5], 10, exclude={"p1", "p2"})
    assert batch == [nn.search(q, 10, exclude={"p1", "p2"}) for q in queries[:5]]


def test_without_build_a_stored_ivf_index_is_reused_and_none_is_trained(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(vectors_module, "ANN_THRESHOLD", 1000)
    rng = np.random.default_rng(2)
    store = VectorStore(tmp_path / "v", "m", 16)
    store.append([f"p{i}" for i in range(3000)], ["h"] * 3000, unit(rng.normal(size=(3000, 16))))
    path = tmp_path / "v" / "ann.faiss"
    with pytest.raises(NeighbourIndexMissing):
        NearestNeighbours(store.load(), path, build=False)
    assert not path.exists()
    built = NearestNeighbours(store.load(), path)
    reused = NearestNeighbours(store.load(), path, build=False)
    query = unit(rng.normal(size=(1, 16)))[0]
    assert reused.search(query, 5) == built.search(query, 5)
    store.append(["p3000"], ["h"], unit(rng.normal(size=(1, 16))))  # the stored index is stale
    with pytest.raises(NeighbourIndexMissing):
        NearestNeighbours(store.load(), path, build=False)


def test_batched_exact_search_matches_one_at_a_time(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    matrix = unit(rng.normal(size=(300, 8)))
    store = VectorStore(tmp_path / "v", "m", 8)
    store.append([f"p{i}" for i in range(300)], ["h"] * 300, matrix)
    nn = NearestNeighbours(store.load())
    queries = unit(rng.normal(size=(4, 8)))
    batch = nn.search_many(queries, 7, exclude={"p5"})
    single = [nn.search(q, 7, exclude={"p5"}) for q in queries]
    assert [[pid for pid, _ in hits] for hits in batch] == [
        [pid for pid, _ in hits] for hits in single
    ]
    assert nn.search_many(queries[:0], 7) == []


def test_vectors_of_another_model_are_refused_until_a_rebuild_resets_them(tmp_path: Path) -> None:
    old = VectorStore(tmp_path / "v", "model-a", 4)
    old.append(["a"], ["h"], unit(np.ones((1, 4))))
    with pytest.raises(PaperboardError, match="run paperboard index --rebuild"):
        VectorStore(tmp_path / "v", "model-b", 4)
    fresh = VectorStore(tmp_path / "v", "model-b", 4, reset=True)
    assert fresh.load().ids == [] and fresh.known_hashes() == {}
    assert VectorStore(tmp_path / "v", "model-b", 4).load().ids == []
