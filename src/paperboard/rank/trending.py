"""Trending: upvotes decayed by age, as on Hacker News.

    score = upvotes / (age_hours + 2) ** GRAVITY

``upvotes`` is the paper's imported count plus this site's members' votes; ``age_hours`` runs
from the start of the paper's feed day (UTC) to the reference time, which is now, or the end of
the newest feed day when the site has no papers for today (a demo or a paused harvest would
otherwise decay to nothing). Only papers on the feed in the last ``WINDOW_DAYS`` days take part;
ties go to the newer paper. The about page and ``docs/site.md`` ("Trending") show the same formula.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

from paperboard.store.papers import PaperStore
from paperboard.store.rows import CountedPaperRow

GRAVITY = 1.5
WINDOW_DAYS = 14
FORMULA = f"upvotes / (age in hours + 2) ^ {GRAVITY}"


def reference_time(latest_day: date | None, now: datetime | None = None) -> datetime:
    now = now or datetime.now(UTC)
    if latest_day is None:
        return now
    end_of_latest = datetime.combine(latest_day + timedelta(days=1), time(), UTC)
    return min(now, end_of_latest)


class TrendingPaperRow(CountedPaperRow):
    """A paper row with its trending score at the reference time."""

    trending_score: float


def score(upvotes: int, feed_day: date | None, at: datetime) -> float:
    """The trending score; a paper on no feed day is on no feed, so it scores 0."""
    if feed_day is None:
        return 0.0
    age_hours = max(0.0, (at - datetime.combine(feed_day, time(), UTC)).total_seconds() / 3600)
    return float(upvotes / (age_hours + 2) ** GRAVITY)


def with_score(row: CountedPaperRow, trending_score: float) -> TrendingPaperRow:
    return TrendingPaperRow(**row, trending_score=trending_score)


def ranked(rows: list[CountedPaperRow], at: datetime) -> list[TrendingPaperRow]:
    """``rows``, each given its ``trending_score`` at ``at``, best first; ties go to the newer
    paper."""
    scored = [with_score(row, score(row["total_upvotes"], row["feed_date"], at)) for row in rows]
    return sorted(
        scored,
        key=lambda r: (-r["trending_score"], -(r["published_at"] or at).timestamp(), r["id"]),
    )


def trending(
    store: PaperStore, *, limit: int = 30, offset: int = 0, now: datetime | None = None
) -> tuple[list[TrendingPaperRow], datetime]:
    """The trending papers (each row with a ``trending_score``), and the reference time used."""
    at = reference_time(store.latest_feed_date(), now)
    since = at.date() - timedelta(days=WINDOW_DAYS)
    rows = ranked(store.upvoted_since(since), at)
    wanted = rows[offset : offset + limit]
    if len(wanted) < limit:  # a quiet fortnight: fill with the newest papers, score 0
        shown = {row["id"] for row in rows}
        skip = max(0, offset - len(rows))
        recent = store.list_papers(
            since, at.date(), sort="published", limit=limit + skip + len(shown)
        )
        extra = [row for row in recent if row["id"] not in shown][skip : skip + limit - len(wanted)]
        wanted += [with_score(row, 0.0) for row in extra]
    return wanted, at
