"""The trending score: decay by age, the reference time, the window and the fill."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from paperboard.core.records import PaperRecord
from paperboard.rank import trending
from paperboard.store.papers import PaperStore


def test_score_decays_with_age_and_grows_with_votes() -> None:
    at = datetime(2026, 11, 22, 12, tzinfo=UTC)
    today, yesterday = date(2026, 11, 22), date(2026, 11, 21)
    assert trending.score(10, today, at) > trending.score(10, yesterday, at)
    assert trending.score(20, today, at) == 2 * trending.score(10, today, at)
    assert trending.score(10, today, at) == 10 / (12 + 2) ** trending.GRAVITY


def test_reference_time_stops_at_the_end_of_the_newest_day() -> None:
    now = datetime(2026, 11, 22, 12, tzinfo=UTC)
    assert trending.reference_time(date(2026, 11, 22), now) == now
    assert trending.reference_time(date(2025, 5, 19), now) == datetime(2025, 5, 20, tzinfo=UTC)
    assert trending.reference_time(None, now) == now


def test_trending_ranks_fresh_votes_over_old_ones_and_fills_with_new_papers(
    store: PaperStore,
) -> None:
    def paper(pid: str, day: date, votes: int) -> PaperRecord:
        return PaperRecord(
            id=pid,
            source="hf",
            title=pid,
            upvotes=votes,
            published_at=datetime.combine(day, datetime.min.time(), UTC) + timedelta(hours=1),
        )

    newest = date(2026, 11, 20)
    store.write(
        [
            paper("2611.00001", newest, 5),  # fresh, few votes
            paper("2611.00002", newest - timedelta(days=3), 20),  # older, four times the votes
            paper("2611.00003", newest - timedelta(days=30), 500),  # outside the window
            paper("2611.00004", newest, 0),  # no votes: fills the page
        ]
    )
    now = datetime(2026, 11, 22, tzinfo=UTC)
    rows, at = trending.trending(store, limit=10, now=now)
    assert at == datetime(2026, 11, 21, tzinfo=UTC)
    assert [r["id"] for r in rows] == ["2611.00001", "2611.00002", "2611.00004"]
    assert rows[0]["trending_score"] > rows[1]["trending_score"] > 0 == rows[2]["trending_score"]
