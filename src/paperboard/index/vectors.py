"""Paper embeddings on disk, and nearest-neighbour search over them.

Vectors are appended in chunks (``chunk-000001.npy`` float16 rows plus ``chunk-000001.json`` with
their paper ids and text hashes); a chunk counts only once its JSON exists, and both files are
written to a temporary name first, so a killed embedding run leaves whole chunks and nothing else.
A later chunk's row for a paper replaces an earlier one; ``removed.json`` lists papers deleted
since. Loading stitches the chunks into one matrix; ``compact`` rewrites them as one chunk.

Search is exact (one matrix product) below ``ANN_THRESHOLD`` vectors and goes through a faiss IVF
index above it, trained on the vectors and kept in ``ann.faiss`` until the vectors change.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from paperboard.core.errors import PaperboardError

ANN_THRESHOLD = 20_000
_CHUNK_GLOB = "chunk-*.json"


def _atomic_write(path: Path, data: bytes) -> None:
    temporary = path.with_name(path.name + ".tmp")
    with open(temporary, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temporary, path)


def _npy_bytes(matrix: np.ndarray) -> bytes:
    import io

    buffer = io.BytesIO()
    np.save(buffer, matrix, allow_pickle=False)
    return buffer.getvalue()


@dataclass
class VectorSet:
    """The current vector of each paper: ``ids[i]`` has row ``matrix[i]`` (float32, unit length)."""

    ids: list[str]
    matrix: np.ndarray
    hashes: dict[str, str]
    row_of: dict[str, int]

    def __len__(self) -> int:
        return len(self.ids)

    def vector(self, paper_id: str) -> np.ndarray | None:
        row = self.row_of.get(paper_id)
        return None if row is None else self.matrix[row]


class VectorStore:
    """The embedding files of one model in one folder."""

    def __init__(self, folder: Path, model: str, dim: int) -> None:
        self.folder = Path(folder)
        self.model = model
        self.dim = dim
        self.folder.mkdir(parents=True, exist_ok=True)
        meta = self.folder / "model.json"
        if meta.exists():
            known = json.loads(meta.read_text())
            if known.get("model") != model or known.get("dim") != dim:
                raise PaperboardError(
                    f"the vectors in {self.folder} come from {known.get('model')}, not {model}: "
                    "run paperboard index --rebuild"
                )
        else:
            _atomic_write(meta, json.dumps({"model": model, "dim": dim}).encode())

    def _chunks(self) -> list[Path]:
        return sorted(self.folder.glob(_CHUNK_GLOB))

    def append(self, ids: Sequence[str], hashes: Sequence[str], vectors: np.ndarray) -> None:
        """Store one chunk of vectors (rows in the order of ``ids``)."""
        if len(ids) != len(vectors) or len(ids) != len(hashes):
            raise ValueError("ids, hashes and vectors differ in length")
        if len(ids) == 0:
            return
        chunks = self._chunks()
        number = int(chunks[-1].stem.split("-")[1]) + 1 if chunks else 1
        stem = self.folder / f"chunk-{number:06d}"
        _atomic_write(stem.with_suffix(".npy"), _npy_bytes(np.asarray(vectors, dtype=np.float16)))
        _atomic_write(
            stem.with_suffix(".json"), json.dumps({"ids": list(ids), "hashes": list(hashes)}).encode()
        )

    def _removed(self) -> set[str]:
        path = self.folder / "removed.json"
        return set(json.loads(path.read_text())) if path.exists() else set()

    def remove(self, ids: Iterable[str]) -> None:
        """Forget these papers' vectors (kept in ``removed.json`` until the next compaction)."""
        wanted = set(ids)
        if not wanted:
            return
        removed = self._removed() | wanted
        _atomic_write(self.folder / "removed.json", json.dumps(sorted(removed)).encode())

    def known_hashes(self) -> dict[str, str]:
        """Paper id to the hash of the text its stored vector was computed from."""
        removed = self._removed()
        hashes: dict[str, str] = {}
        for chunk in self._chunks():
            data = json.loads(chunk.read_text())
            hashes.update(zip(data["ids"], data["hashes"], strict=True))
        for paper_id in removed:
            hashes.pop(paper_id, None)
        return hashes

    def load(self) -> VectorSet:
        """Every current vector, later chunks winning, removed papers left out."""
        removed = self._removed()
        parts: list[np.ndarray] = []
        ids: list[str] = []
        hashes: list[str] = []
        for chunk in self._chunks():
            data = json.loads(chunk.read_text())
            matrix = np.load(chunk.with_suffix(".npy"), allow_pickle=False)
            if len(matrix) != len(data["ids"]) or (len(matrix) and matrix.shape[1] != self.dim):
                raise PaperboardError(f"{chunk.name} does not match its vectors: run paperboard index --rebuild")
            parts.append(matrix)
            ids.extend(data["ids"])
            hashes.extend(data["hashes"])
        latest: dict[str, int] = {}
        for position, paper_id in enumerate(ids):
            latest[paper_id] = position
        keep = [p for paper_id, p in latest.items() if paper_id not in removed]
        keep.sort()
        if parts:
            stacked = np.concatenate(parts)[keep].astype(np.float32)
        else:
            stacked = np.zeros((0, self.dim), dtype=np.float32)
        kept_ids = [ids[p] for p in keep]
        return VectorSet(
            ids=kept_ids,
            matrix=stacked,
            hashes={ids[p]: hashes[p] for p in keep},
            row_of={paper_id: row for row, paper_id in enumerate(kept_ids)},
        )

    def compact(self) -> VectorSet:
        """Rewrite the store as one chunk without replaced or removed rows."""
        current = self.load()
        old = self._chunks()
        if len(old) <= 1 and not self._removed():
            return current
        stem = self.folder / "compacted"
        _atomic_write(stem.with_suffix(".npy"), _npy_bytes(current.matrix.astype(np.float16)))
        _atomic_write(
            stem.with_suffix(".json"),
            json.dumps({"ids": current.ids, "hashes": [current.hashes[i] for i in current.ids]}).encode(),
        )
        for chunk in old:
            chunk.unlink()
            chunk.with_suffix(".npy").unlink(missing_ok=True)
        (self.folder / "removed.json").unlink(missing_ok=True)
        os.replace(stem.with_suffix(".npy"), self.folder / "chunk-000001.npy")
        os.replace(stem.with_suffix(".json"), self.folder / "chunk-000001.json")
        return current

    def clear(self) -> None:
        for path in self.folder.iterdir():
            if path.name != "model.json":
                path.unlink()


class NearestNeighbours:
    """Top-k inner-product search over a VectorSet: exact when small, faiss IVF when large."""

    def __init__(self, vectors: VectorSet, index_path: Path | None = None, *, nprobe: int | None = None) -> None:
        self.vectors = vectors
        self._ann = None
        self.exact = len(vectors) < ANN_THRESHOLD
        if not self.exact:
            self._ann = self._load_or_build(index_path, nprobe)

    def _signature(self) -> str:
        import hashlib

        digest = hashlib.sha256()
        digest.update(str(len(self.vectors)).encode())
        for paper_id in self.vectors.ids[:: max(1, len(self.vectors) // 1000)]:
            digest.update(paper_id.encode())
        digest.update(self.vectors.matrix[:: max(1, len(self.vectors) // 1000)].tobytes())
        return digest.hexdigest()

    def _load_or_build(self, path: Path | None, nprobe: int | None):  # type: ignore[no-untyped-def]
        import faiss

        count, dim = self.vectors.matrix.shape
        # About 2·sqrt(n) lists, probing a sixth of them (32 to 128): recall@10 0.99 in 0.4 ms on
        # the 40k real papers (bench/search.py measures recall and latency).
        nlist = int(min(16384, max(16, 2 * np.sqrt(count))))
        nprobe = nprobe or int(min(128, max(32, nlist // 6)))
        signature = f"{self._signature()}/ivf{nlist}-sq8"
        if path is not None and path.exists() and path.with_suffix(".json").exists():
            meta = json.loads(path.with_suffix(".json").read_text())
            if meta.get("signature") == signature:
                index = faiss.read_index(str(path))
                index.nprobe = nprobe
                return index
        quantizer = faiss.IndexFlatIP(dim)
        index = faiss.IndexIVFScalarQuantizer(
            quantizer, dim, nlist, faiss.ScalarQuantizer.QT_8bit, faiss.METRIC_INNER_PRODUCT
        )
        rng = np.random.default_rng(0)
        sample = self.vectors.matrix[rng.choice(count, size=min(count, nlist * 64), replace=False)]
        index.train(np.ascontiguousarray(sample))
        index.add(np.ascontiguousarray(self.vectors.matrix))
        index.nprobe = nprobe
        if path is not None:
            temporary = path.with_name(path.name + ".tmp")
            faiss.write_index(index, str(temporary))
            os.replace(temporary, path)
            _atomic_write(path.with_suffix(".json"), json.dumps({"signature": signature}).encode())
        return index

    def search(self, query: np.ndarray, k: int, *, exclude: Iterable[str] = ()) -> list[tuple[str, float]]:
        """The ``k`` nearest papers to ``query`` (a unit vector) with cosine similarities."""
        excluded = set(exclude)
        if len(self.vectors) == 0 or k <= 0:
            return []
        want = min(len(self.vectors), k + len(excluded))
        if self._ann is None:
            scores = self.vectors.matrix @ query.astype(np.float32)
            if want < len(scores):
                top = np.argpartition(-scores, want - 1)[:want]
            else:
                top = np.arange(len(scores))
            top = top[np.argsort(-scores[top], kind="stable")]
            pairs = [(self.vectors.ids[i], float(scores[i])) for i in top]
        else:
            scores, rows = self._ann.search(query.reshape(1, -1).astype(np.float32), want)
            pairs = [(self.vectors.ids[r], float(s)) for r, s in zip(rows[0], scores[0], strict=True) if r >= 0]
        return [(paper_id, score) for paper_id, score in pairs if paper_id not in excluded][:k]
