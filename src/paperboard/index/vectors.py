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
from collections.abc import Iterable, Iterator, Sequence
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np

from paperboard.core.errors import PaperboardError
from paperboard.core.files import atomic_path, atomic_write

ANN_THRESHOLD = 20_000
_CHUNK_GLOB = "chunk-*.json"


def _npy_bytes(matrix: np.ndarray) -> bytes:
    import io

    buffer = io.BytesIO()
    np.save(buffer, matrix, allow_pickle=False)
    return buffer.getvalue()


_BLOCK = 65_536  # rows converted to float32 at a time when scoring everything


class VectorSet:
    """The current vector of each paper: ``ids[i]`` has row ``matrix[i]`` (unit length).

    ``matrix`` stays float16 as stored, memory-mapped from disk when the store is one compacted
    chunk, so a million papers cost 768 MB of page cache rather than 1.5 GB of private memory;
    rows are widened to float32 only when used.
    """

    def __init__(self, ids: list[str], matrix: np.ndarray, hashes: list[str]) -> None:
        self.ids = ids
        self.matrix = matrix
        self._hashes = hashes

    def __len__(self) -> int:
        return len(self.ids)

    @cached_property
    def row_of(self) -> dict[str, int]:
        return {paper_id: row for row, paper_id in enumerate(self.ids)}

    @property
    def hashes(self) -> dict[str, str]:
        return dict(zip(self.ids, self._hashes, strict=True))

    def vector(self, paper_id: str) -> np.ndarray | None:
        row = self.row_of.get(paper_id)
        return None if row is None else self.matrix[row].astype(np.float32)

    def rows(self, rows: Sequence[int] | np.ndarray | slice) -> np.ndarray:
        """These rows as a float32 matrix."""
        return np.asarray(self.matrix[rows], dtype=np.float32)

    def blocks(self) -> Iterator[tuple[int, np.ndarray]]:
        """(first row, float32 block) over the whole matrix, a bounded number of rows at a time."""
        for start in range(0, len(self.ids), _BLOCK):
            yield start, self.rows(slice(start, start + _BLOCK))

    def scores(self, query: np.ndarray) -> np.ndarray:
        """Inner product of every row with ``query``."""
        query = np.asarray(query, dtype=np.float32)
        out = np.empty(len(self.ids), dtype=np.float32)
        for start, block in self.blocks():
            out[start : start + len(block)] = block @ query
        return out


class VectorStore:
    """The embedding files of one model in one folder."""

    def __init__(self, folder: Path, model: str, dim: int, *, reset: bool = False) -> None:
        """Open the vectors of ``model``; vectors of another model are an error, unless ``reset``
        (a rebuild), which deletes them first."""
        self.folder = Path(folder)
        self.model = model
        self.dim = dim
        self.folder.mkdir(parents=True, exist_ok=True)
        meta = self.folder / "model.json"
        if reset:
            for path in self.folder.iterdir():
                path.unlink()
        if meta.exists():
            known = json.loads(meta.read_text())
            if known.get("model") != model or known.get("dim") != dim:
                raise PaperboardError(
                    f"the vectors in {self.folder} come from {known.get('model')}, not {model}: "
                    "run paperboard index --rebuild"
                )
        else:
            atomic_write(meta, json.dumps({"model": model, "dim": dim}).encode())

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
        atomic_write(stem.with_suffix(".npy"), _npy_bytes(np.asarray(vectors, dtype=np.float16)))
        atomic_write(
            stem.with_suffix(".json"),
            json.dumps({"ids": list(ids), "hashes": list(hashes)}).encode(),
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
        atomic_write(self.folder / "removed.json", json.dumps(sorted(removed)).encode())

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
        chunks = self._chunks()
        ids: list[str] = []
        hashes: list[str] = []
        sizes: list[int] = []
        for chunk in chunks:
            data = json.loads(chunk.read_text())
            ids.extend(data["ids"])
            hashes.extend(data["hashes"])
            sizes.append(len(data["ids"]))
        latest: dict[str, int] = {}
        for position, paper_id in enumerate(ids):
            latest[paper_id] = position
        keep = [p for paper_id, p in latest.items() if paper_id not in removed]
        if len(chunks) == 1 and len(keep) == len(ids):
            # The usual serving case (one compacted chunk): map it instead of reading it.
            matrix = self._chunk_matrix(chunks[0], sizes[0], mmap=True)
            return VectorSet(ids, matrix, hashes)
        keep.sort()
        matrix = np.empty((len(keep), self.dim), dtype=np.float16)
        wanted = np.asarray(keep, dtype=np.int64)
        offset = 0
        for chunk, size in zip(chunks, sizes, strict=True):
            lo, hi = np.searchsorted(wanted, [offset, offset + size])
            if hi > lo:
                part = self._chunk_matrix(chunk, size, mmap=True)
                matrix[lo:hi] = part[wanted[lo:hi] - offset]
            offset += size
        return VectorSet([ids[p] for p in keep], matrix, [hashes[p] for p in keep])

    def _chunk_matrix(self, chunk: Path, size: int, *, mmap: bool) -> np.ndarray:
        matrix: np.ndarray = np.load(
            chunk.with_suffix(".npy"), allow_pickle=False, mmap_mode="r" if mmap else None
        )
        if len(matrix) != size or (size and matrix.shape[1] != self.dim):
            raise PaperboardError(
                f"{chunk.name} does not match its vectors: run paperboard index --rebuild"
            )
        return matrix

    def compact(self) -> VectorSet:
        """Rewrite the store as one chunk without replaced or removed rows."""
        current = self.load()
        old = self._chunks()
        if len(old) <= 1 and not self._removed():
            return current
        stem = self.folder / "compacted"
        atomic_write(
            stem.with_suffix(".npy"), _npy_bytes(np.asarray(current.matrix, dtype=np.float16))
        )
        atomic_write(
            stem.with_suffix(".json"),
            json.dumps({"ids": current.ids, "hashes": current._hashes}).encode(),
        )
        for chunk in old:
            chunk.unlink()
            chunk.with_suffix(".npy").unlink(missing_ok=True)
        (self.folder / "removed.json").unlink(missing_ok=True)
        os.replace(stem.with_suffix(".npy"), self.folder / "chunk-000001.npy")
        os.replace(stem.with_suffix(".json"), self.folder / "chunk-000001.json")
        return current


class NeighbourIndexMissing(PaperboardError):
    """No stored faiss index matches these vectors, and building one was not allowed."""


class NearestNeighbours:
    """Top-k inner-product search over a VectorSet: exact when small, faiss IVF when large.

    ``build=False`` only reuses a stored IVF index (raising NeighbourIndexMissing when none
    matches), for a serving process that must not spend minutes training one while an indexing
    run is about to write it."""

    def __init__(
        self,
        vectors: VectorSet,
        index_path: Path | None = None,
        *,
        nprobe: int | None = None,
        build: bool = True,
    ) -> None:
        self.vectors = vectors
        self._ann: Any = None  # a faiss index
        self.exact = len(vectors) < ANN_THRESHOLD
        self._dense: np.ndarray | None = None
        if self.exact:  # small: one float32 copy makes each query a single matrix product
            self._dense = vectors.rows(slice(None))
        else:
            self._ann = self._load_or_build(index_path, nprobe, build)

    def _signature(self) -> str:
        import hashlib

        digest = hashlib.sha256()
        digest.update(str(len(self.vectors)).encode())
        for paper_id in self.vectors.ids[:: max(1, len(self.vectors) // 1000)]:
            digest.update(paper_id.encode())
        digest.update(
            self.vectors.rows(slice(None, None, max(1, len(self.vectors) // 1000))).tobytes()
        )
        return digest.hexdigest()

    def _load_or_build(self, path: Path | None, nprobe: int | None, build: bool) -> Any:
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
                stored: Any = faiss.read_index(str(path))
                stored.nprobe = nprobe
                return stored
        if not build:
            raise NeighbourIndexMissing(f"no stored neighbour index matches the vectors ({path})")
        quantizer = faiss.IndexFlatIP(dim)
        index = faiss.IndexIVFScalarQuantizer(
            quantizer, dim, nlist, faiss.ScalarQuantizer.QT_8bit, faiss.METRIC_INNER_PRODUCT
        )
        rng = np.random.default_rng(0)
        sample = np.sort(rng.choice(count, size=min(count, nlist * 64), replace=False))
        index.train(np.ascontiguousarray(self.vectors.rows(sample)))
        for _, block in self.vectors.blocks():
            index.add(np.ascontiguousarray(block))
        index.nprobe = nprobe
        if path is not None:
            with atomic_path(path) as temporary:
                faiss.write_index(index, str(temporary))
            atomic_write(path.with_suffix(".json"), json.dumps({"signature": signature}).encode())
        return index

    def search_many(
        self, queries: np.ndarray, k: int, *, exclude: Iterable[str] = ()
    ) -> list[list[tuple[str, float]]]:
        """:meth:`search` for each row of ``queries``, in one call to the index (much cheaper than
        one call per query when there are several)."""
        excluded = set(exclude)
        queries = np.ascontiguousarray(np.atleast_2d(queries), dtype=np.float32)
        if len(self.vectors) == 0 or k <= 0 or len(queries) == 0:
            return [[] for _ in range(len(queries))]
        want = min(len(self.vectors), k + len(excluded))
        if self._dense is not None:
            scores = queries @ self._dense.T
            if want < scores.shape[1]:
                top = np.argpartition(-scores, want - 1, axis=1)[:, :want]
            else:
                top = np.tile(np.arange(scores.shape[1]), (len(queries), 1))
            rows_scores = [(row, scores[i, row]) for i, row in enumerate(top)]
        else:
            found, rows = self._ann.search(queries, want)
            rows_scores = [(rows[i], found[i]) for i in range(len(queries))]
        out = []
        for rows_i, scores_i in rows_scores:
            order = np.argsort(-scores_i, kind="stable")
            pairs = [
                (self.vectors.ids[rows_i[j]], float(scores_i[j])) for j in order if rows_i[j] >= 0
            ]
            out.append([(pid, score) for pid, score in pairs if pid not in excluded][:k])
        return out

    def search(
        self, query: np.ndarray, k: int, *, exclude: Iterable[str] = ()
    ) -> list[tuple[str, float]]:
        """The ``k`` nearest papers to ``query`` (a unit vector) with cosine similarities."""
        excluded = set(exclude)
        if len(self.vectors) == 0 or k <= 0:
            return []
        want = min(len(self.vectors), k + len(excluded))
        if self._dense is not None:
            scores = self._dense @ np.asarray(query, dtype=np.float32)
            if want < len(scores):
                top = np.argpartition(-scores, want - 1)[:want]
            else:
                top = np.arange(len(scores))
            top = top[np.argsort(-scores[top], kind="stable")]
            pairs = [(self.vectors.ids[i], float(scores[i])) for i in top]
        else:
            scores, rows = self._ann.search(query.reshape(1, -1).astype(np.float32), want)
            pairs = [
                (self.vectors.ids[r], float(s))
                for r, s in zip(rows[0], scores[0], strict=True)
                if r >= 0
            ]
        return [(paper_id, score) for paper_id, score in pairs if paper_id not in excluded][:k]
