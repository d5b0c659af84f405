"""Build the judging pools of the development set.

For every query in ``queries.jsonl``, the top 20 of each search mode (lexical, dense, hybrid) over
the 40,717 papers of ``../shared/data/arxiv-2025.jsonl.gz`` are pooled; each pooled paper is then
judged 0 (not relevant), 1 (partly relevant) or 2 (relevant) by reading its title and abstract.
The judgments are kept in ``qrels/test.tsv``; the pools in ``pools/`` show what was judged.

    python bench/devset/pool.py --home /tmp/bench40k     # a home with the 40k papers indexed
    paperboard eval bench/devset --corpus ../shared/data/arxiv-2025.jsonl.gz \\
        --home /tmp/bench40k-eval
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

HERE = Path(__file__).resolve().parent
DEPTH = 20


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--home", type=Path, required=True)
    args = parser.parse_args()

    from paperboard.core.config import load_settings
    from paperboard.index.indexer import SearchIndex
    from paperboard.rank.search import search
    from paperboard.store.papers import PaperStore

    settings = load_settings(home=args.home, database_url=None)
    store = PaperStore.open(settings)
    index = SearchIndex(settings)
    out = HERE / "pools"
    out.mkdir(exist_ok=True)
    for line in (HERE / "queries.jsonl").read_text().splitlines():
        query = json.loads(line)
        pooled: dict[str, dict] = {}
        for mode in ("lexical", "dense", "hybrid"):
            for hit in search(index, store, query["text"], mode=mode, k=DEPTH).hits:
                # the judge sees neither the mode nor the rank that brought a paper in
                pooled[hit.id] = {
                    "id": hit.id,
                    "title": hit.paper["title"],
                    "abstract": hit.paper["abstract"],
                }
        (out / f"{query['_id']}.json").write_text(
            json.dumps(
                {"query": query["text"], "papers": sorted(pooled.values(), key=lambda p: p["id"])},
                indent=1,
            )
        )
        print(f"{query['_id']}: {len(pooled)} pooled")


if __name__ == "__main__":
    main()
