"""A lexical index cut into shards that are searched at the same time, one core each.

A BM25 query made of words found in a large share of the papers (``language models``) can skip
little: tantivy scores most of their postings, so its time grows with the index, and one search
uses one core. At all of arXiv that tail was three times the median. Here the papers are split
by a hash of their id into ``n`` tantivy indexes of the same layout (:class:`LexicalIndex` each,
in ``shard-0`` … ``shard-{n-1}`` under the lexical folder, with ``paperboard-shards.json`` saying
how many), and a search runs on every shard at once, each on its own thread (tantivy lets go of
the GIL), then the hits are merged by score (a query of fields alone, which ranks nothing, by
publication day: newest first, as in one index).

Each shard scores with its own term statistics. Split by a hash, shards of a million papers or
more have nearly the same ones, so a merged top k is what one index would give up to rounding;
a small index stays in one piece (:func:`shards_for`), where the statistics of a half would
differ. The count is chosen when the index is built from scratch and kept until the next full
build (``paperboard index --rebuild``).
"""

from __future__ import annotations

import heapq
import json
import os
import zlib
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any, TypeVar

from paperboard.core.files import atomic_write
from paperboard.core.threads import thread_pool
from paperboard.index.lexical import (
    REBUILD_HINT,
    Filters,
    IndexVersionError,
    LexicalHit,
    LexicalIndex,
    LexicalIndexError,
)
from paperboard.index.query import ParsedQuery, parse_query

SHARDS_FILE = "paperboard-shards.json"
SHARD_PAPERS = 1_000_000  # papers per shard before an index is split: below, one index is faster
MAX_SHARDS = 8

T = TypeVar("T")


def shards_for(papers: int) -> int:
    """How many shards an index of ``papers`` papers is built with: one per million papers, at
    most one per core (a search uses a core per shard)."""
    cores = os.cpu_count() or 1
    return max(1, min(papers // SHARD_PAPERS, cores, MAX_SHARDS))


def shard_count(path: Path) -> int:
    """How many shards the lexical index in ``path`` has (1: a plain index, or none yet)."""
    try:
        data = json.loads((Path(path) / SHARDS_FILE).read_text(encoding="utf-8"))
        count = int(data["shards"])
    except FileNotFoundError:
        return 1
    except (OSError, ValueError, KeyError, TypeError):
        raise IndexVersionError(
            f"the lexical index at {path} has an unreadable {SHARDS_FILE}: {REBUILD_HINT}"
        ) from None
    if not 1 < count <= MAX_SHARDS:
        raise IndexVersionError(
            f"the lexical index at {path} says it has {count} shards "
            f"(2 to {MAX_SHARDS} allowed): {REBUILD_HINT}"
        )
    return count


def open_lexical(
    path: Path, *, rebuild: bool = False, shards: int | None = None, lock_timeout: float = 10.0
) -> LexicalIndex | ShardedLexicalIndex:
    """Open the lexical index in ``path`` with the layout it has on disk; ``rebuild=True`` deletes
    it first and makes an empty one of ``shards`` shards (default: as many as it had)."""
    path = Path(path)
    count = shards if shards is not None else shard_count(path)
    if rebuild:
        _remove(path)
    elif shards is not None and shards != shard_count(path):
        raise LexicalIndexError(
            f"the lexical index at {path} has {shard_count(path)} shards, not {shards}: "
            f"{REBUILD_HINT}"
        )
    if count <= 1:
        return LexicalIndex.open(path, lock_timeout=lock_timeout)
    return ShardedLexicalIndex.open(path, count, lock_timeout=lock_timeout)


def _remove(path: Path) -> None:
    """Delete a lexical index folder of either layout (nothing else: see LexicalIndex)."""
    if (path / SHARDS_FILE).is_file():
        for child in path.iterdir():
            if child.name.startswith("shard-") and child.is_dir():
                LexicalIndex.remove(child)
        (path / SHARDS_FILE).unlink()
    LexicalIndex.remove(path)


def _shard_of(paper_id: object, count: int) -> int:
    if not isinstance(paper_id, str):
        return 0  # the shard refuses it with a clear error
    return zlib.crc32(paper_id.encode()) % count


class ShardedLexicalIndex:
    """The same reads and writes as :class:`LexicalIndex`, over ``n`` shards."""

    def __init__(self, path: Path, shards: list[LexicalIndex]) -> None:
        self.path = path
        self.shards = shards

    @classmethod
    def open(cls, path: Path, count: int, *, lock_timeout: float = 10.0) -> ShardedLexicalIndex:
        path = Path(path)
        if (path / "meta.json").exists():
            raise IndexVersionError(f"{path} holds an unsharded lexical index: {REBUILD_HINT}")
        shards = [
            LexicalIndex.open(path / f"shard-{n}", lock_timeout=lock_timeout) for n in range(count)
        ]
        if not (path / SHARDS_FILE).exists():
            atomic_write(path / SHARDS_FILE, json.dumps({"shards": count}) + "\n")
        return cls(path, shards)

    def _each(self, call: Callable[[LexicalIndex], T]) -> list[T]:
        """``call`` on every shard at once: the first on this thread, the others on the pool."""
        pool = thread_pool("shards", 2 * MAX_SHARDS)  # a few requests at once
        futures = [pool.submit(call, shard) for shard in self.shards[1:]]
        first = call(self.shards[0])
        return [first, *(future.result() for future in futures)]

    def _grouped(self, papers: Iterable[T], key: Callable[[T], object]) -> list[list[T]]:
        groups: list[list[T]] = [[] for _ in self.shards]
        for paper in papers:
            groups[_shard_of(key(paper), len(self.shards))].append(paper)
        return groups

    # -- writing ----------------------------------------------------------------------------------

    def bulk(self) -> None:
        for shard in self.shards:
            shard.bulk()

    def upsert(self, papers: Iterable[dict[str, Any]]) -> int:
        groups = self._grouped(papers, lambda paper: paper.get("id"))
        return sum(shard.upsert(group) for shard, group in zip(self.shards, groups, strict=True))

    def delete(self, ids: Iterable[str]) -> int:
        groups = self._grouped(dict.fromkeys(ids), lambda paper_id: paper_id)
        return sum(shard.delete(group) for shard, group in zip(self.shards, groups, strict=True))

    def commit(self) -> None:
        """Commit every shard. A crash between two commits leaves shards at different points,
        which the next catch-up mends: it writes again whatever a shard lacks."""
        self._each(LexicalIndex.commit)

    def rollback(self) -> None:
        for shard in self.shards:
            shard.rollback()

    def clear(self) -> None:
        for shard in self.shards:
            shard.clear()

    def close(self) -> None:
        for shard in self.shards:
            shard.close()

    def __enter__(self) -> ShardedLexicalIndex:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- reading ----------------------------------------------------------------------------------

    def reload(self) -> None:
        for shard in self.shards:
            shard.reload()

    def count(self) -> int:
        return sum(shard.count() for shard in self.shards)

    def __contains__(self, paper_id: object) -> bool:
        return paper_id in self.shards[_shard_of(paper_id, len(self.shards))]

    def search(
        self,
        query: ParsedQuery,
        *,
        k: int = 10,
        filters: Filters | None = None,
        highlight: bool = True,
        offset: int = 0,
    ) -> list[LexicalHit]:
        if isinstance(query, str):
            query = parse_query(query)
        wanted = max(0, offset) + k
        found = self._each(
            lambda shard: shard.search_keyed(query, k=wanted, filters=filters, highlight=highlight)
        )
        merged = heapq.merge(*found, key=lambda keyed: -keyed[0])
        return [hit for _, hit in merged][max(0, offset) : wanted]

    def search_ids(
        self, query: ParsedQuery, *, k: int = 100, filters: Filters | None = None
    ) -> list[tuple[str, float]]:
        if isinstance(query, str):
            query = parse_query(query)
        found = self._each(lambda shard: shard.search_ids_keyed(query, k=k, filters=filters))
        merged = heapq.merge(*found, key=lambda keyed: -keyed[0])
        return [(paper_id, score) for _, paper_id, score in merged][:k]

    def indexed_changes(self, ids: Sequence[str]) -> dict[str, int]:
        groups = self._grouped(dict.fromkeys(ids), lambda paper_id: paper_id)
        out: dict[str, int] = {}
        for shard, group in zip(self.shards, groups, strict=True):
            if group:
                out.update(shard.indexed_changes(group))
        return out

    def selection(self, filters: Filters | None, *, limit: int) -> list[str] | None:
        found = self._each(lambda shard: shard.selection(filters, limit=limit))
        if any(part is None for part in found):
            return None
        out = [paper_id for part in found if part is not None for paper_id in part]
        return out if len(out) <= limit else None

    def match_count(self, query: ParsedQuery, *, filters: Filters | None = None) -> int:
        if isinstance(query, str):
            query = parse_query(query)
        return sum(self._each(lambda shard: shard.match_count(query, filters=filters)))

    def more_like(
        self, paper: dict[str, Any], *, k: int = 50, max_terms: int = 25
    ) -> list[tuple[str, float]]:
        found = self._each(lambda shard: shard.more_like(paper, k=k, max_terms=max_terms))
        return list(heapq.merge(*found, key=lambda hit: -hit[1]))[:k]
