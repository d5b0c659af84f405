"""Cluster benchmark: a second node's time to become ready from the shared PostgreSQL.

A PostgreSQL server is started for the run (durable defaults, with bulk-load friendly
``shared_buffers`` and ``max_wal_size``; kept in ``--pg-dir`` between runs) unless
``--database-url`` names one. Then:

1. the synthetic corpus of the ingest benchmark (``--papers`` records: real titles and abstracts
   recombined) is imported into it (skipped when already there), rate printed;
2. one random unit vector per paper is stored in the database (with the hash of the paper's
   text), as a worker that embedded them would have (copying and indexing take as long whatever
   the numbers are; real embeddings at 2.7M would take hours here);
3. a *second node* (a fresh process with an empty ``HOME``) refreshes its replica from the
   database: lexical index, vectors copied, nearest-neighbour index built. Its time to ready, each
   step, and its peak RSS are printed; then a search per mode is timed on it.

    python bench/cluster.py --papers 100000 --pg-dir /tmp/bench-pg --home /tmp/bench-node
    python bench/cluster.py --papers 2700000 --pg-dir /tmp/bench-pg27 --home /tmp/bench-node27
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))


def _pg_bin(name: str) -> str:
    found = sorted(Path("/usr/lib/postgresql").glob(f"*/bin/{name}"))
    if not found:
        raise SystemExit(f"{name} not found: apt-get install postgresql")
    return str(found[-1])


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def start_postgres(folder: Path) -> tuple[str, list[str]]:
    """Start (initialising if new) a PostgreSQL cluster in ``folder``; its URL and stop command."""
    prefix = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
    data = folder / "data"
    if not data.exists():
        folder.mkdir(parents=True, exist_ok=True)
        if prefix:
            shutil.chown(folder, "postgres")
        subprocess.run(
            [*prefix, _pg_bin("initdb"), "-D", str(data), "-U", "postgres", "-A", "trust"],
            check=True,
            capture_output=True,
        )
    port = _free_port()
    options = (
        f"-p {port} -k {folder} -c listen_addresses=127.0.0.1 "
        "-c shared_buffers=1GB -c max_wal_size=8GB -c maintenance_work_mem=512MB"
    )
    subprocess.run(
        [
            *prefix,
            _pg_bin("pg_ctl"),
            "-D",
            str(data),
            "-o",
            options,
            "-l",
            str(folder / "log"),
            "-w",
            "start",
        ],
        check=True,
        capture_output=True,
    )
    stop = [*prefix, _pg_bin("pg_ctl"), "-D", str(data), "-m", "fast", "stop"]
    return f"postgresql+psycopg://postgres@127.0.0.1:{port}/postgres", stop


def fill(database_url: str, papers: int) -> None:
    """Import the synthetic corpus and store a random vector per paper (both resumable)."""
    from ingest import synthesize

    from paperboard.core.config import load_settings
    from paperboard.index.indexer import SearchIndex, text_hash
    from paperboard.sources.snapshot import SnapshotSource
    from paperboard.store.importer import run_import
    from paperboard.store.papers import PaperStore

    home = Path(os.environ.get("TMPDIR", "/tmp")) / "bench-cluster-first-node"
    settings = load_settings(home=home, database_url=database_url)
    store = PaperStore.open(settings)
    stored = store.count()
    if stored < papers:
        source = synthesize(papers)
        started = time.perf_counter()
        report = run_import(store, SnapshotSource(source))
        seconds = time.perf_counter() - started
        if not report.ok:
            raise SystemExit(f"import failed: {report.failure or report.summary()}")
        print(
            f"  import into PostgreSQL  {report.read:,} records in {seconds:,.1f} s "
            f"({report.read / seconds:,.0f} papers/s)"
        )
    model = SearchIndex(settings).vector_model  # the model name a node will ask for
    present = store.embeddings.count(model)
    if present < papers:
        rng = np.random.default_rng(0)
        started = time.perf_counter()
        done = 0
        for batch in store.changed_since(None, batch=5000):
            stored = store.embeddings.get(model, [row["id"] for row in batch])
            batch = [row for row in batch if row["id"] not in stored]  # an earlier run's
            if not batch:
                continue
            matrix = rng.normal(size=(len(batch), 384)).astype(np.float32)
            matrix /= np.linalg.norm(matrix, axis=1, keepdims=True)
            half = matrix.astype(np.float16)
            store.embeddings.put(
                model,
                [
                    (row["id"], text_hash(row["title"], row["abstract"]), half[n].tobytes())
                    for n, row in enumerate(batch)
                ],
            )
            done += len(batch)
        seconds = time.perf_counter() - started
        print(f"  vectors into PostgreSQL {done:,} in {seconds:,.1f} s ({done / seconds:,.0f}/s)")
    print(f"  database: {store.count():,} papers, {store.embeddings.count(model):,} vectors")
    store.close()


def second_node(database_url: str, home: Path) -> None:
    """A fresh node: replica from the database, then a few searches (run in its own process)."""
    from paperboard.core.config import load_settings
    from paperboard.index.indexer import (
        SearchIndex,
        build_neighbours,
        folder_stamp,
        sync_lexical,
        sync_vectors,
    )
    from paperboard.rank.search import search
    from paperboard.store.papers import PaperStore

    settings = load_settings(home=home, database_url=database_url)
    store, index = PaperStore.open(settings), SearchIndex(settings)
    steps: dict[str, float] = {}
    started = time.perf_counter()
    sync_lexical(store, index)
    steps["lexical index from the database"] = time.perf_counter() - started
    mark = time.perf_counter()
    assert sync_vectors(store, index, embed=False) == 0  # copied, never embedded
    steps["vectors copied"] = time.perf_counter() - mark
    mark = time.perf_counter()
    build_neighbours(index)
    steps["nearest-neighbour index"] = time.perf_counter() - mark
    ready = time.perf_counter() - started
    print(
        f"  second node ready in {ready:,.1f} s "
        f"({len(index.vectors):,} vectors copied, {index.lexical.count():,} papers indexed; "
        f"{len(folder_stamp(index.folder / 'vectors'))} vector files)"
    )
    for name, seconds in steps.items():
        print(f"    {name:<32} {seconds:8,.1f} s")
    for mode in ("lexical", "dense", "hybrid"):
        search(index, store, "graph neural networks", mode=mode, k=10)  # warm
        times = []
        for query in ("diffusion models", "protein folding", "speech emotion", "vision language"):
            begun = time.perf_counter()
            search(index, store, query, mode=mode, k=10)
            times.append((time.perf_counter() - begun) * 1000)
        print(f"    search {mode:<8} {min(times):6.1f}–{max(times):6.1f} ms over 4 queries")
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            print(f"    peak RSS of the second node   {int(line.split()[1]) / 1024:8,.0f} MiB")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--papers", type=int, default=100_000)
    parser.add_argument("--pg-dir", type=Path, help="PostgreSQL cluster folder (kept)")
    parser.add_argument("--database-url", help="an existing PostgreSQL instead of --pg-dir")
    parser.add_argument("--home", type=Path, required=True, help="the second node's HOME (reset)")
    parser.add_argument(
        "--fill-only", action="store_true", help="import and store vectors, no second node"
    )
    parser.add_argument("--second-node-only", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.second_node_only:
        second_node(args.database_url, args.home)
        return
    stop: list[str] | None = None
    url = args.database_url
    if url is None:
        if args.pg_dir is None:
            raise SystemExit("give --pg-dir or --database-url")
        url, stop = start_postgres(args.pg_dir)
    try:
        print(f"cluster benchmark, {args.papers:,} synthetic papers")
        fill(url, args.papers)
        if args.fill_only:
            return
        shutil.rmtree(args.home, ignore_errors=True)
        args.home.mkdir(parents=True)
        command = [
            sys.executable,
            __file__,
            "--second-node-only",
            "--database-url",
            url,
            "--home",
            str(args.home),
        ]
        status = subprocess.call(command)
    finally:
        if stop is not None:
            subprocess.run(stop, capture_output=True)
    raise SystemExit(status)


if __name__ == "__main__":
    main()
