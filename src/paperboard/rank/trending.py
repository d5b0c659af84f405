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
from typing import Any

from paperboard.store.papers import PaperStore

GRAVITY = 1.5
WINDOW_DAYS = 14
FORMULA = f"upvotes / (age in hours + 2) ^ {GRAVITY}"


def reference_time(latest_day: date | None, now: datetime | None = None) -> datetime:
    now = now or datetime.now(UTC)
    if latest_day is None:
        return now
    end_of_latest = datetime.combine(latest_day + timedelta(days=1), time(), UTC)
    return min(now, end_of_latest)


def score(upvotes: int, feed_day: date, at: datetime) -> float:
    age_hours = max(0.0, (at - datetime.combine(feed_day, time(), UTC)).total_seconds() / 3600)
    return upvotes / (age_hours + 2) ** GRAVITY


def ranked(rows: list[dict[str, Any]], at: datetime) -> list[dict[str, Any]]:
    """``rows`` (with ``total_upvotes`` and ``feed_date``), each given its ``trending_score`` at
    ``at``, best first; ties go to the newer paper."""
    for row in rows:
        row["trending_score"] = score(row["total_upvotes"], row["feed_date"], at)
    return sorted(
        rows, key=lambda r: (-r["trending_score"], -(r["published_at"] or at).timestamp(), r["id"])
    )


def trending(
    store: PaperStore, *, limit: int = 30, offset: int = 0, now: datetime | None = None
) -> tuple[list[dict[str, Any]], datetime]:
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
        for row in extra:
            row["trending_score"] = 0.0
        wanted += extra
    return wanted, at
