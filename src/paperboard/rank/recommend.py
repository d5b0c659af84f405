""" "For you": papers picked for one member, each with the reason it was picked.

A member's signals (upvotes, saved papers, "more like this" and "not interested") train a model
(:mod:`paperboard.rank.for_you`) that scores every paper of a candidate pool, by default the
papers on the feed in the last :data:`WINDOW_DAYS` days. Followed authors' papers come first;
saved searches' matches get a bonus; the member's mix (exploration, popularity, only their
categories) applies. Before any signal, the member's keywords are searched (hybrid) and their
categories browsed, newest and most upvoted first. Papers the member already upvoted, saved,
refused, read (when hidden) or was sent (``exclude``) never appear.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

from paperboard.core.errors import PaperboardError
from paperboard.index.indexer import SearchIndex
from paperboard.index.lexical import Filters
from paperboard.index.query import parse_query
from paperboard.rank.for_you import (
    OUTSIDE_KEPT,
    Extras,
    MemberModel,
    Mix,
    Pool,
    Signal,
    rank,
)
from paperboard.rank.search import search
from paperboard.store.community import CommunityStore
from paperboard.store.interests import InterestStore
from paperboard.store.papers import PaperStore
from paperboard.store.rows import CountedPaperRow, PaperRow

WINDOW_DAYS = 30
MAX_SIGNALS = 200
SEARCH_MATCHES = 200
POOL_SECONDS = 600.0
CHECK_SECONDS = 30.0

log = logging.getLogger(__name__)


@dataclass
class Pick:
    id: str
    score: float
    paper: CountedPaperRow
    reason: str
    because: str | None = None  # the paper behind the pick, if any


@dataclass
class MemberInterests:
    """Everything "for you" knows of a member."""

    signals: list[Signal] = field(default_factory=list)
    follows: dict[str, str] = field(default_factory=dict)
    saved_searches: list[tuple[str, str]] = field(default_factory=list)  # (name, words)
    mix: Mix = field(default_factory=Mix)
    hidden: set[str] = field(default_factory=set)
    categories: list[str] = field(default_factory=list)
    keywords: list[str] = field(default_factory=list)


def interests_of(
    community: CommunityStore,
    interests: InterestStore,
    member_id: int,
    *,
    keywords: Sequence[str] = (),
) -> MemberInterests:
    """A member's interests as the stores hold them (newest signals first, at most
    :data:`MAX_SIGNALS`)."""
    found = interests_of_many(community, interests, [member_id])[member_id]
    found.keywords = list(keywords)
    return found


def interests_of_many(
    community: CommunityStore, interests: InterestStore, member_ids: Sequence[int]
) -> dict[int, MemberInterests]:
    """:func:`interests_of` for several members, with one query per kind of signal for all."""
    ids = list(dict.fromkeys(member_ids))
    marks_of = interests.signals_of_many(ids)
    settings_of = interests.settings_of_many(ids)
    upvotes_of = community.upvotes_of_many(ids)
    saved_of = interests.saved_papers_of_many(ids)
    follows_of = interests.follows_of_many(ids)
    searches_of = interests.saved_searches_of_many(ids)
    out: dict[int, MemberInterests] = {}
    oldest = datetime.min.replace(tzinfo=UTC)
    for member_id in ids:
        marks, settings = marks_of[member_id], settings_of[member_id]
        positives: dict[str, Signal] = {}
        for pid, at in upvotes_of[member_id]:
            positives.setdefault(pid, Signal(pid, 1.0, "which you upvoted", at))
        for pid, at in marks.get("more", []):
            positives.setdefault(pid, Signal(pid, 1.0, "which you asked for more of", at))
        for pid, at, name in saved_of[member_id]:
            positives.setdefault(pid, Signal(pid, 1.0, f"in your collection “{name}”", at))
        ordered = sorted(positives.values(), key=lambda s: s.at or oldest, reverse=True)
        ordered = ordered[:MAX_SIGNALS]
        negatives = [Signal(pid, -1.0, "", at) for pid, at in marks.get("less", [])]
        hidden = set(positives) | {pid for pid, _ in marks.get("less", [])}
        if settings["hide_read"]:
            hidden |= {pid for pid, _ in marks.get("read", [])}
        out[member_id] = MemberInterests(
            signals=ordered + negatives[:MAX_SIGNALS],
            follows={row["key"]: row["name"] for row in follows_of[member_id]},
            saved_searches=[(row["name"], row["query"]) for row in searches_of[member_id]],
            mix=Mix(
                exploration=settings["exploration"],
                popularity=settings["popularity"],
                only_categories=settings["only_categories"],
                categories=tuple(settings["categories"]),
            ),
            hidden=hidden,
            categories=list(settings["categories"]),
        )
    return out


class PoolCache:
    """The candidate pool of a window, rebuilt when papers come in (looked for at most every
    ``check_seconds``) or after ``max_age`` seconds.

    With ``background`` (the site), only the first pool of a window is built inside a request:
    later rebuilds (seconds for 20,000 papers) run on a thread while requests go on with the
    pool they have, which the new one then replaces. Without it (digest runs), a stale pool is
    rebuilt before it is returned.
    """

    def __init__(
        self,
        *,
        background: bool = False,
        check_seconds: float = CHECK_SECONDS,
        max_age: float = POOL_SECONDS,
    ) -> None:
        self.background = background
        self.check_seconds = check_seconds
        self.max_age = max_age
        self._lock = threading.Lock()
        self._window: tuple[date | None, date | None] | None = None
        self._key: tuple[date, date, int] | None = None
        self._built = self._checked = 0.0
        self._pool: Pool | None = None
        self._building: threading.Thread | None = None

    def get(self, store: PaperStore, start: date | None = None, end: date | None = None) -> Pool:
        """The pool of the feed days from ``start`` (default: :data:`WINDOW_DAYS` before
        ``end``) to ``end`` (default: the latest feed day)."""
        with self._lock:
            now = time.monotonic()
            if (
                self._pool is not None
                and self._window == (start, end)
                and now - self._checked < self.check_seconds
                and now - self._built < self.max_age
            ):
                return self._pool
            last = end or store.latest_feed_date() or date.today()
            first = start or last - timedelta(days=WINDOW_DAYS)
            key = (first, last, store.count_papers(first, last))
            self._checked = now
            stale = self._pool is None or key != self._key or now - self._built >= self.max_age
            if (
                stale
                and self.background
                and self._pool is not None
                and self._window == (start, end)
            ):
                self._build_later(store, first, last, key)
            elif stale:
                self._pool = candidate_pool(store, first, last)
                self._key, self._built = key, now
            self._window = (start, end)
            assert self._pool is not None
            return self._pool

    def settle(self, timeout: float | None = None) -> None:
        """Wait for a rebuild in progress, if any, to replace the pool."""
        building = self._building
        if building is not None:
            building.join(timeout)

    def _build_later(
        self, store: PaperStore, first: date, last: date, key: tuple[date, date, int]
    ) -> None:
        if self._building is not None and self._building.is_alive():
            return
        window = self._window

        def build() -> None:
            try:
                pool = candidate_pool(store, first, last)
            except Exception:  # the old pool stays; the next check tries again
                log.exception('could not rebuild the "for you" pool')
                return
            with self._lock:
                if self._window == window:  # not replaced by another window meanwhile
                    self._pool, self._key, self._built = pool, key, time.monotonic()

        self._building = threading.Thread(target=build, name="for-you-pool", daemon=True)
        self._building.start()


def candidate_pool(store: PaperStore, start: date, end: date) -> Pool:
    """The papers on the feed from ``start`` to ``end``, newest first (at most 20,000)."""
    from paperboard.rank.for_you import MAX_POOL

    return Pool(store.list_papers(start, end, sort="published", limit=MAX_POOL))


def saved_search_matches(
    index: SearchIndex,
    words: str,
    start: date | None,
    end: date | None = None,
    k: int = SEARCH_MATCHES,
) -> list[str]:
    """The papers on the feed from ``start`` to ``end`` a saved search's words match, best
    first (none when the words mean nothing or the lexical index is missing)."""
    try:
        found = index.lexical.search_ids(
            parse_query(words), k=k, filters=Filters(since=start, until=end, date_field="feed")
        )
    except PaperboardError:
        return []
    return [pid for pid, _score in found]


def _search_matches(
    index: SearchIndex, searches: Sequence[tuple[str, str]], since: date | None
) -> dict[str, str]:
    matches: dict[str, str] = {}
    for name, words in searches:
        for pid in saved_search_matches(index, words, since):
            matches.setdefault(pid, name)
    return matches


def recommend_for(
    index: SearchIndex,
    store: PaperStore,
    member: MemberInterests,
    pool: Pool,
    *,
    exclude: Sequence[str] = (),
    k: int = 10,
    since: date | None = None,
) -> list[Pick]:
    """Up to ``k`` picks from ``pool`` for ``member``, best first; cold-start picks fill in
    while the member has given no signal."""
    rows: dict[str, PaperRow] = {}
    elsewhere = []
    for signal in member.signals:
        at = pool.position.get(signal.paper_id)
        if at is None:
            elsewhere.append(signal.paper_id)
        else:
            rows[signal.paper_id] = pool.rows[at]
    if elsewhere:
        rows.update(_outside_rows(store, pool, elsewhere))
    model = MemberModel.train(pool, member.signals, rows)
    hidden = member.hidden | set(exclude)
    extras = Extras(
        follows=member.follows,
        search_matches=_search_matches(index, member.saved_searches, since)
        if member.saved_searches
        else {},
        hidden=hidden,
    )
    ranked = rank(model, member.mix, extras, k=k)
    picks = [
        Pick(pool.ids[s.index], s.score, pool.rows[s.index], s.reason, s.because) for s in ranked
    ]
    if len(picks) < k and not model.ready:
        seen = hidden | {p.id for p in picks}
        for pick in _cold_start(
            index, store, member.categories, member.keywords, seen, since, k - len(picks)
        ):
            picks.append(pick)
    return picks


def _outside_rows(store: PaperStore, pool: Pool, paper_ids: list[str]) -> dict[str, PaperRow]:
    """Rows of papers outside the pool, read once per pool: members share papers, and a digest
    run asks for the same ones again and again."""
    kept = pool.outside_rows
    missing = [pid for pid in paper_ids if pid not in kept]
    if missing:
        if len(kept) > OUTSIDE_KEPT:
            kept.clear()
        kept.update(store.get_many(missing))
    return {pid: kept[pid] for pid in paper_ids if pid in kept}


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
    pool: Pool | None = None,
) -> list[Pick]:
    """Up to ``k`` picks for a reader known only by upvotes (most recent first), categories and
    keywords, from ``pool`` or the feed since ``since`` (default: the last 30 days)."""
    member = MemberInterests(
        signals=[Signal(pid, 1.0, "which you upvoted") for pid in list(upvoted)[:MAX_SIGNALS]],
        hidden=set(upvoted),
        categories=list(categories),
        keywords=list(keywords),
        mix=Mix(categories=tuple(categories), only_categories=bool(categories)),
    )
    if pool is None:
        end = store.latest_feed_date() or date.today()
        start = since or end - timedelta(days=WINDOW_DAYS)
        pool = candidate_pool(store, start, end)
    return recommend_for(index, store, member, pool, exclude=exclude, k=k, since=since)


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
            index,
            store,
            text,
            k=min(k * 3, k + len(seen)),  # enough to fill k after the seen papers are dropped
            filters=Filters(categories=tuple(categories), since=since),
            highlight=False,
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
        start = since or end - timedelta(days=WINDOW_DAYS)
        for category in categories:
            for row in store.list_papers(start, end, category=category, limit=k * 3):
                if row["id"] not in seen:
                    seen.add(row["id"])
                    picks.append(Pick(row["id"], 0.0, row, f"new in {category}"))
    return picks[:k]
