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
            return _week_label(self.start)
        if self.kind == "month":
            return f"{self.start.year}-{self.start.month:02d}"
        return self.start.isoformat()

    def previous(self) -> Period | None:
        """The period before this one; None before the calendar's first day (0001-01-01)."""
        return self._shifted(-1)

    def next(self) -> Period | None:
        """The period after this one; None after the calendar's last day (9999-12-31)."""
        return self._shifted(1)

    def _shifted(self, steps: int) -> Period | None:
        try:
            if self.kind == "month":
                index = self.start.year * 12 + self.start.month - 1 + steps
                return month(f"{index // 12:04d}-{index % 12 + 1:02d}")
            shifted = self.start + timedelta(days=(7 if self.kind == "week" else 1) * steps)
            return week(_week_label(shifted)) if self.kind == "week" else day(shifted.isoformat())
        except (OverflowError, PeriodError):  # off either end of the calendar
            return None


def _week_label(start: date) -> str:
    year, number, _ = start.isocalendar()
    return f"{year}-W{number:02d}"


def day(text: str) -> Period:
    try:
        value = date.fromisoformat(text)
    except ValueError:
        raise PeriodError(f"not a day (YYYY-MM-DD): {text[:40]!r}") from None
    return Period("date", value, value)


def week(text: str) -> Period:
    match = _WEEK.fullmatch(text)
    if not match:
        raise PeriodError(f"not an ISO week (YYYY-Www): {text[:40]!r}")
    try:
        start = date.fromisocalendar(int(match[1]), int(match[2]), 1)
    except ValueError:
        raise PeriodError(f"no such week: {text!r}") from None
    if start > date.max - timedelta(days=6):  # 9999-W52 ends in the year 10000
        raise PeriodError(f"the week {text!r} runs past the calendar's last day, 9999-12-31")
    return Period("week", start, start + timedelta(days=6))


def month(text: str) -> Period:
    match = _MONTH.fullmatch(text)
    if not match or not 1 <= int(match[2]) <= 12 or int(match[1]) < 1:
        raise PeriodError(f"not a month (YYYY-MM): {text[:40]!r}")
    year, number = int(match[1]), int(match[2])
    last = calendar.monthrange(year, number)[1]
    return Period("month", date(year, number, 1), date(year, number, last))
