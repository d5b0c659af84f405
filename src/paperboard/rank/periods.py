"""Feed periods: a day (``2026-11-20``), an ISO week (``2026-W47``) or a month (``2026-11``)."""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import date, timedelta

from paperboard.core.errors import PaperboardError

_WEEK = re.compile(r"^(\d{4})-W(\d{2})$")
_MONTH = re.compile(r"^(\d{4})-(\d{2})$")


class PeriodError(PaperboardError, ValueError):
    """Text that names no day, week or month."""


@dataclass(frozen=True, slots=True)
class Period:
    """An inclusive range of feed days with its canonical label."""

    kind: str  # "date", "week" or "month"
    start: date
    end: date

    @property
    def label(self) -> str:
        if self.kind == "week":
            year, week, _ = self.start.isocalendar()
            return f"{year}-W{week:02d}"
        if self.kind == "month":
            return f"{self.start.year}-{self.start.month:02d}"
        return self.start.isoformat()

    def previous(self) -> Period:
        if self.kind == "month":
            return month(_shift_month(self.start, -1))
        step = timedelta(days=7 if self.kind == "week" else 1)
        return Period(self.kind, self.start - step, self.end - step)

    def next(self) -> Period:
        if self.kind == "month":
            return month(_shift_month(self.start, 1))
        step = timedelta(days=7 if self.kind == "week" else 1)
        return Period(self.kind, self.start + step, self.end + step)


def _shift_month(day: date, months: int) -> str:
    index = day.year * 12 + day.month - 1 + months
    return f"{index // 12:04d}-{index % 12 + 1:02d}"


def day(text: str) -> Period:
    try:
        value = date.fromisoformat(text)
    except ValueError:
        raise PeriodError(f"not a day (YYYY-MM-DD): {text[:40]!r}") from None
    return Period("date", value, value)


def week(text: str) -> Period:
    match = _WEEK.match(text)
    if not match:
        raise PeriodError(f"not an ISO week (YYYY-Www): {text[:40]!r}")
    try:
        start = date.fromisocalendar(int(match[1]), int(match[2]), 1)
        end = start + timedelta(days=6)
    except (ValueError, OverflowError):  # 9999-W52 ends in year 10000, past the calendar
        raise PeriodError(f"no such week: {text!r}") from None
    return Period("week", start, end)


def month(text: str) -> Period:
    match = _MONTH.match(text)
    if not match or not 1 <= int(match[2]) <= 12 or int(match[1]) < 1:
        raise PeriodError(f"not a month (YYYY-MM): {text[:40]!r}")
    year, number = int(match[1]), int(match[2])
    last = calendar.monthrange(year, number)[1]
    return Period("month", date(year, number, 1), date(year, number, last))
