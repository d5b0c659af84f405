""" "For you" on two halves of a recommendation set: tune on one, report the other.

Readers of a set in the layout of ``recsys-dev-2025`` are split by position (even: tune, odd:
held back); the product's model (``rank/for_you.py``) ranks every candidate for each, with the
crowding term as shipped and with it switched off (the pool's crowding set to zero). A change
to the model is kept only if it wins on both halves; the reader-by-reader gain (with a
bootstrap interval over readers) says how sure that is. The home is one ``paperboard eval
--recommend --home H`` has filled (the corpus imported).

    python bench/for_you_split.py ../shared/data/recsys-dev-2025 --home H
"""

from __future__ import annotations

import argparse
import statistics
from datetime import date
from pathlib import Path

import numpy as np


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("folder", type=Path)
    parser.add_argument("--home", type=Path, required=True)
    arguments = parser.parse_args()

    from paperboard.core.config import load_settings
    from paperboard.rank.evaluate import ndcg, recall
    from paperboard.rank.evaluate_recommend import load_readers
    from paperboard.rank.for_you import Extras, MemberModel, Pool, Signal, rank
    from paperboard.store.papers import PaperStore

    readers, qrels = load_readers(arguments.folder)
    store = PaperStore.open(load_settings(home=arguments.home, database_url=None))
    rows = {row["id"]: row for batch in store.changed_since(None) for row in batch}
    pools: dict[date, Pool] = {}
    variants = ("shipped", "no crowding")
    figures: dict[str, dict[int, list[tuple[float, float]]]] = {
        name: {0: [], 1: []} for name in variants
    }
    for n, reader in enumerate(readers):
        if reader.since not in pools:
            opened = [
                pid
                for pid, row in rows.items()
                if row["published_at"] and row["published_at"].date() >= reader.since
            ]
            counted = store.get_many(opened)
            pools[reader.since] = Pool([counted[pid] for pid in opened])
        pool = pools[reader.since]
        history = [pid for pid in reader.history if pid in rows]
        signals = [Signal(pid, 1.0, "which you upvoted") for pid in history]
        judged = qrels.get(reader.id, {})
        as_built = pool.crowding
        for name in variants:
            pool.crowding = as_built if name == "shipped" else np.zeros(len(pool))
            model = MemberModel.train(pool, signals, rows)
            picks = rank(model, extras=Extras(hidden=set(history)), k=100)
            ranked = [pool.ids[p.index] for p in picks]
            figures[name][n % 2].append((ndcg(ranked, judged, 20), recall(ranked, judged, 100)))
        pool.crowding = as_built
    store.close()
    shipped = [v for half in (0, 1) for v, _ in figures["shipped"][half]]
    plain = [v for half in (0, 1) for v, _ in figures["no crowding"][half]]
    gains = np.asarray(shipped) - np.asarray(plain)
    rng = np.random.default_rng(0)
    means = [float(rng.choice(gains, len(gains)).mean()) for _ in range(5000)]
    low, high = np.percentile(means, [2.5, 97.5])
    print(
        f"crowding, reader by reader: {int((gains > 0).sum())} better, "
        f"{int((gains < 0).sum())} worse, {int((gains == 0).sum())} the same; "
        f"mean nDCG@20 gain {gains.mean():+.4f} (bootstrap 95% interval {low:+.4f} to {high:+.4f})"
    )
    print("| model | nDCG@20 tune half | nDCG@20 held-back half | all | recall@100 all |")
    print("| --- | --- | --- | --- | --- |")
    for name in variants:
        halves = figures[name]
        both = halves[0] + halves[1]
        print(
            f"| {name} | {statistics.fmean(v for v, _ in halves[0]):.4f} "
            f"| {statistics.fmean(v for v, _ in halves[1]):.4f} "
            f"| {statistics.fmean(v for v, _ in both):.4f} "
            f"| {statistics.fmean(r for _, r in both):.3f} |"
        )


if __name__ == "__main__":
    main()
