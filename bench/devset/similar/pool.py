"""Build the query-by-example ("similar papers") development set: pick the query papers, pool
the candidates to judge, and compile the judgments into qrels.

Query papers: 32 papers of ``../shared/data/arxiv-2025.jsonl.gz``, stratified by primary category
(see :func:`choose`); half are the dev split, half the test split (``split.json``, fixed by seed;
never tune on test). For each query paper, the top 15 of four rankers are pooled: BM25 over the
project's lexical index with the whole title and abstract as the query, embedding cosine (MiniLM,
the project's embedder), and today's similar-papers rankings (its lexical "more like this" and its
fused hybrid). The judge reads ``pools/<qid>.json`` (candidates sorted by id, no ranker or rank
shown) and writes ``judgments/<qid>.tsv`` (candidate id, grade 0-3, reason).

    python bench/devset/similar/pool.py choose                       # queries.jsonl, split.json
    python bench/devset/similar/pool.py pool --home /tmp/bench40k    # pools/ (a home with the
                                                                     # 40k papers indexed)
    python bench/devset/similar/pool.py compile                      # qrels/, dev/, test/
    paperboard eval bench/devset/similar/dev --similar \\
        --corpus ../shared/data/arxiv-2025.jsonl.gz --home /tmp/bench40k
"""

from __future__ import annotations

import argparse
import gzip
import json
import random
from collections import Counter
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
CORPUS = HERE.parents[2].parent / "shared" / "data" / "arxiv-2025.jsonl.gz"
QUERIES = 32
MIN_CATEGORY = 100  # primary categories with at least this many papers get a query each
MIN_WORDS = 100  # query papers need an abstract of at least this many words
SEED = 2025
DEPTH = 15


def _papers() -> list[dict[str, Any]]:
    with gzip.open(CORPUS, "rt", encoding="utf-8") as handle:
        return [json.loads(line) for line in handle]


def choose() -> None:
    """Every primary category with >= MIN_CATEGORY papers gets one query; the rest are shared out
    in proportion to the categories' sizes (largest remainder); within a category the papers are
    drawn by ``random.Random(SEED)`` from those with an abstract of >= MIN_WORDS words."""
    papers = _papers()
    by_category: dict[str, list[dict[str, Any]]] = {}
    for paper in papers:
        by_category.setdefault(paper["categories"].split()[0], []).append(paper)
    sizes = Counter({c: len(p) for c, p in by_category.items() if len(p) >= MIN_CATEGORY})
    total = sum(sizes.values())
    rest = QUERIES - len(sizes)
    shares = {c: rest * n / total for c, n in sizes.items()}
    quota = {c: 1 + int(s) for c, s in shares.items()}
    left = QUERIES - sum(quota.values())
    for c in sorted(shares, key=lambda c: shares[c] - int(shares[c]), reverse=True)[:left]:
        quota[c] += 1
    rng = random.Random(SEED)
    chosen: list[tuple[str, dict[str, Any]]] = []
    for category in sorted(quota):
        eligible = sorted(
            (p for p in by_category[category] if len(p["abstract"].split()) >= MIN_WORDS),
            key=lambda p: p["id"],
        )
        chosen += [(category, p) for p in rng.sample(eligible, quota[category])]
    lines = []
    for number, (category, paper) in enumerate(chosen, start=1):
        title = " ".join(paper["title"].split())
        lines.append(
            json.dumps(
                {"_id": f"s{number:02d}", "text": title, "paper": paper["id"], "category": category}
            )
        )
    (HERE / "queries.jsonl").write_text("\n".join(lines) + "\n")
    ids = [f"s{n:02d}" for n in range(1, len(chosen) + 1)]
    rng.shuffle(ids)
    half = len(ids) // 2
    split = {"seed": SEED, "dev": sorted(ids[:half]), "test": sorted(ids[half:])}
    (HERE / "split.json").write_text(json.dumps(split, indent=1) + "\n")
    print(dict(sorted(quota.items())))


def _queries() -> list[dict[str, Any]]:
    return [json.loads(line) for line in (HERE / "queries.jsonl").read_text().splitlines()]


def _full_text_bm25(index: Any, row: dict[str, Any], k: int) -> list[str]:
    """BM25 over title and abstract with every non-stopword of the paper's title and abstract
    as a should-term (the whole text as the query)."""
    from tantivy import Occur, Query

    from paperboard.index import lexical

    lex = index.lexical
    searcher = lex._searcher()
    text = f"{row['title'] or ''} {row['abstract'] or ''}"
    terms = dict.fromkeys(
        t
        for _, t in lexical._tokens(lexical._TEXT, text)
        if len(t) > 1 and not t.isdigit() and t not in lexical._STEMMED_STOPWORDS
    )
    queries = [
        (Occur.Should, Query.term_query(lex._schema, field, term))
        for term in terms
        for field in ("title", "abstract")
    ]
    hits = searcher.search(Query.boolean_query(queries), k + 1, count=False).hits
    ids = lex._ids(searcher, [address for _, address in hits])
    return [i for i in ids if i != row["id"]][:k]


def pool(home: Path, *, lexical_only: bool = False) -> None:
    """Pool the candidates; a pool file already there is added to (so a judge can start on the
    lexical rankers' candidates while the embeddings are still being built)."""
    from paperboard.core.config import load_settings
    from paperboard.index.indexer import SearchIndex
    from paperboard.rank.similar import similar_rankings
    from paperboard.store.papers import PaperStore

    settings = load_settings(home=home, database_url=None)
    store = PaperStore.open(settings)
    index = SearchIndex(settings)
    if not lexical_only:
        assert index.dense_ready(), "the home has no embeddings"
        assert len(index.vectors) >= store.count(), "the home's embeddings are not all built yet"
    out = HERE / "pools"
    out.mkdir(exist_ok=True)
    sizes = []
    for query in _queries():
        row = store.get(query["paper"])
        assert row is not None, query
        found = [_full_text_bm25(index, row, DEPTH)]
        if lexical_only:
            found.append([pid for pid, _ in index.lexical.more_like(row, k=DEPTH)])
        else:
            rankings = similar_rankings(index, store, query["paper"], k=DEPTH)
            found += [rankings[m][:DEPTH] for m in ("dense", "lexical", "hybrid")]
        path = out / f"{query['_id']}.json"
        before = (
            {p["id"] for p in json.loads(path.read_text())["papers"]} if path.exists() else set()
        )
        ids = sorted(before | {pid for ranking in found for pid in ranking})
        rows = store.get_many(ids)
        # the judge sees neither the ranker nor the rank that brought a paper in
        papers = [
            {"id": pid, "title": rows[pid]["title"], "abstract": rows[pid]["abstract"]}
            for pid in ids
        ]
        path.write_text(
            json.dumps(
                {
                    "query": {"id": row["id"], "title": row["title"], "abstract": row["abstract"]},
                    "papers": papers,
                },
                indent=1,
            )
        )
        sizes.append(len(papers))
        print(f"{query['_id']}: {len(papers)} pooled ({len(papers) - len(before)} new)")
    print(f"{sum(sizes)} pooled in all")
    store.close()


def _fusion_rankings(index: Any, store: Any, row: dict[str, Any], depth: int) -> list[list[str]]:
    """The fusions measured for issue 13, pooled in the third pass: reciprocal-rank fusion at
    k = 10 of the dense and "more like this" rankings, and of those two and full-text BM25."""
    from paperboard.rank.search import fuse

    dense = [pid for pid, _ in index.neighbours.search(index.vectors.vector(row["id"]), 100)]
    dense = [pid for pid in dense if pid != row["id"]]
    more = [pid for pid, _ in index.lexical.more_like(row, k=100) if pid != row["id"]]
    bm25 = _full_text_bm25(index, row, 100)
    return [
        [pid for pid, _ in fuse(dense, more, k=10)][:depth],
        [pid for pid, _ in fuse(dense, more, bm25, k=10)][:depth],
    ]


def deepen(home: Path, depth: int, extra: list[Path]) -> None:
    """Third pass: the top ``depth`` of the four first rankers and of the fusions, plus the
    rankings in ``extra`` (JSON files: query id -> ranked ids, from rankers outside the product
    such as other embeddings); what is not judged yet goes to ``pools/<qid>.new.json``."""
    from paperboard.core.config import load_settings
    from paperboard.index.indexer import SearchIndex
    from paperboard.rank.similar import similar_rankings
    from paperboard.store.papers import PaperStore

    settings = load_settings(home=home, database_url=None)
    store = PaperStore.open(settings)
    index = SearchIndex(settings)
    assert index.dense_ready(), "the home has no embeddings"
    extras = [json.loads(path.read_text()) for path in extra]
    total = 0
    for query in _queries():
        row = store.get(query["paper"])
        assert row is not None, query
        rankings = similar_rankings(index, store, query["paper"], k=depth)
        found = [_full_text_bm25(index, row, depth)]
        found += [rankings[m][:depth] for m in ("dense", "lexical", "hybrid")]
        found += _fusion_rankings(index, store, row, depth)
        found += [ranked[query["_id"]][:depth] for ranked in extras]
        judged_path = HERE / "judgments" / f"{query['_id']}.tsv"
        judged = {line.split("\t", 1)[0] for line in judged_path.read_text().splitlines()}
        new = sorted({pid for ranking in found for pid in ranking} - judged)
        path = HERE / "pools" / f"{query['_id']}.json"
        pooled = json.loads(path.read_text())
        rows = store.get_many(new)
        fresh = [
            {"id": pid, "title": rows[pid]["title"], "abstract": rows[pid]["abstract"]}
            for pid in new
        ]
        known = {p["id"] for p in pooled["papers"]}
        pooled["papers"] = sorted(
            pooled["papers"] + [p for p in fresh if p["id"] not in known], key=lambda p: p["id"]
        )
        path.write_text(json.dumps(pooled, indent=1))
        (HERE / "pools" / f"{query['_id']}.new.json").write_text(
            json.dumps({"query": pooled["query"], "papers": fresh}, indent=1)
        )
        total += len(fresh)
        print(f"{query['_id']}: {len(fresh)} new to judge")
    print(f"{total} new to judge in all")
    store.close()


def compile_qrels() -> None:
    """qrels/test.tsv from every judgments file; dev/ and test/ hold the same for each split
    (``paperboard eval`` reads only ``qrels/test.tsv``, so a split is a folder of its own)."""
    split = json.loads((HERE / "split.json").read_text())
    queries = {q["_id"]: q for q in _queries()}
    judged: dict[str, list[tuple[str, int]]] = {}
    for path in sorted((HERE / "judgments").glob("*.tsv")):
        rows = []
        for line in path.read_text().splitlines():
            pid, grade, _reason = line.split("\t", 2)
            assert grade in "0123" and len(grade) == 1, (path.name, line)
            rows.append((pid, int(grade)))
        judged[path.stem] = rows
        pooled = {
            p["id"]
            for p in json.loads((HERE / "pools" / path.name.replace(".tsv", ".json")).read_text())[
                "papers"
            ]
        }
        missing = pooled - {pid for pid, _ in rows}
        assert not missing, f"{path.name}: pooled but not judged: {sorted(missing)}"

    def write(folder: Path, qids: list[str]) -> None:
        (folder / "qrels").mkdir(parents=True, exist_ok=True)
        qids = [q for q in qids if q in judged]
        lines = ["query-id\tcorpus-id\tscore"]
        lines += [f"{q}\t{pid}\t{g}" for q in qids for pid, g in judged[q]]
        (folder / "qrels" / "test.tsv").write_text("\n".join(lines) + "\n")
        if folder != HERE:
            (folder / "queries.jsonl").write_text(
                "".join(json.dumps(queries[q]) + "\n" for q in qids)
            )
        print(f"{folder.name}: {len(qids)} judged queries, {len(lines) - 1} judgments")

    write(HERE, sorted(judged))
    for name in ("dev", "test"):
        write(HERE / name, split[name])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("step", choices=["choose", "pool", "deepen", "compile"])
    parser.add_argument("--depth", type=int, default=20, help="deepen: how deep to pool")
    parser.add_argument(
        "--extra", type=Path, action="append", default=[], help="deepen: more rankings (JSON)"
    )
    parser.add_argument("--home", type=Path)
    parser.add_argument("--lexical-only", action="store_true", help="pool the lexical rankers only")
    args = parser.parse_args()
    if args.step == "choose":
        choose()
    elif args.step == "pool":
        if args.home is None:
            parser.error("pool needs --home")
        pool(args.home, lexical_only=args.lexical_only)
    elif args.step == "deepen":
        if args.home is None:
            parser.error("deepen needs --home")
        deepen(args.home, args.depth, args.extra)
    else:
        compile_qrels()


if __name__ == "__main__":
    main()
