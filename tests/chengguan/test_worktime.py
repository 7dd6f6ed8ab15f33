"""Working-time arithmetic on the mainland-China calendar (chengguan.worktime)."""

from datetime import date, timedelta

import chinese_calendar
import pytest

from chengguan.models import CalendarOverride
from chengguan.worktime import WorkCalendar, get_calendar
from tests.factories import aware

HOUR = timedelta(hours=1)
DAY = 8 * HOUR

# The 2026 Spring Festival as chinesecalendar 1.11 has it: nine days off,
# framed by two make-up Saturdays.
FESTIVAL = [date(2026, 2, 15) + timedelta(days=n) for n in range(9)]
MAKE_UP_SATURDAYS = [date(2026, 2, 14), date(2026, 2, 28)]
UNKNOWN_YEAR_MONDAY = date(2027, 1, 4)


@pytest.fixture(scope="module", autouse=True)
def _calendar_package_agrees():
    """The expectations below are only meaningful for the package's own data."""
    assert all(chinese_calendar.is_holiday(day) for day in FESTIVAL)
    assert FESTIVAL[-1] == date(2026, 2, 23)
    for saturday in MAKE_UP_SATURDAYS:
        assert saturday.weekday() == 5
        assert chinese_calendar.is_workday(saturday)
    assert chinese_calendar.is_workday(date(2026, 2, 13))
    assert chinese_calendar.is_workday(date(2026, 2, 24))
    with pytest.raises(NotImplementedError):
        chinese_calendar.is_workday(UNKNOWN_YEAR_MONDAY)


@pytest.fixture
def calendar(db) -> WorkCalendar:
    return get_calendar()


def test_office_hours_make_an_eight_hour_day(calendar):
    assert calendar.day_length == DAY


class TestAdd:
    def test_within_one_period(self, calendar):
        # given Monday 09:30
        start = aware(2026, 3, 2, 9, 30)
        # when two working hours pass
        # then it is 11:30 the same morning
        assert calendar.add_hours(start, 2) == aware(2026, 3, 2, 11, 30)

    def test_lunch_break_does_not_count(self, calendar):
        start = aware(2026, 3, 2, 11, 0)
        assert calendar.add_hours(start, 2) == aware(2026, 3, 2, 14, 0)

    def test_ends_exactly_at_the_end_of_the_day(self, calendar):
        assert calendar.add_hours(aware(2026, 3, 2, 9), 8) == aware(2026, 3, 2, 18)

    def test_runs_over_into_the_next_working_day(self, calendar):
        assert calendar.add_hours(aware(2026, 3, 2, 17), 2) == aware(2026, 3, 3, 10)

    def test_skips_an_ordinary_weekend(self, calendar):
        # Friday 2026-03-06 16:00 + 3 h: 2 h on Friday, 1 h on Monday
        assert calendar.add_hours(aware(2026, 3, 6, 16), 3) == aware(2026, 3, 9, 10)

    def test_working_days_keep_the_point_of_the_day(self, calendar):
        assert calendar.add_days(aware(2026, 3, 2, 10, 15), 3) == aware(2026, 3, 5, 10, 15)

    @pytest.mark.parametrize(
        ("start", "expected"),
        [
            pytest.param(aware(2026, 3, 2, 7, 0), aware(2026, 3, 2, 10, 0), id="before-office-hours"),
            pytest.param(aware(2026, 3, 2, 12, 30), aware(2026, 3, 2, 14, 0), id="during-lunch"),
            pytest.param(aware(2026, 3, 2, 20, 0), aware(2026, 3, 3, 10, 0), id="after-office-hours"),
            pytest.param(aware(2026, 3, 7, 11, 0), aware(2026, 3, 9, 10, 0), id="on-a-saturday"),
            pytest.param(aware(2026, 3, 1, 23, 59), aware(2026, 3, 2, 10, 0), id="sunday-night"),
        ],
    )
    def test_starting_outside_office_hours_counts_from_the_next_opening(self, calendar, start, expected):
        assert calendar.add_hours(start, 1) == expected

    def test_zero_is_the_start_itself(self, calendar):
        start = aware(2026, 3, 7, 11, 0)  # a Saturday
        assert calendar.add(start, timedelta()) == start

    def test_negative_amounts_are_refused(self, calendar):
        with pytest.raises(ValueError, match="negative"):
            calendar.add(aware(2026, 3, 2, 10), -HOUR)

    def test_accepts_utc_moments_and_answers_in_local_time(self, calendar):
        from datetime import UTC, datetime

        # 01:00 UTC is 09:00 in Shanghai
        result = calendar.add_hours(datetime(2026, 3, 2, 1, 0, tzinfo=UTC), 1)
        assert result == aware(2026, 3, 2, 10, 0)
        assert str(result.tzinfo) == "Asia/Shanghai"


class TestSpringFestival2026:
    def test_friday_before_runs_into_the_make_up_saturday(self, calendar):
        assert calendar.add_hours(aware(2026, 2, 13, 17), 2) == aware(2026, 2, 14, 10)

    def test_make_up_saturday_is_a_working_day(self, calendar):
        assert calendar.is_workday(date(2026, 2, 14))
        assert calendar.is_workday(date(2026, 2, 28))
        assert calendar.between(aware(2026, 2, 28, 0), aware(2026, 3, 1, 0)) == DAY

    def test_the_holiday_is_skipped_whole(self, calendar):
        assert not any(calendar.is_workday(day) for day in FESTIVAL)
        # Saturday 17:00 + 2 h: 1 h before the festival, 1 h after it
        assert calendar.add_hours(aware(2026, 2, 14, 17), 2) == aware(2026, 2, 24, 10)

    def test_working_days_across_the_festival(self, calendar):
        # Fri 13 -> Sat 14 (1) -> Tue 24 (2) -> ... -> Fri 27 (5) -> Sat 28 (6) -> Mon 2 Mar (7)
        start = aware(2026, 2, 13, 10)
        assert calendar.add_days(start, 1) == aware(2026, 2, 14, 10)
        assert calendar.add_days(start, 2) == aware(2026, 2, 24, 10)
        assert calendar.add_days(start, 5) == aware(2026, 2, 27, 10)
        assert calendar.add_days(start, 6) == aware(2026, 2, 28, 10)
        assert calendar.add_days(start, 7) == aware(2026, 3, 2, 10)

    def test_time_between_counts_only_office_hours_of_working_days(self, calendar):
        # Fri 13 and Sat 14 are full working days; 15-23 are off
        assert calendar.between(aware(2026, 2, 13, 9), aware(2026, 2, 24, 9)) == 2 * DAY
        assert calendar.hours_between(aware(2026, 2, 14, 17), aware(2026, 2, 24, 10)) == 2.0
        assert calendar.between(aware(2026, 2, 15, 0), aware(2026, 2, 24, 0)) == timedelta()


class TestBetween:
    def test_lunch_break_does_not_count(self, calendar):
        assert calendar.between(aware(2026, 3, 2, 11), aware(2026, 3, 2, 14)) == 2 * HOUR

    def test_whole_week(self, calendar):
        assert calendar.between(aware(2026, 3, 2, 0), aware(2026, 3, 9, 0)) == 5 * DAY

    def test_outside_office_hours_is_zero(self, calendar):
        assert calendar.between(aware(2026, 3, 2, 18), aware(2026, 3, 3, 9)) == timedelta()
        assert calendar.between(aware(2026, 3, 7, 9), aware(2026, 3, 8, 18)) == timedelta()

    @pytest.mark.parametrize("hours", [0, -1])
    def test_end_not_after_start_is_zero(self, calendar, hours):
        start = aware(2026, 3, 2, 10)
        assert calendar.between(start, start + timedelta(hours=hours)) == timedelta()

    def test_is_the_inverse_of_add(self, calendar):
        start = aware(2026, 2, 12, 15, 20)
        for amount in (HOUR / 2, 3 * HOUR, DAY, 5 * DAY + 90 * timedelta(minutes=1)):
            assert calendar.between(start, calendar.add(start, amount)) == amount


class TestOverrides:
    def test_a_year_the_package_does_not_know_falls_back_to_weekdays(self, calendar):
        assert calendar.is_workday(UNKNOWN_YEAR_MONDAY)
        assert not calendar.is_workday(date(2027, 1, 2))  # Saturday
        assert calendar.add_hours(aware(2027, 1, 1, 17), 2) == aware(2027, 1, 4, 10)

    def test_an_override_wins_for_a_year_the_package_does_not_know(self, db):
        # given 2027-01-04 (a Monday) declared a day off
        CalendarOverride.objects.create(date=UNKNOWN_YEAR_MONDAY, is_workday=False, note="调休")
        # when the calendar is asked
        calendar = get_calendar()
        # then the override decides, and arithmetic across it works
        assert not calendar.is_workday(UNKNOWN_YEAR_MONDAY)
        assert calendar.add_hours(aware(2027, 1, 1, 17), 2) == aware(2027, 1, 5, 10)

    def test_an_override_wins_over_the_package(self, db):
        CalendarOverride.objects.create(date=date(2026, 3, 1), is_workday=True)  # a Sunday
        CalendarOverride.objects.create(date=date(2026, 2, 14), is_workday=False)  # a make-up Saturday
        calendar = get_calendar()
        assert calendar.is_workday(date(2026, 3, 1))
        assert not calendar.is_workday(date(2026, 2, 14))
        assert calendar.add_hours(aware(2026, 2, 28, 17), 2) == aware(2026, 3, 1, 10)

    def test_saving_an_override_invalidates_the_cache(self, db):
        # given a calendar whose overrides are cached
        assert get_calendar().is_workday(UNKNOWN_YEAR_MONDAY)
        # when an admin adds an override
        override = CalendarOverride.objects.create(date=UNKNOWN_YEAR_MONDAY, is_workday=False)
        # then the next calendar sees it
        assert not get_calendar().is_workday(UNKNOWN_YEAR_MONDAY)
        # and it sees edits and deletions too
        override.is_workday = True
        override.save()
        assert get_calendar().is_workday(UNKNOWN_YEAR_MONDAY)
        override.delete()
        assert get_calendar().overrides == {}

    def test_cached_overrides_are_used_without_a_query(self, transactional_db, django_assert_num_queries):
        CalendarOverride.objects.create(date=UNKNOWN_YEAR_MONDAY, is_workday=False)
        get_calendar()
        with django_assert_num_queries(0):
            assert not get_calendar().is_workday(UNKNOWN_YEAR_MONDAY)


def test_periods_come_from_settings(settings, db):
    settings.WORKDAY_PERIODS = ["08:30-12:00", "14:00-17:30"]
    calendar = get_calendar()
    assert calendar.day_length == 7 * HOUR
    assert calendar.add_hours(aware(2026, 3, 2, 11), 2) == aware(2026, 3, 2, 15)


class TestLongSpans:
    """between() counts whole days by arithmetic; it must agree with walking the days."""

    @staticmethod
    def walked(calendar: WorkCalendar, start, end) -> timedelta:  # type: ignore[no-untyped-def]
        total, day = timedelta(), start.date()
        while day <= end.date():
            total += calendar._within_day(day, start, end)
            day += timedelta(days=1)
        return total

    @pytest.mark.parametrize(
        ("start", "end"),
        [
            (aware(2025, 12, 30, 10, 15), aware(2026, 3, 3, 16, 40)),  # New Year and Spring Festival
            (aware(2026, 2, 13, 17, 0), aware(2026, 3, 2, 9, 30)),  # make-up Saturdays inside
            (aware(2024, 9, 27, 8, 0), aware(2026, 10, 9, 12, 0)),  # two National Days
            (aware(2026, 11, 30, 9, 0), aware(2027, 2, 10, 11, 0)),  # into a year the package lacks
        ],
    )
    def test_agrees_with_walking_every_day(self, calendar, start, end):
        assert calendar.between(start, end) == self.walked(calendar, start, end)

    def test_overrides_within_the_span_count(self, db):
        # a make-up Sunday and an extra day off, entered by an administrator
        CalendarOverride.objects.create(date=date(2026, 3, 8), is_workday=True)
        CalendarOverride.objects.create(date=date(2026, 3, 10), is_workday=False)
        calendar = get_calendar()
        start, end = aware(2026, 3, 2, 9), aware(2026, 3, 16, 9)

        assert calendar.between(start, end) == 10 * DAY  # ten weekdays, +1 Sunday, -1 Tuesday
        assert calendar.between(start, end) == self.walked(calendar, start, end)

    def test_a_case_overdue_for_years_is_counted(self, calendar):
        # more days than add() ever searches (MAX_DAYS_SEARCHED): no error, and in working days
        span = calendar.between(aware(2020, 1, 2, 9), aware(2026, 1, 2, 9))
        assert span == self.walked(calendar, aware(2020, 1, 2, 9), aware(2026, 1, 2, 9))
        assert 1400 * DAY < span < 1500 * DAY
