"""The feed: the latest day, any day, ISO week or month by upvotes, and trending."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import BeforeValidator

from paperboard.present.web.deps import ServicesDep, ViewerDep
from paperboard.present.web.openapi import html
from paperboard.present.web.rendering import card, page
from paperboard.rank import periods
from paperboard.rank import trending as trending_rank
from paperboard.rank.periods import Period

router = APIRouter(tags=["pages"])
PAGE_SIZE = 30

# Browsers send an emptied form field as "": that means "no filter", not a bad value.
Blank = BeforeValidator(lambda value: value or None)
Category = Annotated[
    str | None, Query(max_length=40, pattern=r"^[A-Za-z\-]+(\.[A-Za-z\-]+)?$"), Blank
]
PageNumber = Annotated[int, Query(ge=1, le=10_000)]


def new_after() -> datetime:
    """Papers first published after this moment wear the ``new`` badge: the last 24 hours of
    the site's clock."""
    return datetime.now(UTC) - timedelta(hours=24)


def _feed(
    request: Request,
    services: ServicesDep,
    viewer: ViewerDep,
    period: Period,
    category: str | None,
    number: int,
) -> Response:
    store = services.papers
    total = store.count_papers(period.start, period.end, category=category)
    rows = store.list_papers(
        period.start,
        period.end,
        category=category,
        limit=PAGE_SIZE,
        offset=(number - 1) * PAGE_SIZE,
    )
    voted = (
        services.community.voted(viewer.member["id"], [r["id"] for r in rows])
        if viewer.member
        else set()
    )
    marks = (
        services.interests.marks(viewer.member["id"], [r["id"] for r in rows])
        if viewer.member
        else None
    )
    before, after = store.adjacent_feed_days(period.start, period.end, category=category)
    if period.kind == "date":
        previous = periods.day(before.isoformat()) if before else None
        following = periods.day(after.isoformat()) if after else None
    else:
        # None past either end of the calendar (9999-12 has no next month)
        previous = period.previous() if before else None
        following = period.next() if after else None
    base = {"date": "/papers/date/", "week": "/papers/week/", "month": "/papers/month/"}[
        period.kind
    ]
    since = new_after()
    data: dict[str, Any] = {
        "kind": period.kind,
        "period": period.label,
        "start": period.start,
        "end": period.end,
        "category": category,
        "total": total,
        "page": number,
        "pages": max(1, -(-total // PAGE_SIZE)),
        "papers": [card(row, voted=voted, new_after=since, marks=marks) for row in rows],
        "previous": f"{base}{previous.label}" if previous else None,
        "next": f"{base}{following.label}" if following else None,
        "feeds": {
            "rss": f"/feeds/date/{period.start.isoformat()}.xml"
            + (f"?category={category}" if category else "")
        }
        if period.kind == "date"
        else {},
    }
    return page(request, "feed.html", data)


@router.get(
    "/", summary="The latest day with papers", response_class=HTMLResponse, responses=html()
)
def home(
    request: Request,
    services: ServicesDep,
    viewer: ViewerDep,
    category: Category = None,
    p: PageNumber = 1,
) -> Response:
    latest = services.papers.latest_feed_date(category) or datetime.now(UTC).date()
    return _feed(request, services, viewer, periods.day(latest.isoformat()), category, p)


@router.get(
    "/papers/date/{day}",
    summary="One day's papers by upvotes",
    response_class=HTMLResponse,
    responses=html(e400="not a day (YYYY-MM-DD)"),
)
def by_day(
    request: Request,
    services: ServicesDep,
    viewer: ViewerDep,
    day: str,
    category: Category = None,
    p: PageNumber = 1,
) -> Response:
    return _feed(request, services, viewer, periods.day(day), category, p)


@router.get(
    "/papers/week/{week}",
    summary="One ISO week's papers by upvotes",
    response_class=HTMLResponse,
    responses=html(e400="not an ISO week (YYYY-Www)"),
)
def by_week(
    request: Request,
    services: ServicesDep,
    viewer: ViewerDep,
    week: str,
    category: Category = None,
    p: PageNumber = 1,
) -> Response:
    return _feed(request, services, viewer, periods.week(week), category, p)


@router.get(
    "/papers/month/{month}",
    summary="One month's papers by upvotes",
    response_class=HTMLResponse,
    responses=html(e400="not a month (YYYY-MM)"),
)
def by_month(
    request: Request,
    services: ServicesDep,
    viewer: ViewerDep,
    month: str,
    category: Category = None,
    p: PageNumber = 1,
) -> Response:
    return _feed(request, services, viewer, periods.month(month), category, p)


@router.get(
    "/papers/trending",
    summary="Trending papers (time-decayed upvotes)",
    response_class=HTMLResponse,
    responses=html(),
)
def trending(
    request: Request, services: ServicesDep, viewer: ViewerDep, p: PageNumber = 1
) -> Response:
    rows, at = trending_rank.trending(services.papers, limit=PAGE_SIZE, offset=(p - 1) * PAGE_SIZE)
    voted = (
        services.community.voted(viewer.member["id"], [r["id"] for r in rows])
        if viewer.member
        else set()
    )
    marks = (
        services.interests.marks(viewer.member["id"], [r["id"] for r in rows])
        if viewer.member
        else None
    )
    since = new_after()
    cards = []
    for row in rows:
        entry = card(row, voted=voted, new_after=since, marks=marks)
        entry["trending_score"] = round(row["trending_score"], 6)
        cards.append(entry)
    data = {
        "kind": "trending",
        "period": "trending",
        "formula": trending_rank.FORMULA,
        "reference_time": at,
        "page": p,
        "papers": cards,
        "previous": f"/papers/trending?p={p - 1}" if p > 1 else None,
        "next": f"/papers/trending?p={p + 1}" if len(rows) == PAGE_SIZE else None,
        "feeds": {"rss": "/feeds/trending.xml"},
    }
    return page(request, "feed.html", data)
