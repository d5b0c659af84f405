""" "For you" quality on a judged set of readers: ``paperboard eval DIR --recommend``.

``DIR`` holds ``corpus.jsonl.gz`` (arXiv snapshot layout), ``users.jsonl`` (``_id``,
``history``: the papers a reader liked, most recent first, and ``since``: a day) and
``qrels/test.tsv`` (``query-id`` = reader, ``corpus-id``, ``score``): the papers of the reader's
that a good list surfaces. Candidates are every paper first published on or after ``since``,
minus the history; every candidate is scored (not only neighbours of the history).

Rankings, all in one run so that they are comparable:

* ``paperboard``: the product's own "for you" (:func:`paperboard.rank.recommend.recommend`: a
  model per reader over every candidate, :mod:`paperboard.rank.for_you`);
* ``neighbours``: the ranking "for you" had before that model: the summed cosines of the
  candidates among the 60 nearest neighbours (embeddings) of each history paper;
* ``centroid``: the cosine of each candidate's embedding to the mean of the history's;
* ``tfidf``: the cosine of each candidate's TF-IDF vector (title and abstract, sublinear term
  frequency, English stop words) to the history's mean TF-IDF vector.

Metrics over the readers with at least one relevant candidate: nDCG@20, recall@20, recall@100
and MRR (reciprocal rank of the first relevant paper within the top 100).
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import orjson

from paperboard.core.config import Settings
from paperboard.rank.evaluate import EvalError, mrr, ndcg, read_qrels, recall
from paperboard.store.rows import PaperRow

DEPTH = 100
RANKINGS = ("paperboard", "neighbours", "centroid", "tfidf")
NEIGHBOURS = 60


@dataclass
class Reader:
    id: str
    history: list[str]
    since: date


def load_readers(folder: Path) -> tuple[list[Reader], dict[str, dict[str, int]]]:
    """The readers and their relevant papers; EvalError with a one-line reason."""
    users = folder / "users.jsonl"
    if not users.is_file():
        raise EvalError(f"missing {users}")
    readers = []
    for number, line in enumerate(users.read_bytes().splitlines(), start=1):
        if not line.strip():
            continue
        try:
            row = orjson.loads(line)
            if not isinstance(row["history"], list):
                raise TypeError("history is not a list")
            readers.append(
                Reader(
                    str(row["_id"]),
                    [str(p) for p in row["history"]],
                    date.fromisoformat(str(row["since"])),
                )
            )
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
            raise EvalError(
                f"users.jsonl line {number}: expected _id, history (a list) and since (a day)"
            ) from None
    return readers, read_qrels(folder)


def score_runs(
    runs: dict[str, dict[str, list[str]]], qrels: dict[str, dict[str, int]]
) -> dict[str, dict[str, float]]:
    """Mean nDCG@20, recall@20, recall@100 and MRR of each ranking over the judged readers."""
    out = {}
    for name, run in runs.items():
        judged = [r for r in run if any(s > 0 for s in qrels.get(r, {}).values())]
        count = max(len(judged), 1)
        out[name] = {
            "ndcg@20": sum(ndcg(run[r], qrels[r], 20) for r in judged) / count,
            "recall@20": sum(recall(run[r], qrels[r], 20) for r in judged) / count,
            "recall@100": sum(recall(run[r], qrels[r], DEPTH) for r in judged) / count,
            "mrr": sum(mrr(run[r], qrels[r], DEPTH) for r in judged) / count,
        }
    return out


def _top(scores: np.ndarray, ids: list[str], k: int) -> list[str]:
    k = min(k, len(ids))
    if k == 0:
        return []
    top = np.argpartition(-scores, k - 1)[:k]
    return [ids[i] for i in top[np.argsort(-scores[top], kind="stable")]]


def _neighbour_sums(
    index: Any, history: np.ndarray, banned: set[str], wanted: set[str]
) -> list[str]:
    """The old "for you": each candidate adds up its cosines to the history papers whose 60
    nearest neighbours it is among (recent history counting a little more)."""
    scores: dict[str, float] = {}
    found = index.neighbours.search_many(history, NEIGHBOURS, exclude=banned)
    for position, neighbours in enumerate(found):
        weight = 1.0 / (1.0 + 0.05 * position)
        for pid, similarity in neighbours:
            scores[pid] = scores.get(pid, 0.0) + weight * max(similarity, 0.0)
    ranked = sorted(scores.items(), key=lambda item: -item[1])
    return [pid for pid, _ in ranked if pid in wanted][:DEPTH]


def evaluate_recommend(
    folder: Path,
    settings: Settings,
    *,
    home: Path | None = None,
    progress: Callable[[str], None] | None = None,
) -> dict[str, dict[str, float]]:
    """Build (or, with ``home``, reuse) a store and indexes of the corpus and score every
    ranking on every reader."""
    from sklearn.feature_extraction.text import TfidfVectorizer

    from paperboard.index.embed import paper_text
    from paperboard.index.indexer import SearchIndex, build_neighbours, sync_lexical, sync_vectors
    from paperboard.rank.for_you import Pool
    from paperboard.rank.recommend import recommend
    from paperboard.sources.snapshot import SnapshotSource
    from paperboard.store.importer import run_import
    from paperboard.store.papers import PaperStore

    folder = Path(folder)
    readers, qrels = load_readers(folder)
    corpus = folder / "corpus.jsonl.gz"
    if not corpus.is_file():
        raise EvalError(f"missing {corpus}")
    with tempfile.TemporaryDirectory(prefix="paperboard-eval-") as temporary:
        local = settings.model_copy(update={"home": Path(home or temporary), "database_url": None})
        store = PaperStore.open(local)
        try:
            if store.count() == 0:
                if progress:
                    progress(f"importing {corpus.name}")
                report = run_import(store, SnapshotSource(corpus))
                if not report.ok:
                    raise EvalError(f"cannot read {corpus}: {report.failure or 'no records'}")
            index = SearchIndex(local, models=settings.model_cache)
            if progress:
                progress(f"indexing {store.count():,} papers")
            sync_lexical(store, index)
            sync_vectors(store, index)
            build_neighbours(index)
            rows: list[PaperRow] = [row for batch in store.changed_since(None) for row in batch]
            ids = [row["id"] for row in rows]
            position = {pid: i for i, pid in enumerate(ids)}
            first = np.asarray(
                [
                    (row["published_at"].date() if row["published_at"] else date.min).toordinal()
                    for row in rows
                ]
            )
            vectors = index.vectors
            embedding = vectors.rows([vectors.row_of[pid] for pid in ids])
            if progress:
                progress("TF-IDF of every paper")
            tfidf = TfidfVectorizer(
                sublinear_tf=True, stop_words="english", min_df=2, dtype=np.float32
            ).fit_transform([paper_text(row["title"], row["abstract"]) for row in rows])
            runs: dict[str, dict[str, list[str]]] = {name: {} for name in RANKINGS}
            pools: dict[date, Pool] = {}
            for reader in readers:
                history = [pid for pid in reader.history if pid in position]
                open_ = first >= reader.since.toordinal()
                open_[[position[pid] for pid in history]] = False
                candidates = np.flatnonzero(open_)
                candidate_ids = [ids[i] for i in candidates]
                if not history or not len(candidates):
                    for name in RANKINGS:
                        runs[name][reader.id] = []
                    continue
                rows_of_history = [position[pid] for pid in history]
                centroid = embedding[rows_of_history].mean(axis=0)
                runs["centroid"][reader.id] = _top(
                    embedding[candidates] @ centroid, candidate_ids, DEPTH
                )
                profile = np.asarray(tfidf[rows_of_history].mean(axis=0)).ravel()
                lexical = np.asarray(tfidf[candidates] @ profile).ravel()
                runs["tfidf"][reader.id] = _top(lexical, candidate_ids, DEPTH)
                runs["neighbours"][reader.id] = _neighbour_sums(
                    index, embedding[rows_of_history], set(history), set(candidate_ids)
                )
                if reader.since not in pools:
                    opened = [ids[i] for i in np.flatnonzero(first >= reader.since.toordinal())]
                    counted = store.get_many(opened)
                    pools[reader.since] = Pool([counted[pid] for pid in opened if pid in counted])
                picks = recommend(index, store, upvoted=history, pool=pools[reader.since], k=DEPTH)
                wanted = set(candidate_ids)
                runs["paperboard"][reader.id] = [p.id for p in picks if p.id in wanted]
        finally:
            store.close()
    return score_runs(runs, qrels)
