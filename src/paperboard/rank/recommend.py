""" "For you": papers picked for one member, each with the reason it was picked.

With upvotes, candidates are the nearest neighbours of each upvoted paper (the most recent upvotes
first); a candidate's score adds up its similarity to every upvoted paper that found it, and its
reason names the upvoted paper that contributed most ("because you upvoted X"). Before any upvote,
or while there are no usable embeddings, the member's chosen keywords are searched (hybrid) and
their categories browsed, newest and most upvoted first. Papers already upvoted, or listed in
``exclude`` (already sent, say), never appear.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np

from paperboard.index.indexer import SearchIndex
from paperboard.index.lexical import Filters
from paperboard.rank.search import matches_filters, search
from paperboard.rank.similar import paper_vector
from paperboard.store.papers import PaperStore
from paperboard.store.rows import CountedPaperRow

NEIGHBOURS = 60
MAX_SEEDS = 50


@dataclass
class Pick:
    id: str
    score: float
    paper: CountedPaperRow
    reason: str
    because: str | None = None  # the upvoted paper behind the pick, if any


def recommend(
    index: SearchIndex,
    store: PaperStore,
    *,
    upvoted: Sequence[str] = (),
    categories: Sequence[str] = (),
    keywords: Sequence[str] = (),
    exclude: Sequence[str] = (),
    since: date | None = None,
    k: int = 10,
) -> list[Pick]:
    """Up to ``k`` picks, best first. ``upvoted`` is most recent first."""
    filters = Filters(categories=tuple(categories), since=since)
    banned = set(upvoted) | set(exclude)
    seeds = store.get_many(list(upvoted)[:MAX_SEEDS]) if upvoted and index.dense_ready() else {}
    if seeds:
        picks = _from_upvotes(
            index, store, [seeds[i] for i in upvoted if i in seeds], banned, filters, k
        )
        if picks:
            return picks
    return _cold_start(index, store, categories, keywords, banned, since, k)


def _from_upvotes(
    index: SearchIndex,
    store: PaperStore,
    seeds: list[CountedPaperRow],
    banned: set[str],
    filters: Filters,
    k: int,
) -> list[Pick]:
    scores: dict[str, float] = {}
    best: dict[str, tuple[float, CountedPaperRow]] = {}
    queries = np.stack([paper_vector(index, seed) for seed in seeds])
    found = index.neighbours.search_many(queries, NEIGHBOURS, exclude=banned)
    for position, (seed, neighbours) in enumerate(zip(seeds, found, strict=True)):
        weight = 1.0 / (1.0 + 0.05 * position)  # recent upvotes count a little more
        for pid, similarity in neighbours:
            contribution = weight * max(similarity, 0.0)
            scores[pid] = scores.get(pid, 0.0) + contribution
            if pid not in best or contribution > best[pid][0]:
                best[pid] = (contribution, seed)
    ranked = [pid for pid, _ in sorted(scores.items(), key=lambda item: -item[1])][: k * 10]
    if filters != Filters():  # what filters look at, for every candidate; whole rows for picks
        fields = store.filter_fields(ranked)
        ranked = [pid for pid in ranked if pid in fields and matches_filters(fields[pid], filters)]
    rows = store.get_many(ranked[: k * 2])
    picks: list[Pick] = []
    for pid in ranked:
        row = rows.get(pid)
        if row is None:
            continue
        seed = best[pid][1]
        picks.append(
            Pick(pid, scores[pid], row, f"because you upvoted “{seed['title']}”", seed["id"])
        )
        if len(picks) == k:
            break
    return picks


def _cold_start(
    index: SearchIndex,
    store: PaperStore,
    categories: Sequence[str],
    keywords: Sequence[str],
    banned: set[str],
    since: date | None,
    k: int,
) -> list[Pick]:
    picks: list[Pick] = []
    seen = set(banned)
    if keywords:
        text = " ".join(keywords)
        result = search(
            index, store, text, k=k * 3, filters=Filters(categories=tuple(categories), since=since)
        )
        for hit in result.hits:
            if hit.id not in seen:
                seen.add(hit.id)
                picks.append(
                    Pick(
                        hit.id,
                        hit.score,
                        hit.paper,
                        f"matches your keywords: {', '.join(keywords)}",
                    )
                )
    if categories and len(picks) < k:
        end = store.latest_feed_date() or date.today()
        start = since or end - timedelta(days=30)
        for category in categories:
            for row in store.list_papers(start, end, category=category, limit=k * 3):
                if row["id"] not in seen:
                    seen.add(row["id"])
                    picks.append(Pick(row["id"], 0.0, row, f"new in {category}"))
    return picks[:k]
