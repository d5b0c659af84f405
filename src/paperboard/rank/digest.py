"""What one subscriber's digest holds: the period's top papers (by upvotes, then trending score,
within the subscriber's categories if any), then "for you" picks from the recommendation function,
never a paper already mailed to them. ``Composer`` in ``present/mail/digests.py`` puts the two
together for each subscriber, sharing what subscribers have in common across a run.

A digest period is a day or the seven days ending on a day; ``period_for`` picks the last complete
one in the site's time zone when no end day is given.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from paperboard.core.errors import PaperboardError
from paperboard.index.indexer import SearchIndex
from paperboard.rank import trending
from paperboard.rank.recommend import MemberInterests, PoolCache, recommend_for
from paperboard.rank.trending import TrendingPaperRow
from paperboard.store.papers import PaperStore
from paperboard.store.rows import CountedPaperRow, SubscriberRow

TOP = 10
PICKS = 5
# "For you" picks come from the papers on the feed in the week before the period's end: a digest
# is about new papers, and the member's model scores every one of them (30 days when picks were
# neighbours of upvoted papers and candidates were few).
PICK_WINDOW_DAYS = 7


@dataclass(frozen=True)
class DigestPeriod:
    kind: str  # daily or weekly
    start: date
    end: date

    @property
    def key(self) -> str:
        return (
            f"{self.kind}:{self.end.isoformat()}"
            if self.kind == "daily"
            else f"weekly:{self.start}..{self.end}"
        )

    @property
    def label(self) -> str:
        if self.kind == "daily":
            return f"{self.end:%A, %B} {self.end.day}, {self.end.year}"
        return (
            f"the week of {self.start:%B} {self.start.day} to "
            f"{self.end:%B} {self.end.day}, {self.end.year}"
        )


def period_for(
    kind: str, end: date | None = None, *, timezone: str = "UTC", now: datetime | None = None
) -> DigestPeriod:
    """The period of ``kind`` ending on ``end``; by default the last complete one: yesterday for
    daily, the last full Monday-to-Sunday week for weekly (in ``timezone``)."""
    if kind not in ("daily", "weekly"):
        raise PaperboardError(f"unknown digest period {kind!r}: use daily or weekly")
    today = (now or datetime.now(ZoneInfo(timezone))).astimezone(ZoneInfo(timezone)).date()
    if end is None:
        end = (
            today - timedelta(days=1)
            if kind == "daily"
            else today - timedelta(days=today.isoweekday())
        )
    start = end if kind == "daily" else end - timedelta(days=6)
    return DigestPeriod(kind, start, end)


@dataclass
class DigestContent:
    top: list[CountedPaperRow] = field(default_factory=list)
    # {"id", "reason", "because"} with the "paper" row: what the send ledger records, as JSON
    picks: list[dict[str, Any]] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not self.top and not self.picks

    def paper_ids(self) -> list[str]:
        return [row["id"] for row in self.top] + [pick["id"] for pick in self.picks]


def top_papers(
    store: PaperStore,
    period: DigestPeriod,
    categories: list[str],
    exclude: set[str],
    *,
    k: int = TOP,
) -> list[TrendingPaperRow]:
    """The period's most upvoted papers (ties: trending score), within ``categories`` if any."""
    rows: dict[str, CountedPaperRow] = {}
    wanted: list[str | None] = list(categories) or [None]
    for category in wanted:
        for row in store.list_papers(
            period.start, period.end, category=category, limit=k + len(exclude) + 5
        ):
            rows.setdefault(row["id"], row)
    at = trending.reference_time(period.end)
    scored = [
        trending.with_score(row, trending.score(row["total_upvotes"], row["feed_date"], at))
        for row in rows.values()
        if row["id"] not in exclude
    ]
    ranked = sorted(
        scored,
        key=lambda r: (-r["total_upvotes"], -r["trending_score"], r["id"]),
    )
    return ranked[:k]


def for_you(
    index: SearchIndex,
    store: PaperStore,
    subscriber: SubscriberRow,
    period: DigestPeriod,
    *,
    banned: set[str],
    member: MemberInterests | None = None,
    pools: PoolCache | None = None,
    k: int = PICKS,
) -> list[dict[str, Any]]:
    """Up to ``k`` "for you" picks ({"id", "reason", "because", "paper"}), none of ``banned``:
    the member's model over the papers on the feed from :data:`PICK_WINDOW_DAYS` before the
    period's end on, or the subscriber's categories and keywords alone."""
    categories = list(subscriber["categories"] or [])
    keywords = list(subscriber["keywords"] or [])
    if member is None:
        member = MemberInterests(categories=categories, keywords=keywords)
    else:
        member.categories = member.categories or categories
        member.keywords = keywords
    try:
        since = period.end - timedelta(days=PICK_WINDOW_DAYS)
        pool = (pools or PoolCache()).get(store, since)
        picks = recommend_for(
            index,
            store,
            member,
            pool,
            exclude=sorted(banned),
            since=since,
            k=k,
        )
    except PaperboardError:
        return []
    return [
        {"id": p.id, "reason": p.reason, "because": p.because, "paper": p.paper}
        for p in picks
        if p.id not in banned
    ]
