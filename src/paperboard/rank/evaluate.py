"""Search quality on a judged set in BEIR layout: ``paperboard eval DIR``.

``DIR`` holds ``corpus.jsonl`` (``_id``, ``title``, ``text``), ``queries.jsonl`` (``_id``,
``text``, and optionally ``paper``: the corpus document the query *is*, for query-by-example) and
``qrels/test.tsv`` (``query-id``, ``corpus-id``, ``score``; graded relevance allowed). The corpus is
indexed in a temporary home (the model files are reused from the real one) and every query is
ranked by each mode; the metrics are the usual ones:

* nDCG@k with gains ``2^rel - 1`` and ideal ordering from the judgments;
* recall@100: the share of relevant documents (rel > 0) in the top 100;
* MRR@10: the reciprocal rank of the first relevant document in the top 10.

With ``similar=True``, a query that names a ``paper`` is ranked by the product's similar-papers
rankings for that paper (the paper itself excluded), and the modes may also name a facet
(``background``, ``method``, ``result``: the facet rankings); other queries are ranked from their
text.
"""

from __future__ import annotations

import csv
import math
import tempfile
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from paperboard.core.config import Settings
from paperboard.core.errors import InvalidIdError, PaperboardError
from paperboard.core.ids import parse_arxiv_id, slugify
from paperboard.core.records import PaperRecord

MODES = ("lexical", "dense", "hybrid")
DEPTH = 100


class EvalError(PaperboardError):
    """The judged set cannot be read."""


@dataclass
class JudgedSet:
    corpus: dict[str, dict[str, Any]]
    queries: dict[str, dict[str, Any]]
    qrels: dict[str, dict[str, int]]


def _jsonl(path: Path) -> list[dict[str, Any]]:
    if not path.is_file():
        raise EvalError(f"missing {path}")
    rows = []
    for number, line in enumerate(path.read_bytes().splitlines(), start=1):
        if not line.strip():
            continue
        try:
            row = orjson.loads(line)
        except orjson.JSONDecodeError as error:
            raise EvalError(f"{path.name} line {number}: invalid JSON ({error})") from None
        if not isinstance(row, dict) or "_id" not in row:
            raise EvalError(f"{path.name} line {number}: an object with an _id is needed")
        rows.append(row)
    return rows


def read_qrels(folder: Path) -> dict[str, dict[str, int]]:
    """``qrels/test.tsv`` of a judged set: query id -> document id -> grade."""
    path = Path(folder) / "qrels" / "test.tsv"
    if not path.is_file():
        raise EvalError(f"missing {path}")
    qrels: dict[str, dict[str, int]] = {}
    with open(path, newline="", encoding="utf-8") as handle:
        for number, row in enumerate(csv.reader(handle, delimiter="\t"), start=1):
            if not row or (number == 1 and row[0] == "query-id"):
                continue
            try:
                query_id, doc_id, score = row[0], row[1], int(row[2])
            except (IndexError, ValueError):
                raise EvalError(
                    f"qrels/test.tsv line {number}: expected query-id, corpus-id, score"
                ) from None
            qrels.setdefault(query_id, {})[doc_id] = score
    return qrels


def load_judged_set(folder: Path, *, corpus_ids: Iterable[str] | None = None) -> JudgedSet:
    """Read a BEIR-layout folder; raises EvalError with a one-line reason. ``corpus_ids`` stands
    in for ``corpus.jsonl`` when the documents come from a snapshot file instead."""
    folder = Path(folder)
    if corpus_ids is None:
        corpus = {str(row["_id"]): row for row in _jsonl(folder / "corpus.jsonl")}
    else:
        corpus = {doc_id: {"_id": doc_id} for doc_id in corpus_ids}
    queries = {str(row["_id"]): row for row in _jsonl(folder / "queries.jsonl")}
    qrels = read_qrels(folder)
    for query in queries.values():
        paper = query.get("paper")
        if paper is not None and str(paper) not in corpus:
            raise EvalError(f"query {query['_id']} names paper {paper}, which is not in the corpus")
    return JudgedSet(corpus, queries, qrels)


def ndcg(ranked: Sequence[str], judged: dict[str, int], k: int) -> float:
    gains = [2 ** judged.get(doc, 0) - 1 for doc in ranked[:k]]
    dcg = sum(g / math.log2(i + 2) for i, g in enumerate(gains))
    ideal = sorted((2**r - 1 for r in judged.values() if r > 0), reverse=True)[:k]
    idcg = sum(g / math.log2(i + 2) for i, g in enumerate(ideal))
    return dcg / idcg if idcg > 0 else 0.0


def recall(ranked: Sequence[str], judged: dict[str, int], k: int) -> float:
    relevant = {doc for doc, r in judged.items() if r > 0}
    return len(relevant & set(ranked[:k])) / len(relevant) if relevant else 0.0


def mrr(ranked: Sequence[str], judged: dict[str, int], k: int) -> float:
    for position, doc in enumerate(ranked[:k], start=1):
        if judged.get(doc, 0) > 0:
            return 1.0 / position
    return 0.0


def score_run(run: dict[str, list[str]], qrels: dict[str, dict[str, int]]) -> dict[str, float]:
    """Mean metrics over the judged queries that have at least one relevant document."""
    judged = [q for q in run if any(r > 0 for r in qrels.get(q, {}).values())]
    if not judged:
        return {"ndcg@10": 0.0, "ndcg@20": 0.0, "recall@100": 0.0, "mrr@10": 0.0}

    def mean(metric: Callable[[Sequence[str], dict[str, int], int], float], k: int) -> float:
        return sum(metric(run[q], qrels[q], k) for q in judged) / len(judged)

    return {
        "ndcg@10": mean(ndcg, 10),
        "ndcg@20": mean(ndcg, 20),
        "recall@100": mean(recall, DEPTH),
        "mrr@10": mean(mrr, 10),
    }


def _store_id(doc_id: str) -> str:
    try:
        return parse_arxiv_id(doc_id).id
    except InvalidIdError:
        return f"eval:{slugify(doc_id, 180)}"


def _load_corpus(
    store: Any, judged_folder: Path, snapshot: Path | None
) -> tuple[JudgedSet, dict[str, str]]:
    """Put the corpus in the store; returns the judged set and corpus id -> store id."""
    from paperboard.sources.normalize import prepare
    from paperboard.sources.snapshot import SnapshotSource
    from paperboard.store.importer import run_import

    if snapshot is not None:
        report = run_import(store, SnapshotSource(snapshot))
        if not report.ok:
            raise EvalError(f"cannot read the corpus {snapshot}: {report.failure or 'no records'}")
        ids = [pid for batch in store.changed_since(None) for pid in (r["id"] for r in batch)]
        return load_judged_set(judged_folder, corpus_ids=ids), {pid: pid for pid in ids}
    judged = load_judged_set(judged_folder)
    to_store = {doc_id: _store_id(doc_id) for doc_id in judged.corpus}
    if len(set(to_store.values())) != len(to_store):
        raise EvalError("two corpus ids map to the same paper id")
    records = [
        prepare(
            PaperRecord(
                id=to_store[doc_id],
                source="eval",
                title=row.get("title") or "",
                abstract=row.get("text") or "",
            )
        )
        for doc_id, row in judged.corpus.items()
    ]
    for start in range(0, len(records), 2000):
        store.write(records[start : start + 2000])
    return judged, to_store


def evaluate(
    folder: Path,
    settings: Settings,
    *,
    modes: Iterable[str] = MODES,
    similar: bool = False,
    corpus: Path | None = None,
    home: Path | None = None,
    progress: Callable[[str], None] | None = None,
) -> dict[str, dict[str, float]]:
    """Index the corpus in a temporary home (or ``home``, kept for the next run, which then only
    catches up) and score each mode on the queries. ``corpus``: a snapshot file instead of
    ``corpus.jsonl``."""
    from paperboard.index.facets import FACETS
    from paperboard.index.indexer import (
        SearchIndex,
        build_neighbours,
        sync_facets,
        sync_lexical,
        sync_vectors,
    )
    from paperboard.index.query import QueryError
    from paperboard.rank.search import ranked_ids
    from paperboard.rank.similar import facet_ranking, similar_rankings
    from paperboard.store.papers import PaperStore

    modes = list(modes)
    with tempfile.TemporaryDirectory(prefix="paperboard-eval-") as temporary:
        local = settings.model_copy(update={"home": Path(home or temporary), "database_url": None})
        store = PaperStore.open(local)
        try:
            judged, to_store = _load_corpus(store, folder, corpus)
            back = {v: k for k, v in to_store.items()}
            index = SearchIndex(local, models=settings.model_cache)
            if progress:
                progress(f"indexing {len(to_store):,} documents")
            sync_lexical(store, index)
            if any(m != "lexical" for m in modes) or similar:
                sync_vectors(store, index)
                if similar and (settings.facets or any(m in FACETS for m in modes)):
                    sync_facets(store, index)
                build_neighbours(index)
            runs: dict[str, dict[str, list[str]]] = {mode: {} for mode in modes}
            for query_id, query in judged.queries.items():
                paper = query.get("paper")
                if similar and paper is not None:
                    rankings = similar_rankings(index, store, to_store[str(paper)], k=DEPTH)
                    for mode in modes:
                        if mode in FACETS:
                            by_facet = facet_ranking(index, store, to_store[str(paper)], mode)
                            rankings[mode] = [pid for pid, _, _ in by_facet]
                        runs[mode][query_id] = [back[p] for p in rankings[mode] if p in back]
                    continue
                for mode in modes:
                    try:
                        ids = ranked_ids(
                            index, store, str(query.get("text") or ""), mode=mode, k=DEPTH
                        )
                    except QueryError:  # a query that cannot be run finds nothing, and scores 0
                        ids = []
                    runs[mode][query_id] = [back[p] for p in ids if p in back]
        finally:
            store.close()
    return {mode: score_run(runs[mode], judged.qrels) for mode in modes}
