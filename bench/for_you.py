""" "For you" model costs per member: training from 5–50 signals and scoring a day's new papers.

Over a home's papers (the 40k real ones of ``bench/search.py``): the pool is 2,000 papers (about a
day of arXiv), the signals are drawn from the other papers. Printed: the pool's build (once per
digest run or site process), training and scoring per member (median and p95 over 300 members),
and, as the baseline in the same process, the cosine of the pool to a centroid of embeddings
(what a linear model on embeddings costs to score). Targets: training at most 50 ms, scoring
2,000 papers at most 20 ms.

    python bench/for_you.py --home /tmp/bench40k
"""

from __future__ import annotations

import argparse
import random
import statistics
import time
from pathlib import Path

import numpy as np


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--home", type=Path, required=True)
    parser.add_argument("--members", type=int, default=300)
    arguments = parser.parse_args()

    from paperboard.core.config import load_settings
    from paperboard.index.indexer import SearchIndex
    from paperboard.rank.for_you import MemberModel, Pool, Signal, rank
    from paperboard.store.papers import PaperStore

    settings = load_settings(home=arguments.home, database_url=None)
    store = PaperStore.open(settings)
    rows = [row for batch in store.changed_since(None) for row in batch]
    rng = random.Random(3)
    rng.shuffle(rows)
    counted = store.get_many([row["id"] for row in rows[:2000]])
    pool_rows = [counted[row["id"]] for row in rows[:2000]]
    others = {row["id"]: row for row in rows[2000:]}
    started = time.perf_counter()
    pool = Pool(pool_rows)
    build = time.perf_counter() - started
    index = SearchIndex(settings)
    dense = index.dense_ready()
    if dense:
        embedding = index.vectors.rows([index.vectors.row_of[row["id"]] for row in pool_rows])
    train, score, baseline = [], [], []
    keys = list(others)
    for _ in range(arguments.members):
        chosen = rng.sample(keys, rng.randint(5, 50))
        signals = [Signal(pid, -1.0 if n % 5 == 4 else 1.0, "x") for n, pid in enumerate(chosen)]
        t0 = time.perf_counter()
        model = MemberModel.train(pool, signals, others)  # type: ignore[arg-type]
        t1 = time.perf_counter()
        rank(model, k=20)
        t2 = time.perf_counter()
        train.append(t1 - t0)
        score.append(t2 - t1)
        if dense:
            seeds = index.vectors.rows([index.vectors.row_of[pid] for pid in chosen])
            t3 = time.perf_counter()
            np.argsort(-(embedding @ seeds.mean(axis=0)))[:20]
            baseline.append(time.perf_counter() - t3)

    def line(name: str, values: list[float]) -> str:
        ordered = sorted(values)
        p95 = ordered[int(0.95 * (len(ordered) - 1))]
        middle = statistics.median(values) * 1000
        return f"  {name:<38} median {middle:6.1f} ms   p95 {p95 * 1000:6.1f} ms"

    print(f"pool of {len(pool):,} papers built in {build * 1000:.0f} ms (once per run)")
    print(line("train (5–50 signals)", train))
    print(line("score and rank the pool", score))
    if baseline:
        print(line("baseline: embedding centroid cosine", baseline))
    store.close()


if __name__ == "__main__":
    main()
