"""Working-time arithmetic on the mainland-China calendar.

A working day is a weekday that is not a statutory holiday, or a weekend day
that is a make-up working day (调休上班). `chinesecalendar` knows the State
Council's schedule for the years it ships; `CalendarOverride` rows, edited in
the admin, win over it and cover the years it does not know yet. Within a
working day only office hours count (settings.WORKDAY_PERIODS).

All arithmetic happens in the local time zone (Asia/Shanghai).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from functools import cache

import chinese_calendar
from django.conf import settings
from django.utils import timezone

from chengguan import refdata

logger = logging.getLogger(__name__)

# No real calendar has a year without working days; stop rather than loop forever.
MAX_DAYS_SEARCHED = 3 * 366


def _parse_periods(specs: list[str]) -> tuple[tuple[time, time], ...]:
    periods = []
    for spec in specs:
        start, end = (time.fromisoformat(part.strip()) for part in spec.split("-"))
        if end <= start:
            raise ValueError(f"Working period {spec!r} ends before it starts")
        periods.append((start, end))
    periods.sort()
    return tuple(periods)


@cache
def _warn_unknown_year(year: int) -> None:
    logger.warning(
        "chinesecalendar has no data for %s; assuming Monday-Friday. "
        "Enter that year's holidays as calendar overrides.",
        year,
    )


# The package's own is_workday() finds its supported years anew on every call
# (a scan of all its holidays): read its tables directly instead.
_KNOWN_YEARS = (min(chinese_calendar.holidays).year, max(chinese_calendar.holidays).year)
_HOLIDAY_WEEKDAYS = frozenset(
    day for day in chinese_calendar.holidays if day.weekday() < 5 and day not in chinese_calendar.workdays
)
_MAKE_UP_WEEKEND_DAYS = frozenset(day for day in chinese_calendar.workdays if day.weekday() >= 5)


def _package_is_workday(day: date, *, warn: bool = True) -> bool:
    """chinese_calendar.is_workday, Monday to Friday for the years it does not know."""
    if not _KNOWN_YEARS[0] <= day.year <= _KNOWN_YEARS[1]:
        if warn:
            _warn_unknown_year(day.year)
        return day.weekday() < 5
    return day in chinese_calendar.workdays or (day.weekday() < 5 and day not in chinese_calendar.holidays)


@dataclass(frozen=True)
class WorkCalendar:
    overrides: Mapping[date, bool] = field(default_factory=dict)
    periods: tuple[tuple[time, time], ...] = ((time(9), time(12)), (time(13), time(18)))

    @property
    def day_length(self) -> timedelta:
        return sum(
            (
                datetime.combine(date.min, end) - datetime.combine(date.min, start)
                for start, end in self.periods
            ),
            timedelta(),
        )

    def is_workday(self, day: date) -> bool:
        if day in self.overrides:
            return self.overrides[day]
        return _package_is_workday(day)

    def workdays_between(self, first: date, last: date) -> int:
        """How many working days [first, last] holds (0 when last is before first), without
        visiting each day: weekdays by arithmetic, then the package's holidays and make-up
        days and the overrides within the range."""
        if last < first:
            return 0
        weeks, extra = divmod((last - first).days + 1, 7)
        count = weeks * 5 + sum(1 for i in range(extra) if (first.weekday() + i) % 7 < 5)
        for year in range(first.year, last.year + 1):
            if not _KNOWN_YEARS[0] <= year <= _KNOWN_YEARS[1]:
                _warn_unknown_year(year)
        count -= sum(1 for day in _HOLIDAY_WEEKDAYS if first <= day <= last)
        count += sum(1 for day in _MAKE_UP_WEEKEND_DAYS if first <= day <= last)
        for day, is_workday in self.overrides.items():
            if first <= day <= last and is_workday != _package_is_workday(day, warn=False):
                count += 1 if is_workday else -1
        return count

    def _working_periods_from(self, day: date) -> Iterator[tuple[datetime, datetime]]:
        """Office-hour intervals, as aware local datetimes, from `day` onwards."""
        tz = timezone.get_current_timezone()
        for offset in range(MAX_DAYS_SEARCHED):
            current = day + timedelta(days=offset)
            if not self.is_workday(current):
                continue
            for start, end in self.periods:
                yield (
                    timezone.make_aware(datetime.combine(current, start), tz),
                    timezone.make_aware(datetime.combine(current, end), tz),
                )
        raise RuntimeError(f"No working day within {MAX_DAYS_SEARCHED} days of {day}")

    def add(self, start: datetime, amount: timedelta) -> datetime:
        """The moment `amount` of working time after `start`."""
        if amount < timedelta():
            raise ValueError("Working time to add must not be negative")
        start = timezone.localtime(start)
        if amount == timedelta():
            return start
        remaining = amount
        for period_start, period_end in self._working_periods_from(start.date()):
            segment_start = max(start, period_start)
            if segment_start >= period_end:
                continue
            available = period_end - segment_start
            if remaining <= available:
                return segment_start + remaining
            remaining -= available
        raise AssertionError("unreachable")

    def add_hours(self, start: datetime, hours: float) -> datetime:
        return self.add(start, timedelta(hours=hours))

    def add_days(self, start: datetime, days: int) -> datetime:
        """`days` working days later, at the same point of the working day."""
        return self.add(start, self.day_length * days)

    def between(self, start: datetime, end: datetime) -> timedelta:
        """Working time in [start, end); zero when end is not after start.

        The first and last days are counted period by period, the whole days
        between by workdays_between: a case overdue for years costs no more
        than one overdue since yesterday.
        """
        start, end = timezone.localtime(start), timezone.localtime(end)
        if end <= start:
            return timedelta()
        first, last = start.date(), end.date()
        if first == last:
            return self._within_day(first, start, end)
        return (
            self._within_day(first, start, end)
            + self.day_length * self.workdays_between(first + timedelta(days=1), last - timedelta(days=1))
            + self._within_day(last, start, end)
        )

    def _within_day(self, day: date, start: datetime, end: datetime) -> timedelta:
        """Working time of `day` inside [start, end)."""
        total = timedelta()
        if not self.is_workday(day):
            return total
        tz = timezone.get_current_timezone()
        for period_start, period_end in self.periods:
            begins = timezone.make_aware(datetime.combine(day, period_start), tz)
            ends = timezone.make_aware(datetime.combine(day, period_end), tz)
            overlap = min(end, ends) - max(start, begins)
            if overlap > timedelta():
                total += overlap
        return total

    def hours_between(self, start: datetime, end: datetime) -> float:
        return self.between(start, end) / timedelta(hours=1)


def _load_overrides() -> dict[date, bool]:
    from chengguan.models import CalendarOverride

    return dict(CalendarOverride.objects.values_list("date", "is_workday"))


# Every deadline reads them; an admin's edit is in force within a second
# everywhere (chengguan.refdata).
OVERRIDES = refdata.Snapshot("calendar overrides", _load_overrides)


def load_overrides() -> dict[date, bool]:
    return OVERRIDES.get()


def get_calendar() -> WorkCalendar:
    """The calendar in force: package data, admin overrides, configured office hours."""
    return WorkCalendar(overrides=load_overrides(), periods=_parse_periods(list(settings.WORKDAY_PERIODS)))
