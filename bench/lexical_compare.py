"""Two lexical indexes of the same papers compared in one process: `search_ids` latency and overlap.

Opens both folders (either layout: one tantivy index, or shards), runs the search benchmark's
queries (2-4 words from real titles) on each, one query on one index then the same on the other,
after a warm-up pass, for k = 10 (a lexical page) and k = 100 (the hybrid pool). Prints p50/p95 of
each, their ratio, and how much of each top k the two share. Nothing is written.

    python bench/lexical_compare.py HOME_A/index/lexical HOME_B/index/lexical
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))


def _percentiles(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    return statistics.median(ordered), ordered[int(0.95 * (len(ordered) - 1))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("first", type=Path, help="a lexical index folder (the baseline)")
    parser.add_argument("second", type=Path, help="a lexical index folder of the same papers")
    parser.add_argument("--queries", type=int, default=500)
    args = parser.parse_args()

    from search import _queries

    from paperboard.core.threads import limit_blas_for_serving
    from paperboard.index.query import parse_query
    from paperboard.index.shards import open_lexical

    limit_blas_for_serving()  # as `paperboard serve` does
    indexes = [open_lexical(args.first), open_lexical(args.second)]
    for folder, index in zip((args.first, args.second), indexes, strict=True):
        shards = len(getattr(index, "shards", [index]))
        print(f"{folder}: {index.count():,} papers in {shards} shard(s)")
    queries = [parse_query(text) for text in _queries(args.queries)]
    for k in (10, 100):
        for query in queries:
            for index in indexes:
                index.search_ids(query, k=k)
        samples: list[list[float]] = [[], []]
        shared = []
        for query in queries:
            found = []
            for index, times in zip(indexes, samples, strict=True):
                started = time.perf_counter()
                found.append({pid for pid, _ in index.search_ids(query, k=k)})
                times.append((time.perf_counter() - started) * 1000)
            shared.append(len(found[0] & found[1]) / max(1, len(found[0])))
        (a50, a95), (b50, b95) = (_percentiles(times) for times in samples)
        print(
            f"  k={k:<3}  first p50 {a50:6.2f} p95 {a95:6.2f} ms   second p50 {b50:6.2f} "
            f"p95 {b95:6.2f} ms   ratio p50 {b50 / a50:.2f} p95 {b95 / a95:.2f}   "
            f"top {k} shared {statistics.mean(shared):.1%} (least {min(shared):.0%})"
        )


if __name__ == "__main__":
    main()
