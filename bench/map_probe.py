"""Map benchmark: time and peak memory of ``compute_map`` (the map of the literature).

1. the 40,717 real arXiv papers of ``../shared/data/arxiv-2025.jsonl.gz``, with 384-dimension
   vectors: ``--vectors FILE.npy`` (rows in the file's order, e.g. the real sentence embeddings),
   else TF-IDF + truncated SVD of title + abstract, L2-normalized (cached in ``bench/out/``);
2. 1,000,000 synthetic papers: real vectors drawn with replacement plus Gaussian noise (norm
   about 0.35 before renormalizing, so no two are alike), each with its source paper's text.

Each case runs in a child process, so the peak memory (max RSS) is that case's alone; it includes
the input vectors (1.5 GB at 1M x 384 float32). Prints the wall time of each stage, the map's
quality (how often a paper's 10 nearest papers on the map share its primary arXiv category,
against chance), and the largest clusters' labels; writes the map (JSON) and its picture (SVG)
to ``bench/out/``.

    python bench/map_probe.py                        # both cases
    python bench/map_probe.py --synthetic 200000     # a smaller synthetic corpus
    python bench/map_probe.py --skip-synthetic --vectors embeddings.npy
    python bench/map_probe.py --skip-real            # only the synthetic corpus
"""

from __future__ import annotations

import argparse
import gzip
import itertools
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
REAL = ROOT.parent / "shared" / "data" / "arxiv-2025.jsonl.gz"
OUT = HERE / "out"


def load_real() -> tuple[list[str], list[str], list[str]]:
    """(ids, texts, primary categories) of the real papers, in file order."""
    ids, texts, cats = [], [], []
    with gzip.open(REAL, "rt", encoding="utf-8") as lines:
        for line in lines:
            record = json.loads(line)
            ids.append(record["id"])
            texts.append(f"{record.get('title') or ''}. {record.get('abstract') or ''}")
            cats.append((record.get("categories") or "?").split()[0])
    return ids, texts, cats


def tfidf_vectors(texts: list[str]) -> Path:
    """TF-IDF + SVD to 384 dimensions, L2-normalized, cached."""
    target = OUT / f"map-tfidf-svd-384-{len(texts)}.npy"
    if target.exists():
        return target
    from sklearn.decomposition import TruncatedSVD
    from sklearn.feature_extraction.text import TfidfVectorizer

    started = time.perf_counter()
    tfidf = TfidfVectorizer(stop_words="english", min_df=3, max_df=0.5, sublinear_tf=True)
    vectors = TruncatedSVD(384, random_state=0).fit_transform(tfidf.fit_transform(texts))
    vectors = (vectors / np.linalg.norm(vectors, axis=1, keepdims=True)).astype(np.float32)
    OUT.mkdir(exist_ok=True)
    np.save(target, vectors)
    print(f"(TF-IDF + SVD vectors made in {time.perf_counter() - started:.0f}s: {target})")
    return target


def synthetic(vectors: np.ndarray, count: int, seed: int = 7) -> tuple[np.ndarray, np.ndarray]:
    """``count`` noisy copies of random real vectors, and the index of each one's source."""
    rng = np.random.default_rng(seed)
    source = rng.integers(0, len(vectors), size=count)
    out = np.empty((count, vectors.shape[1]), dtype=np.float32)
    sigma = 0.35 / np.sqrt(vectors.shape[1])
    for start in range(0, count, 100_000):
        chunk = vectors[source[start : start + 100_000]]
        chunk = chunk + rng.normal(scale=sigma, size=chunk.shape).astype(np.float32)
        out[start : start + 100_000] = chunk / np.linalg.norm(chunk, axis=1, keepdims=True)
    return out, source


def child(case: str, vectors_path: Path, count: int) -> None:
    """One measured run (in its own process)."""
    from paperboard.index.map_compute import compute_map
    from paperboard.index.map_data import to_json
    from paperboard.present.map_svg import render_svg

    ids, texts, cats = load_real()
    vectors = np.load(vectors_path)
    if case == "synthetic":
        vectors, source = synthetic(vectors, count)
        ids = [f"syn:{i:07d}" for i in range(count)]
        texts = [texts[i] for i in source]
        cats = [cats[i] for i in source]
    print(
        f"{case}: {len(ids):,} papers, vectors {vectors.shape[0]:,} x {vectors.shape[1]} "
        f"{vectors.dtype} ({vectors.nbytes / 2**20:,.0f} MiB)"
    )
    marks: list[tuple[float, str]] = []
    started = time.perf_counter()

    def progress(message: str) -> None:
        marks.append((time.perf_counter() - started, message))

    m = compute_map(ids, vectors, texts, progress=progress)
    seconds = time.perf_counter() - started
    marks.append((seconds, "done"))
    for (at, message), (until, _) in itertools.pairwise(marks):
        print(f"  {at:7.1f}s  {message}  ({until - at:.1f}s)")
    print(f"  compute_map: {seconds:.1f}s, method {m.method}, {len(m.clusters)} clusters")

    from scipy.spatial import cKDTree

    points = np.array([(p.x, p.y) for p in m.points])
    labels = np.array(cats)
    check = np.random.default_rng(0).choice(
        len(points), size=min(50_000, len(points)), replace=False
    )
    _, nb = cKDTree(points).query(points[check], k=11)
    agree = float((labels[nb[:, 1:]] == labels[check, None]).mean())
    shares = np.unique(labels, return_counts=True)[1] / len(labels)
    chance = float((shares**2).sum())
    print(f"  map neighbours sharing the primary category: {agree:.3f} (chance {chance:.3f})")
    for c in m.clusters[:12]:
        print(f"    {c.size:>7,}  {c.label}")
    OUT.mkdir(exist_ok=True)
    started = time.perf_counter()
    stored = json.dumps(to_json(m), separators=(",", ":"))
    (OUT / f"map-{case}.json").write_text(stored)
    svg = render_svg(m)
    (OUT / f"map-{case}.svg").write_text(svg)
    print(
        f"  to_json + render_svg: {time.perf_counter() - started:.1f}s; "
        f"JSON {len(stored) / 2**20:.1f} MiB, SVG {len(svg) / 2**20:.1f} MiB "
        f"-> bench/out/map-{case}.json, .svg"
    )


def run_child(case: str, vectors_path: Path, count: int) -> None:
    command = [sys.executable, __file__, "--child", case, "--vectors", str(vectors_path),
               "--synthetic", str(count)]  # fmt: skip
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    started = time.perf_counter()
    done = subprocess.run(command)
    seconds = time.perf_counter() - started
    peak = max(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, before) / 1024
    if done.returncode != 0:
        raise SystemExit(f"{case} failed (status {done.returncode})")
    print(f"  child process: {seconds:.1f}s in all (with loading the data), ", end="")
    print(f"peak RSS {peak:,.0f} MiB\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--vectors", type=Path, help="a .npy of the real papers' vectors, in file order"
    )
    parser.add_argument("--synthetic", type=int, default=1_000_000, help="synthetic corpus size")
    parser.add_argument("--skip-synthetic", action="store_true")
    parser.add_argument("--skip-real", action="store_true")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if not REAL.exists():
        raise SystemExit(f"missing {REAL}: the shared data folder must sit beside the repository")
    if args.child:
        child(args.child, args.vectors, args.synthetic)
        return
    vectors = args.vectors
    if vectors is None:
        vectors = tfidf_vectors(load_real()[1])
    if not args.skip_real:
        run_child("real", vectors, 0)
    if not args.skip_synthetic:
        run_child("synthetic", vectors, args.synthetic)


if __name__ == "__main__":
    main()
