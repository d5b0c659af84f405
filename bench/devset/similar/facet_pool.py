"""Per-facet judgments for "similar background / method / result" on the dev split.

For each dev query paper and each facet, the top 10 of the product's facet ranking and the top 10
of its overall similar-papers ranking are pooled (union, sorted by id: the judge sees neither the
ranker nor the rank) into ``facets/<facet>/pools/<qid>.json``. The judge grades each candidate on
that facet alone, in ``facets/<facet>/judgments/<qid>.tsv`` (id, grade, reason):

* background: 2 the same problem or motivation, 1 a related problem or shared context, 0 neither;
* method: 2 the same core technique, 1 a related technique (same family), 0 a different one;
* result: 2 the same kind of finding on the same kind of measure, 1 partly alike, 0 neither.

``compile`` writes ``facets/<facet>/queries.jsonl`` and ``qrels/test.tsv``, so that

    paperboard eval bench/devset/similar/facets/method --similar -m method -m hybrid \\
        --corpus ../shared/data/arxiv-2025.jsonl.gz --home /tmp/bench40k

scores the facet ranking and the overall ranking on the method grades.

    python bench/devset/similar/facet_pool.py pool --home /tmp/bench40k
    python bench/devset/similar/facet_pool.py compile
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

HERE = Path(__file__).resolve().parent
FACET_DIR = HERE / "facets"
DEPTH = 10


def _dev_queries() -> list[dict[str, str]]:
    split = json.loads((HERE / "split.json").read_text())
    queries = [json.loads(line) for line in (HERE / "queries.jsonl").read_text().splitlines()]
    return [q for q in queries if q["_id"] in split["dev"]]


def pool(home: Path) -> None:
    from paperboard.core.config import load_settings
    from paperboard.index.facets import FACETS
    from paperboard.index.indexer import SearchIndex
    from paperboard.rank.similar import facet_ranking, similar_rankings
    from paperboard.store.papers import PaperStore

    settings = load_settings(home=home, database_url=None)
    store = PaperStore.open(settings)
    index = SearchIndex(settings)
    assert index.dense_ready() and index.facet_set() is not None, "no embeddings or facets"
    total = 0
    for query in _dev_queries():
        row = store.get(query["paper"])
        assert row is not None, query
        overall = similar_rankings(index, store, row["id"])["hybrid"][:DEPTH]
        for facet in FACETS:
            by_facet = [pid for pid, _, _ in facet_ranking(index, store, row["id"], facet)]
            ids = sorted(set(overall) | set(by_facet[:DEPTH]))
            rows = store.get_many(ids)
            folder = FACET_DIR / facet / "pools"
            folder.mkdir(parents=True, exist_ok=True)
            (folder / f"{query['_id']}.json").write_text(
                json.dumps(
                    {
                        "facet": facet,
                        "query": {
                            "id": row["id"],
                            "title": row["title"],
                            "abstract": row["abstract"],
                        },
                        "papers": [
                            {
                                "id": pid,
                                "title": rows[pid]["title"],
                                "abstract": rows[pid]["abstract"],
                            }
                            for pid in ids
                        ],
                    },
                    indent=1,
                )
            )
            total += len(ids)
    print(f"{total} (query, facet, paper) triples pooled")
    store.close()


def compile_qrels() -> None:
    from paperboard.index.facets import FACETS

    queries = {q["_id"]: q for q in _dev_queries()}
    for facet in FACETS:
        folder = FACET_DIR / facet
        lines = ["query-id\tcorpus-id\tscore"]
        judged = []
        for path in sorted((folder / "judgments").glob("*.tsv")):
            pooled = {
                p["id"]
                for p in json.loads((folder / "pools" / f"{path.stem}.json").read_text())["papers"]
            }
            seen = set()
            for line in path.read_text().splitlines():
                pid, grade, _reason = line.split("\t", 2)
                assert grade in ("0", "1", "2"), (path, line)
                seen.add(pid)
                lines.append(f"{path.stem}\t{pid}\t{grade}")
            assert pooled <= seen, f"{facet}/{path.name}: not judged: {sorted(pooled - seen)}"
            judged.append(path.stem)
        (folder / "qrels").mkdir(exist_ok=True)
        (folder / "qrels" / "test.tsv").write_text("\n".join(lines) + "\n")
        (folder / "queries.jsonl").write_text(
            "".join(json.dumps(queries[q]) + "\n" for q in judged)
        )
        print(f"{facet}: {len(judged)} queries, {len(lines) - 1} judgments")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("step", choices=["pool", "compile"])
    parser.add_argument("--home", type=Path)
    args = parser.parse_args()
    if args.step == "pool":
        if args.home is None:
            parser.error("pool needs --home")
        pool(args.home)
    else:
        compile_qrels()


if __name__ == "__main__":
    main()
