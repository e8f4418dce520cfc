"""Working days: weekends, holidays, swapped Saturdays, Vietnam's default calendar, properties."""

from __future__ import annotations

from datetime import date, timedelta
from functools import cache

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bridge.case_kinds import WorkingCalendar, vietnam_calendar
from bridge.case_kinds.working_days import MAX_CLOSED_RUN_DAYS
from bridge.errors import ConfigurationError

PROPERTIES = settings(deadline=None, max_examples=200)

# Any calendar a province could configure: a weekend of 0-6 days, holidays and swapped days
# within two years around the dates tested.
FIRST = date(2026, 1, 1)
days_in_range = st.integers(min_value=0, max_value=730).map(lambda n: FIRST + timedelta(days=n))
calendars = st.builds(
    WorkingCalendar,
    weekend=st.frozensets(st.integers(0, 6), max_size=6),
    holidays=st.frozensets(days_in_range, max_size=60),
    weekend_workdays=st.frozensets(days_in_range, max_size=10),
)
starts = st.integers(min_value=0, max_value=365).map(lambda n: FIRST + timedelta(days=n))
counts = st.integers(min_value=0, max_value=40)


@cache
def vietnam() -> WorkingCalendar:
    return vietnam_calendar()


class TestWorkingCalendar:
    def test_monday_to_friday_by_default(self):
        calendar = WorkingCalendar()
        week = [date(2026, 3, 2) + timedelta(days=n) for n in range(7)]  # Monday to Sunday
        assert [calendar.is_working_day(d) for d in week] == [True] * 5 + [False] * 2

    def test_a_holiday_wins_over_a_swapped_saturday(self):
        saturday = date(2026, 3, 7)
        calendar = WorkingCalendar(holidays={saturday}, weekend_workdays={saturday})
        assert not calendar.is_working_day(saturday)

    def test_the_start_day_is_not_counted(self):
        # Bộ luật Dân sự 2015 Art. 147: counted from the next day. Friday + 1 is Monday.
        assert WorkingCalendar().add_working_days(date(2026, 3, 6), 1) == date(2026, 3, 9)

    def test_zero_working_days_is_the_start_itself(self):
        assert WorkingCalendar().add_working_days(date(2026, 3, 7), 0) == date(2026, 3, 7)

    def test_negative_counts_are_refused(self):
        with pytest.raises(ValueError, match="negative"):
            WorkingCalendar().add_working_days(date(2026, 3, 7), -1)

    def test_a_seven_day_weekend_is_refused(self):
        with pytest.raises(ConfigurationError, match="no working day"):
            WorkingCalendar(weekend=frozenset(range(7)))

    def test_weekday_numbers_beyond_sunday_are_refused(self):
        with pytest.raises(ConfigurationError, match="0-6"):
            WorkingCalendar(weekend=frozenset({7}))

    def test_a_calendar_closed_for_over_a_year_is_refused_not_looped_on(self):
        start = date(2026, 1, 1)
        closed = frozenset(start + timedelta(days=n) for n in range(MAX_CLOSED_RUN_DAYS + 2))
        with pytest.raises(ConfigurationError, match="no working day"):
            WorkingCalendar(holidays=closed).next_working_day(start)


class TestVietnamDefault:
    def test_tet_2026_is_five_working_days_off(self):
        # Tết Bính Ngọ: Monday 16 to Friday 20 February 2026 (with both weekends, nine days).
        tet = [date(2026, 2, 16) + timedelta(days=n) for n in range(5)]
        assert not any(vietnam().is_working_day(d) for d in tet)
        assert vietnam().is_working_day(date(2026, 2, 13))
        assert vietnam().is_working_day(date(2026, 2, 23))

    def test_seven_working_days_from_the_friday_before_tet(self):
        # A denunciation received Fri 13/2/2026 (Luật Tố cáo Art. 24(1), 07 ngày làm việc): the
        # Tết week does not count; 23, 24, 25, 26, 27 February, 2 and 3 March.
        assert vietnam().add_working_days(date(2026, 2, 13), 7) == date(2026, 3, 3)

    @pytest.mark.parametrize(
        "holiday",
        [
            date(2026, 1, 1),  # Tết Dương lịch
            date(2026, 4, 27),  # Giỗ Tổ Hùng Vương (10/3 lunar, a Sunday) observed on Monday
            date(2026, 4, 30),  # Ngày Chiến thắng
            date(2026, 5, 1),  # Quốc tế Lao động
            date(2026, 9, 1),  # Quốc khánh, with the day before 2/9
            date(2026, 9, 2),
        ],
    )
    def test_the_labour_code_holidays_are_days_off(self, holiday):
        assert not vietnam().is_working_day(holiday)

    def test_a_saturday_swapped_into_work_is_a_working_day(self):
        # Saturday 22/8/2026 is worked for the day off on Monday 31/8 (bridge to Quốc khánh).
        assert vietnam().is_working_day(date(2026, 8, 22))
        assert not vietnam().is_working_day(date(2026, 8, 31))

    def test_later_years_are_computed_on_demand(self):
        # Tết Canh Tuất, 2030: no end year to run past.
        assert not vietnam().is_working_day(date(2030, 2, 4))

    def test_a_province_adds_and_removes_days(self):
        extra = date(2026, 3, 10)  # a Tuesday the province closes (e.g. a local anniversary)
        fixed = date(2026, 4, 30)
        worked_saturday = date(2026, 3, 14)
        calendar = vietnam_calendar(
            extra_holidays=[extra],
            removed_holidays=[fixed],
            extra_workdays=[worked_saturday],
            removed_workdays=[date(2026, 8, 22)],
        )
        assert not calendar.is_working_day(extra)
        assert calendar.is_working_day(fixed)
        assert calendar.is_working_day(worked_saturday)
        assert not calendar.is_working_day(date(2026, 8, 22))


class TestProperties:
    @PROPERTIES
    @given(calendar=calendars, start=starts, count=counts)
    def test_the_nth_working_day_is_a_working_day_after_the_start(self, calendar, start, count):
        due = calendar.add_working_days(start, count)
        assert due >= start
        if count:
            assert due > start
            assert calendar.is_working_day(due)

    @PROPERTIES
    @given(calendar=calendars, start=starts, count=counts)
    def test_exactly_n_working_days_are_counted(self, calendar, start, count):
        due = calendar.add_working_days(start, count)
        assert calendar.working_days_between(start, due) == count

    @PROPERTIES
    @given(calendar=calendars, start=starts, count=counts)
    def test_more_days_never_end_sooner(self, calendar, start, count):
        assert calendar.add_working_days(start, count + 1) > calendar.add_working_days(start, count)

    @PROPERTIES
    @given(calendar=calendars, start=starts, count=counts, later=st.integers(0, 30))
    def test_a_later_start_never_ends_sooner(self, calendar, start, count, later):
        moved = start + timedelta(days=later)
        assert calendar.add_working_days(moved, count) >= calendar.add_working_days(start, count)

    @PROPERTIES
    @given(calendar=calendars, day=starts)
    def test_the_next_working_day_skips_only_days_off(self, calendar, day):
        found = calendar.next_working_day(day)
        assert found >= day
        assert calendar.is_working_day(found)
        skipped = [day + timedelta(days=n) for n in range((found - day).days)]
        assert not any(calendar.is_working_day(d) for d in skipped)

    @PROPERTIES
    @given(start=starts, count=counts)
    def test_vietnam_never_lands_on_a_weekend_unless_swapped_or_a_holiday(self, start, count):
        due = vietnam().add_working_days(start, count + 1)
        assert due not in vietnam().holidays
        assert due.weekday() < 5 or due in vietnam().weekend_workdays
