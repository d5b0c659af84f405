"""Search benchmark: latency of each mode, index build time and memory.

1. the 40,717 real papers of ``../shared/data/arxiv-2025.jsonl.gz``, with real embeddings;
2. 1,000,000 synthetic papers (the ingest benchmark's file: real titles and abstracts recombined),
   lexical index over their text and random unit vectors for the dense part (the query is still
   embedded by the real model, so its cost is included).

Any ``--synthetic`` size works the same way (2,700,000 is all of arXiv); the build prints the
import's rate and each step's time, and how much disk the home takes. A home is built once and
kept: run again, it resumes an interrupted import (records already stored are left as they are)
and goes on with the steps after it.

Queries are 2–4 word phrases taken from real titles (``--queries``, default 500). Each mode runs
every query once to warm up, then again timed; p50/p95 are of the timed pass. Similar papers (and
"similar method", the facet ranking) are timed for 200 papers drawn at random, after 50 warm-ups;
in a synthetic corpus the facet vectors are random unit vectors too (``--no-facets`` builds none:
at 2.7M they take 12 GB of disk, twice that while compacted). Peak RSS is the high-water mark of
a fresh process that loads the built indexes and runs the queries (the serving footprint),
read before the ANN recall check, whose exact search reads every vector; building is measured
separately.

    python bench/search.py --home /tmp/bench40k          # real papers (embeds them once: slow)
    python bench/search.py --synthetic 1000000 --home /tmp/bench1m
    python bench/search.py --synthetic 2700000 --home /tmp/bench2m7
"""

from __future__ import annotations

import argparse
import gzip
import json
import random
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
REAL = HERE.parent.parent / "shared" / "data" / "arxiv-2025.jsonl.gz"
sys.path.insert(0, str(HERE))


def _queries(count: int, seed: int = 3) -> list[str]:
    rng = random.Random(seed)
    with gzip.open(REAL, "rt") as lines:
        titles = [json.loads(line)["title"].split() for line in lines]
    out = []
    while len(out) < count:
        words = [w.strip(":,.()") for w in rng.choice(titles) if len(w.strip(":,.()")) > 3]
        if len(words) >= 2:
            size = rng.randint(2, min(4, len(words)))
            start = rng.randint(0, len(words) - size)
            out.append(" ".join(words[start : start + size]))
    return out


def _percentiles(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    return statistics.median(ordered), ordered[int(0.95 * (len(ordered) - 1))]


def _peak_mib() -> float:
    """This process's peak resident memory (VmHWM: unlike ru_maxrss, not inherited through exec)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def prepare(
    home: Path, synthetic: int | None, facets: bool = True
) -> tuple[object, object, dict[str, float]]:
    from paperboard.core.config import load_settings
    from paperboard.index.indexer import (
        SearchIndex,
        build_neighbours,
        sync_facets,
        sync_lexical,
        sync_vectors,
    )
    from paperboard.sources.snapshot import SnapshotSource
    from paperboard.store.importer import run_import
    from paperboard.store.papers import PaperStore

    settings = load_settings(home=home, database_url=None)
    store = PaperStore.open(settings)
    index = SearchIndex(settings)
    timings: dict[str, float] = {}
    source_path = REAL
    if synthetic:
        from ingest import synthesize

        source_path = synthesize(synthetic)
    stored = store.count()
    if stored == 0 or (synthetic and stored < synthetic):  # new, or an import cut short
        started = time.perf_counter()
        report = run_import(store, SnapshotSource(source_path))
        if not report.ok:
            raise SystemExit(f"import failed: {report.failure or report.summary()}")
        timings["import_s"] = time.perf_counter() - started
        timings["import_papers_per_s"] = report.read / timings["import_s"]
    started = time.perf_counter()
    sync_lexical(store, index)
    timings["lexical_build_s"] = time.perf_counter() - started
    started = time.perf_counter()
    if synthetic:
        _random_rows(store, index.vector_store, seed=0)
    else:
        sync_vectors(store, index)
    timings["embed_s"] = time.perf_counter() - started
    if facets:
        started = time.perf_counter()
        if synthetic:
            _random_rows(store, index.facet_store, seed=1)
        else:
            sync_facets(store, index)
        timings["facets_s"] = time.perf_counter() - started
    started = time.perf_counter()
    build_neighbours(index)
    timings["ann_build_s"] = time.perf_counter() - started
    return store, index, timings


def _random_rows(store, vectors, seed: int) -> None:  # type: ignore[no-untyped-def]
    """Random unit vectors for every paper without a row in ``vectors`` (the dense part and the
    facets at 1M, as the issue allows)."""
    known = vectors.known_hashes()
    rng = np.random.default_rng(seed)
    pending: list[str] = []
    for batch in store.changed_since(None, batch=20_000):
        pending.extend(row["id"] for row in batch if row["id"] not in known)
        if len(pending) >= 100_000:
            _append_random(vectors, pending, rng)
            pending = []
    _append_random(vectors, pending, rng)


def _append_random(vectors, ids: list[str], rng) -> None:  # type: ignore[no-untyped-def]
    if ids:
        matrix = rng.normal(size=(len(ids), vectors.dim)).astype(np.float32)
        if vectors.dim > 384:  # facets: three unit vectors side by side
            parts = matrix.reshape(len(ids), -1, 384)
            matrix = (parts / np.linalg.norm(parts, axis=2, keepdims=True)).reshape(len(ids), -1)
        else:
            matrix /= np.linalg.norm(matrix, axis=1, keepdims=True)
        vectors.append(ids, ["random"] * len(ids), matrix)


def measure(store, index, queries: list[str]) -> dict[str, tuple[float, float]]:  # type: ignore[no-untyped-def]
    from paperboard.rank.search import search

    results = {}
    for mode in ("lexical", "dense", "hybrid"):
        for query in queries:  # warm-up: caches, lazily loaded parts
            search(index, store, query, mode=mode, k=10)
        samples = []
        for query in queries:
            started = time.perf_counter()
            search(index, store, query, mode=mode, k=10)
            samples.append((time.perf_counter() - started) * 1000)
        results[mode] = _percentiles(samples)
    from paperboard.rank.similar import similar

    papers = random.Random(5).sample(index.vectors.ids, min(200, len(index.vectors.ids)))
    for facet in (None, "method") if index.facet_set() is not None else (None,):
        for paper in papers[:50]:  # warm-up
            similar(index, store, paper, k=10, facet=facet)
        samples = []
        for paper in papers:
            started = time.perf_counter()
            similar(index, store, paper, k=10, facet=facet)
            samples.append((time.perf_counter() - started) * 1000)
        results["similar" if facet is None else f"similar {facet}"] = _percentiles(samples)
    embed = []
    for query in queries[:200]:
        started = time.perf_counter()
        index.embedder.embed_query(query)
        embed.append((time.perf_counter() - started) * 1000)
    results["query embedding"] = _percentiles(embed)
    return results


def recall_check(index, queries: list[str]) -> None:  # type: ignore[no-untyped-def]
    """ANN recall@10 against exact search (which reads every vector)."""
    if not index.neighbours.exact:
        ids = index.vectors.ids
        hits = []
        for query in queries[:100]:
            vector = index.embedder.embed_query(query)
            truth = {ids[i] for i in np.argpartition(-index.vectors.scores(vector), 10)[:10]}
            found = {pid for pid, _ in index.neighbours.search(vector, 10)}
            hits.append(len(truth & found) / 10)
        print(f"  ANN recall@10 against exact search: {statistics.mean(hits):.3f}")


def _disk_gib(folder: Path) -> float:
    return sum(f.stat().st_size for f in folder.rglob("*") if f.is_file()) / 2**30


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--home", type=Path, required=True, help="kept between runs: built once")
    parser.add_argument(
        "--synthetic", type=int, default=None, help="papers in the synthetic corpus"
    )
    parser.add_argument("--queries", type=int, default=500)
    parser.add_argument(
        "--no-facets", action="store_true", help="build no facet vectors (no similar method)"
    )
    parser.add_argument("--serve-only", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if not args.serve_only:
        store, index, timings = prepare(args.home, args.synthetic, facets=not args.no_facets)
        label = f"synthetic {args.synthetic:,}" if args.synthetic else "real 40,717"
        print(
            f"{label}: {store.count():,} papers, {len(index.vectors):,} vectors "
            f"({'exact' if index.neighbours.exact else 'faiss IVF-SQ8'})"
        )
        for name, value in timings.items():
            print(f"  {name:<20} {value:10,.1f}")
        print(f"  build peak RSS       {_peak_mib():10,.0f} MiB")
        print(f"  home on disk         {_disk_gib(args.home):10,.1f} GiB")
        sys.stdout.flush()
        # Serving is measured in a fresh process, so the building above does not count in its RSS.
        command = [
            sys.executable,
            __file__,
            "--home",
            str(args.home),
            "--queries",
            str(args.queries),
            "--serve-only",
        ]
        raise SystemExit(subprocess.call(command))
    from paperboard.core.config import load_settings
    from paperboard.core.threads import limit_blas_for_serving
    from paperboard.index.indexer import SearchIndex
    from paperboard.store.papers import PaperStore

    limit_blas_for_serving()  # as `paperboard serve` does
    settings = load_settings(home=args.home, database_url=None)
    store, index = PaperStore.open(settings), SearchIndex(settings)
    queries = _queries(args.queries)
    for mode, (p50, p95) in measure(store, index, queries).items():
        print(f"  {mode:<16} p50 {p50:7.2f} ms   p95 {p95:7.2f} ms")
    print(
        f"  serving peak RSS {_peak_mib():,.0f} MiB "
        f"(a fresh process: index loaded, {len(queries)} queries per mode)"
    )
    sys.stdout.flush()
    recall_check(index, queries)


if __name__ == "__main__":
    main()
