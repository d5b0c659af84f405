"""Paper embeddings on disk, and nearest-neighbour search over them.

Vectors are appended in chunks (``chunk-000001.npy`` float16 rows plus ``chunk-000001.json`` with
their paper ids and text hashes); a chunk counts only once its JSON exists, and both files are
written to a temporary name first, so a killed embedding run leaves whole chunks and nothing else.
A later chunk's row for a paper replaces an earlier one; ``removed.json`` lists papers deleted
since. Loading stitches the chunks into one matrix; ``compact`` rewrites them as one chunk.

Compaction never leaves less than the old set or the new one, wherever it is killed: the compacted
chunk is written (atomically) under a number above every existing chunk, so from the moment it
counts it wins over the chunks it replaces; only then are those deleted, each JSON before its
rows, and ``removed.json`` last (until then it still hides the removed papers' rows in the old
chunks). Older chunks left by a killed compaction are superseded rows that loading skips and the
next compaction deletes, with any rows left without their JSON; temporary files a kill leaves are
never read, and compaction deletes them once they are an hour old (younger ones may be another
process's write in progress).

Search is exact (one matrix product) below ``ANN_THRESHOLD`` vectors and goes through a faiss IVF
index above it, trained on the vectors and kept in ``ann.faiss`` until the vectors change.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Sequence
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np

from paperboard.core.errors import PaperboardError
from paperboard.core.files import atomic_path, atomic_write

ANN_THRESHOLD = 20_000
_CHUNK_GLOB = "chunk-*.json"
_STALE_SECONDS = 3600.0  # a temporary file this old is a killed write's, not one in progress


def _chunk_number(path: Path) -> int | None:
    """The number of ``chunk-000012.json`` (12), None for a name that is not a chunk's."""
    digits = path.stem.removeprefix("chunk-")
    return int(digits) if digits.isdigit() else None


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
        """The chunk lists, oldest first (by number: a name with more digits sorts right too)."""
        numbered = [(_chunk_number(path), path) for path in self.folder.glob(_CHUNK_GLOB)]
        return [path for number, path in sorted((n, p) for n, p in numbered if n is not None)]

    def _next_number(self) -> int:
        chunks = self._chunks()
        return (_chunk_number(chunks[-1]) or 0) + 1 if chunks else 1

    def append(self, ids: Sequence[str], hashes: Sequence[str], vectors: np.ndarray) -> None:
        """Store one chunk of vectors (rows in the order of ``ids``)."""
        if len(ids) != len(vectors) or len(ids) != len(hashes):
            raise ValueError("ids, hashes and vectors differ in length")
        if len(ids) == 0:
            return
        self._write_chunk(self._next_number(), list(ids), list(hashes), vectors)

    def _write_chunk(
        self, number: int, ids: list[str], hashes: list[str], vectors: np.ndarray
    ) -> None:
        """Rows first, then the list that makes them count, each written atomically."""
        stem = self.folder / f"chunk-{number:06d}"
        atomic_write(stem.with_suffix(".npy"), _npy_bytes(np.asarray(vectors, dtype=np.float16)))
        atomic_write(stem.with_suffix(".json"), json.dumps({"ids": ids, "hashes": hashes}).encode())

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
        """Every current vector, later chunks winning, removed papers left out.

        A chunk deleted while it is read (another process compacting) means a newer chunk holds
        its rows: the files are listed and read again."""
        for _ in range(4):
            try:
                return self._load()
            except FileNotFoundError:
                continue
        return self._load()

    def _load(self) -> VectorSet:
        chunks, sizes, ids, hashes, keep = self._current()
        if len(chunks) == 1 and len(keep) == len(ids):
            # The usual serving case (one compacted chunk): map it instead of reading it.
            matrix = self._chunk_matrix(chunks[0], sizes[0], mmap=True)
            return VectorSet(ids, matrix, hashes)
        matrix = np.empty((len(keep), self.dim), dtype=np.float16)
        self._gather(chunks, sizes, keep, matrix)
        return VectorSet([ids[p] for p in keep], matrix, [hashes[p] for p in keep])

    def _current(self) -> tuple[list[Path], list[int], list[str], list[str], list[int]]:
        """The chunks, their sizes, every stored id and hash in chunk order, and the positions
        of the current rows (each paper's latest, removed papers left out), ascending."""
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
        keep = sorted(p for paper_id, p in latest.items() if paper_id not in removed)
        return chunks, sizes, ids, hashes, keep

    def _gather(
        self, chunks: list[Path], sizes: list[int], keep: list[int], out: np.ndarray
    ) -> None:
        """Copy the rows at positions ``keep`` (ascending) of the chunks into ``out``, one
        chunk's slice at a time from its mapped file."""
        wanted = np.asarray(keep, dtype=np.int64)
        offset = 0
        for chunk, size in zip(chunks, sizes, strict=True):
            lo, hi = np.searchsorted(wanted, [offset, offset + size])
            if hi > lo:
                part = self._chunk_matrix(chunk, size, mmap=True)
                for start in range(lo, hi, _BLOCK):
                    stop = min(hi, start + _BLOCK)
                    out[start:stop] = part[wanted[start:stop] - offset]
            offset += size

    def _chunk_matrix(self, chunk: Path, size: int, *, mmap: bool) -> np.ndarray:
        matrix: np.ndarray = np.load(
            chunk.with_suffix(".npy"), allow_pickle=False, mmap_mode="r" if mmap else None
        )
        if len(matrix) != size or (size and matrix.shape[1] != self.dim):
            raise PaperboardError(
                f"{chunk.name} does not match its vectors: run paperboard index --rebuild"
            )
        return matrix

    def compact(self) -> int:
        """Rewrite the store as one chunk without replaced or removed rows (killed anywhere, it
        leaves the old chunks or the new one, and the next call finishes the work); returns the
        number of rows kept."""
        old, sizes, ids, hashes, keep = self._current()
        removed = self.folder / "removed.json"
        if len(old) > 1 or removed.exists():
            # Numbered above every old chunk: once its list is written, its rows win over theirs.
            # The rows go straight from the old files to the new one, a block at a time, so a
            # compaction needs no more memory than a block, however many vectors there are.
            stem = self.folder / f"chunk-{self._next_number():06d}"
            with atomic_path(stem.with_suffix(".npy")) as temporary:
                rows = np.lib.format.open_memmap(
                    temporary, mode="w+", dtype=np.float16, shape=(len(keep), self.dim)
                )
                self._gather(old, sizes, keep, rows)
                rows.flush()
                del rows
            atomic_write(
                stem.with_suffix(".json"),
                json.dumps(
                    {"ids": [ids[p] for p in keep], "hashes": [hashes[p] for p in keep]}
                ).encode(),
            )
            for chunk in old:
                chunk.unlink(missing_ok=True)  # the list first: a chunk never counts without rows
                chunk.with_suffix(".npy").unlink(missing_ok=True)
            removed.unlink(missing_ok=True)  # last: until now it hid rows in the old chunks
        self._delete_leftovers()
        return len(keep)

    def _delete_leftovers(self) -> None:
        """Rows whose list a killed compaction had already deleted (``chunk-000002.npy`` below the
        newest chunk, without its JSON), and old temporary files of killed writes."""
        chunks = self._chunks()
        newest = _chunk_number(chunks[-1]) if chunks else None
        for rows in self.folder.glob("chunk-*.npy"):
            number = _chunk_number(rows)
            below = number is not None and newest is not None and number < newest
            if below and not rows.with_suffix(".json").exists():
                rows.unlink(missing_ok=True)
        self._delete_stale_temporaries()

    def _delete_stale_temporaries(self) -> None:
        """Temporary files left by killed writes (``.chunk-000003.npy.1f2e3d4c.tmp``), once they
        are too old to be a write in progress."""
        import time

        limit = time.time() - _STALE_SECONDS
        for path in self.folder.glob(".*.tmp"):
            try:
                if path.stat().st_mtime < limit:
                    path.unlink()
            except FileNotFoundError:
                continue


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
