"""Ingest benchmark: papers per second into SQLite, against a plain ``json.loads`` pass.

1. ``../shared/data/arxiv-2025.jsonl.gz`` (40k real arXiv records);
2. a synthetic snapshot of 1,000,000 records generated from it (titles and abstracts recombined
   from real ones, unique ids), written once to ``bench/out/`` and reused.

For each file it times a plain pass (read lines, ``json.loads`` each) and the real import
(``paperboard ingest snapshot`` in a child process, into a new SQLite database), and prints
papers/s, the ratio import/plain, and the import's peak memory (max RSS of the child).

    python bench/ingest.py                 # both files
    python bench/ingest.py --records 200000  # a smaller synthetic file
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


def timed_import(path: Path) -> tuple[float, float, str]:
    """(seconds, peak RSS in MiB, summary line) of ``paperboard ingest snapshot`` into a new
    home."""
    home = Path(tempfile.mkdtemp(prefix="paperboard-bench-"))
    env = {k: v for k, v in os.environ.items() if not k.startswith("PAPERBOARD_")}
    env["PAPERBOARD_HOME"] = str(home)
    command = [sys.executable, "-m", "paperboard", "ingest", "snapshot", str(path)]
    try:
        before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
        started = time.perf_counter()
        done = subprocess.run(command, env=env, capture_output=True, text=True)
        seconds = time.perf_counter() - started
        peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
        if done.returncode != 0:
            raise SystemExit(f"import failed: {done.stderr.strip()}")
        summary = done.stdout.strip().splitlines()[-1]
        return seconds, max(peak, before) / 1024, summary
    finally:
        shutil.rmtree(home, ignore_errors=True)


def measure(label: str, path: Path) -> dict[str, float]:
    count, plain_seconds = plain_pass(path)
    seconds, peak_mib, summary = timed_import(path)
    plain_rate, rate = count / plain_seconds, count / seconds
    print(f"{label}: {count:,} records")
    print(f"  plain json.loads pass : {plain_rate:>10,.0f} records/s ({plain_seconds:.1f}s)")
    print(
        f"  import into SQLite    : {rate:>10,.0f} papers/s "
        f"({seconds:.1f}s, peak RSS {peak_mib:,.0f} MiB)"
    )
    print(f"  ratio plain/import    : {plain_rate / rate:>10.2f}x slower than the plain parse")
    print(f"  paperboard said       : {summary}")
    return {"records": count, "rate": rate, "plain_rate": plain_rate, "peak_mib": peak_mib}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--records", type=int, default=1_000_000, help="synthetic file size")
    parser.add_argument("--skip-synthetic", action="store_true")
    args = parser.parse_args()
    if not REAL.exists():
        raise SystemExit(f"missing {REAL}: the shared data folder must sit beside the repository")
    measure("real arXiv 2025 (gzip)", REAL)
    if not args.skip_synthetic:
        started = time.perf_counter()
        synthetic = synthesize(args.records)
        print(f"(synthetic file ready in {time.perf_counter() - started:.0f}s: {synthetic})")
        measure(f"synthetic {args.records:,} (plain JSONL)", synthetic)


if __name__ == "__main__":
    main()
