"""Ingest benchmark: papers per second into SQLite, against a plain ``json.loads`` pass.

1. ``../shared/data/arxiv-2025.jsonl.gz`` (40k real arXiv records);
2. a synthetic snapshot of 1,000,000 records generated from it (titles and abstracts recombined
   from real ones, unique ids), written once to ``bench/out/`` and reused.

For each file it times a plain pass (read lines, ``json.loads`` each) and then the import
(``run_import`` of the snapshot source, as ``paperboard ingest snapshot`` runs it, in a child
process, into a new SQLite database; the lexical index the command brings up to date afterwards is
not timed here: ``bench/search.py`` times its build). It prints papers/s (wall-clock of the child,
start-up included, and the rate the import itself reports), the ratio plain/import, the CPU time
of all import processes per paper (steadier than the rate on a machine shared with other jobs)
and the import's peak memory (max RSS of its processes). ``--repeat N`` runs plain pass and import
N times, alternating, and ends with the median.

    python bench/ingest.py                              # both files
    python bench/ingest.py --records 200000             # a smaller synthetic file
    python bench/ingest.py --skip-real --repeat 3       # the 1M file, three times
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import random
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
REAL = ROOT.parent / "shared" / "data" / "arxiv-2025.jsonl.gz"
OUT = HERE / "out"


def _open(path: Path):  # type: ignore[no-untyped-def]
    return gzip.open(path, "rb") if path.suffix == ".gz" else open(path, "rb")


def plain_pass(path: Path) -> tuple[int, float]:
    """Lines parsed with json.loads, and the seconds it took."""
    started = time.perf_counter()
    count = 0
    with _open(path) as stream:
        for line in stream:
            if line.strip():
                json.loads(line)
                count += 1
    return count, time.perf_counter() - started


def synthesize(count: int, seed: int = 7) -> Path:
    """A snapshot file of ``count`` records recombined from the real ones (cached in bench/out)."""
    target = OUT / f"synthetic-{count}-{seed}.jsonl"
    if target.exists():
        return target
    OUT.mkdir(exist_ok=True)
    rng = random.Random(seed)
    real = [json.loads(line) for line in _open(REAL)]
    sentences = [re.split(r"(?<=\.)\s+", r["abstract"].strip()) for r in real]
    titles = [r["title"].split() for r in real]
    # five-digit arXiv numbers exist from 2015 on: 99,999 ids a month from 1501
    months = [f"{year:02d}{month:02d}" for year in range(15, 100) for month in range(1, 13)]
    partial = target.with_suffix(".partial")
    with open(partial, "w", encoding="utf-8") as out:
        for index in range(count):
            base = rng.choice(real)
            a, b = rng.choice(titles), rng.choice(titles)
            title = " ".join(a[: max(1, len(a) // 2)] + b[len(b) // 2 :])
            parts = rng.choice(sentences)[:3] + rng.choice(sentences)[3:]
            record = dict(base)
            record["id"] = f"{months[index // 99_999]}.{index % 99_999 + 1:05d}"
            record["title"] = title
            record["abstract"] = "\n".join(parts)
            out.write(json.dumps(record) + "\n")
    partial.rename(target)
    return target


def timed_import(path: Path) -> dict[str, float]:
    """One import of ``path`` into a new home, in a child process: wall seconds, the rate the
    import reported, CPU seconds of its processes and their peak RSS in MiB."""
    home = Path(tempfile.mkdtemp(prefix="paperboard-bench-"))
    env = {k: v for k, v in os.environ.items() if not k.startswith("PAPERBOARD_")}
    command = [sys.executable, __file__, "--child", str(path), str(home)]
    try:
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        started = time.perf_counter()
        done = subprocess.run(command, env=env, capture_output=True, text=True)
        seconds = time.perf_counter() - started
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        if done.returncode != 0:
            raise SystemExit(f"import failed: {done.stderr.strip() or done.stdout.strip()}")
        summary = done.stdout.strip().splitlines()[-1]
        inside = re.search(r"([\d,]+)/s\)$", summary)
        cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
        return {
            "seconds": seconds,
            "inside": float(inside[1].replace(",", "")) if inside else 0.0,
            "cpu": cpu,
            "peak_mib": max(after.ru_maxrss, before.ru_maxrss) / 1024,
        }
    finally:
        shutil.rmtree(home, ignore_errors=True)


def child(path: Path, home: Path) -> None:
    """The import alone, as the CLI runs it (one process per core), without the index update."""
    from paperboard.core.config import load_settings
    from paperboard.sources.snapshot import SnapshotSource
    from paperboard.store.importer import run_import
    from paperboard.store.papers import PaperStore

    store = PaperStore.open(load_settings(home=home, database_url=None))
    report = run_import(store, SnapshotSource(path))
    print(report.summary())
    if not report.ok:
        raise SystemExit(1)


def measure(label: str, path: Path, repeat: int = 1) -> dict[str, float]:
    runs = []
    for run in range(repeat):
        count, plain_seconds = plain_pass(path)
        timed = timed_import(path)
        plain_rate, rate = count / plain_seconds, count / timed["seconds"]
        runs.append(
            {
                "records": count,
                "plain_rate": plain_rate,
                "rate": rate,
                "inside": timed["inside"],
                "ratio": plain_rate / rate,
                "cpu_us": timed["cpu"] / count * 1e6,
                "peak_mib": timed["peak_mib"],
            }
        )
        _print(f"{label}, run {run + 1} of {repeat}" if repeat > 1 else label, runs[-1])
    if repeat == 1:
        return runs[0]
    median = {key: statistics.median(r[key] for r in runs) for key in runs[0]}
    _print(f"{label}, median of {repeat}", median)
    return median


def _print(label: str, run: dict[str, float]) -> None:
    print(f"{label}: {run['records']:,.0f} records (load average {os.getloadavg()[0]:.1f})")
    print(f"  plain json.loads pass : {run['plain_rate']:>10,.0f} records/s")
    print(
        f"  import into SQLite    : {run['rate']:>10,.0f} papers/s wall, "
        f"{run['inside']:,.0f}/s inside, peak RSS {run['peak_mib']:,.0f} MiB"
    )
    print(f"  ratio plain/import    : {run['ratio']:>10.2f}x slower than the plain parse (wall)")
    print(f"  CPU of the import     : {run['cpu_us']:>10.1f} us per paper, all processes")
    sys.stdout.flush()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--records", type=int, default=1_000_000, help="synthetic file size")
    parser.add_argument("--skip-synthetic", action="store_true")
    parser.add_argument("--skip-real", action="store_true")
    parser.add_argument("--repeat", type=int, default=1, help="runs of each file")
    parser.add_argument("--child", nargs=2, type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(*args.child)
        return
    if not REAL.exists():
        raise SystemExit(f"missing {REAL}: the shared data folder must sit beside the repository")
    if not args.skip_real:
        measure("real arXiv 2025 (gzip)", REAL, args.repeat)
    if not args.skip_synthetic:
        started = time.perf_counter()
        synthetic = synthesize(args.records)
        print(f"(synthetic file ready in {time.perf_counter() - started:.0f}s: {synthetic})")
        measure(f"synthetic {args.records:,} (plain JSONL)", synthetic, args.repeat)


if __name__ == "__main__":
    main()
