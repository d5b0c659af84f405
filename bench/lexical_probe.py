"""Lexical index probe: build time and query latency over the 40k real arXiv records.

Reads ``../shared/data/arxiv-2025.jsonl.gz`` with the snapshot parser and ``prepare`` (timed apart),
indexes every paper into a fresh tantivy index in a temporary folder (one commit), then times
top-10 OR queries of 2-4 words drawn from real titles (seeded), with and without highlighting, and
``search_ids`` with k=100 (the hybrid fusion path). Prints the figures; writes nothing else.

    python bench/lexical_probe.py                  # all records, 1000 queries
    python bench/lexical_probe.py --records 5000 --queries 200
"""

from __future__ import annotations

import argparse
import dataclasses
import gzip
import os
import random
import re
import sys
import tempfile
import time
from pathlib import Path

import orjson

from paperboard.index.lexical import LexicalIndex
from paperboard.index.query import STOPWORDS, parse_query
from paperboard.sources.normalize import prepare
from paperboard.sources.snapshot import parse_entry

ROOT = Path(__file__).resolve().parent.parent
REAL = ROOT.parent / "shared" / "data" / "arxiv-2025.jsonl.gz"


def load(path: Path, limit: int | None) -> list[dict]:
    papers = []
    with gzip.open(path, "rb") as stream:
        for line in stream:
            if limit is not None and len(papers) >= limit:
                break
            try:
                record = prepare(parse_entry(orjson.loads(line)))
            except ValueError:
                continue
            paper = dataclasses.asdict(record)
            paper["feed_date"] = record.published_at.date() if record.published_at else None
            papers.append(paper)
    return papers


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=None)
    parser.add_argument("--queries", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()

    started = time.perf_counter()
    papers = load(REAL, args.records)
    load_s = time.perf_counter() - started
    print(f"loaded {len(papers):,} papers in {load_s:.1f} s (parse + prepare, not indexing)")

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "lexical"
        started = time.perf_counter()
        index = LexicalIndex.open(folder)
        for at in range(0, len(papers), 5000):
            index.upsert(papers[at : at + 5000])
        index.commit()
        build_s = time.perf_counter() - started
        size = sum(p.stat().st_size for p in folder.iterdir())
        segments = index._index.searcher().num_segments
        print(
            f"built in {build_s:.2f} s ({len(papers) / build_s:,.0f} papers/s), "
            f"{size / 1e6:.1f} MB on disk, {segments} segment(s), count={index.count():,}"
        )

        rng = random.Random(args.seed)
        words = [
            [w for w in re.findall(r"[a-z]{3,}", (p["title"] or "").lower()) if w not in STOPWORDS]
            for p in papers
        ]
        vocab = [w for ws in words for w in ws]
        queries = []
        while len(queries) < args.queries:
            own = words[rng.randrange(len(words))]
            n = rng.randint(2, 4)
            # half from one title (realistic co-occurring words), half random title words
            picked = rng.sample(own, min(n, len(own))) if rng.random() < 0.5 and own else []
            picked += [rng.choice(vocab) for _ in range(n - len(picked))]
            queries.append(parse_query(" ".join(picked)))

        def time_it(label: str, run) -> None:  # type: ignore[no-untyped-def]
            # Pass 1 meets each query's postings for the first time (pages faulted in from the OS
            # cache); pass 2 repeats the same queries. "cpu" is the calling thread's CPU time
            # (tantivy searches in that thread), which leaves out waiting for a core on a busy
            # machine; "wall" includes it.
            for number in (1, 2):
                wall, cpu = [], []
                for query in queries:
                    w0, c0 = time.perf_counter(), time.thread_time()
                    run(query)
                    cpu.append((time.thread_time() - c0) * 1000)
                    wall.append((time.perf_counter() - w0) * 1000)
                print(
                    f"{label:<26} pass {number}: wall p50 {percentile(wall, 0.5):5.2f} "
                    f"p95 {percentile(wall, 0.95):5.2f} ms | cpu p50 {percentile(cpu, 0.5):5.2f} "
                    f"p95 {percentile(cpu, 0.95):5.2f} ms"
                )

        time_it("search k=10, highlight", lambda q: index.search(q, k=10))
        time_it("search k=10, no highlight", lambda q: index.search(q, k=10, highlight=False))
        time_it("search_ids k=100", lambda q: index.search_ids(q, k=100))
        wall, cpu = [], []
        for paper in papers[:: max(1, len(papers) // 200)][:200]:
            w0, c0 = time.perf_counter(), time.thread_time()
            index.more_like(paper, k=50)
            cpu.append((time.thread_time() - c0) * 1000)
            wall.append((time.perf_counter() - w0) * 1000)
        print(
            f"{'more_like k=50':<26}         wall p50 {percentile(wall, 0.5):5.2f} "
            f"p95 {percentile(wall, 0.95):5.2f} ms | cpu p50 {percentile(cpu, 0.5):5.2f} "
            f"p95 {percentile(cpu, 0.95):5.2f} ms   ({len(wall)} papers)"
        )
        print(f"load average while measuring: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
        print("example queries:", ", ".join(repr(q.raw) for q in queries[:5]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
