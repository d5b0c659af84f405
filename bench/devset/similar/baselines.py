"""Similar papers against the plain baselines, on the dev and test splits of this set.

Issue 13 asks for every result next to the baselines, measured in the same run: the whole title
and abstract as a BM25 query (``pool.py``'s full-text ranker), the embedding cosine alone (which
is also paperboard's dense ranking), and their naive reciprocal-rank fusion (k = 60), beside
paperboard's lexical ranking and its hybrid before (RRF, k = 60) and now (score fusion). Prints
nDCG@20 (and nDCG@10) per split and the share of each ranking's top 20 that is judged (unjudged
papers count as not relevant); tune on dev only.

    python bench/devset/similar/baselines.py --home /tmp/bench40k   # a home with the 40k indexed
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
DEPTH = 100


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--home", type=Path, required=True)
    args = parser.parse_args()

    sys.path.insert(0, str(HERE))
    from pool import _full_text_bm25

    from paperboard.core.config import load_settings
    from paperboard.index.indexer import SearchIndex
    from paperboard.rank.evaluate import ndcg
    from paperboard.rank.search import fuse
    from paperboard.rank.similar import similar_rankings
    from paperboard.store.papers import PaperStore

    settings = load_settings(home=args.home, database_url=None)
    store = PaperStore.open(settings)
    index = SearchIndex(settings)
    assert index.dense_ready(), "the home has no embeddings"

    judged: dict[str, dict[str, int]] = {}
    with open(HERE / "qrels" / "test.tsv", newline="") as handle:
        for line in csv.DictReader(handle, delimiter="\t"):
            judged.setdefault(line["query-id"], {})[line["corpus-id"]] = int(line["score"])
    split = json.loads((HERE / "split.json").read_text())
    queries = [json.loads(line) for line in (HERE / "queries.jsonl").read_text().splitlines()]

    scores: dict[str, dict[str, list[tuple[float, float]]]] = {}
    for query in queries:
        row = store.get(query["paper"])
        assert row is not None, query
        ours = similar_rankings(index, store, query["paper"], k=DEPTH)
        bm25 = _full_text_bm25(index, row, DEPTH)
        runs = {
            "baseline BM25 full text": bm25,
            "baseline embedding cosine": ours["dense"],
            "baseline RRF(BM25 full text, cosine)": [pid for pid, _ in fuse(ours["dense"], bm25)],
            "paperboard lexical (more like this)": ours["lexical"],
            "paperboard hybrid before (RRF k = 60)": [
                pid for pid, _ in fuse(ours["dense"], ours["lexical"], k=60)
            ],
            "paperboard hybrid (score fusion)": ours["hybrid"],
        }
        part = "dev" if query["_id"] in split["dev"] else "test"
        for name, ranked in runs.items():
            grades = judged.get(query["_id"], {})
            scores.setdefault(name, {}).setdefault(part, []).append(
                (
                    ndcg(ranked, grades, 20),
                    ndcg(ranked, grades, 10),
                    sum(1 for pid in ranked[:20] if pid in grades) / 20,
                )
            )
    store.close()

    print(
        f"{'ranking':<40} {'dev@20':>7} {'test@20':>8} {'dev@10':>7} {'test@10':>8} "
        f"{'judged@20':>10}"
    )
    for name, parts in scores.items():

        def mean(part: str, at: int, parts: dict[str, list[tuple[float, ...]]] = parts) -> float:
            values = [row[at] for row in parts.get(part, [])]
            return sum(values) / len(values) if values else float("nan")

        judged_share = (mean("dev", 2) + mean("test", 2)) / 2
        print(
            f"{name:<40} {mean('dev', 0):>7.3f} {mean('test', 0):>8.3f} "
            f"{mean('dev', 1):>7.3f} {mean('test', 1):>8.3f} {judged_share:>10.2f}"
        )


if __name__ == "__main__":
    main()
