"""Working-day arithmetic over a calendar of weekends, holidays and swapped working days (pure)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import TYPE_CHECKING

from bridge.errors import ConfigurationError

if TYPE_CHECKING:
    from collections.abc import Container

__all__ = ["MAX_CLOSED_RUN_DAYS", "SATURDAY_SUNDAY", "WorkingCalendar"]

SATURDAY_SUNDAY = frozenset({5, 6})
"""The weekend of Vietnamese state agencies (``date.weekday()`` numbers: Monday is 0)."""

MAX_CLOSED_RUN_DAYS = 366
"""A calendar with more consecutive days off than this is refused as misconfigured."""

_ONE_DAY = timedelta(days=1)


def _no_days() -> frozenset[date]:
    return frozenset()


@dataclass(frozen=True)
class WorkingCalendar:
    """Which days an agency works: not the weekend, not a holiday, unless swapped into work.

    A day is a working day (ngày làm việc) when it is not a holiday and either falls on a weekday
    outside ``weekend`` or is one of the ``weekend_workdays`` (a Saturday worked in exchange for a
    bridge day off, "làm bù"). A holiday always wins over a swap.

    Args:
        weekend: ``date.weekday()`` numbers that are days off (default Saturday and Sunday).
            At most six: a week needs a working day.
        holidays: Public holidays and other days off; any container of dates (a frozenset, or a
            lazily computed calendar such as the one ``vietnam_calendar`` builds).
        weekend_workdays: Weekend dates that are working days.
    """

    weekend: frozenset[int] = SATURDAY_SUNDAY
    holidays: Container[date] = field(default_factory=_no_days)
    weekend_workdays: Container[date] = field(default_factory=_no_days)

    def __post_init__(self) -> None:
        """Refuse a weekend that leaves no working weekday, or that names no weekday."""
        if not self.weekend <= frozenset(range(7)):
            raise ConfigurationError(f"weekend days are numbers 0-6, got {sorted(self.weekend)}")
        if len(self.weekend) == 7:  # noqa: PLR2004 - the days of a week
            raise ConfigurationError("a weekend of all seven days leaves no working day")

    def is_working_day(self, day: date) -> bool:
        """Whether the agency works on ``day``."""
        if day in self.holidays:
            return False
        return day.weekday() not in self.weekend or day in self.weekend_workdays

    def next_working_day(self, day: date) -> date:
        """``day`` itself when it is a working day, else the first working day after it.

        Raises:
            ConfigurationError: No working day within ``MAX_CLOSED_RUN_DAYS`` (a calendar whose
                holidays cover everything).
        """
        probe = day
        for _ in range(MAX_CLOSED_RUN_DAYS + 1):
            if self.is_working_day(probe):
                return probe
            probe += _ONE_DAY
        raise ConfigurationError(
            f"the working-day calendar has no working day in the {MAX_CLOSED_RUN_DAYS} days "
            f"from {day.isoformat()}"
        )

    def add_working_days(self, start: date, count: int) -> date:
        """The ``count``-th working day after ``start`` (``start`` itself is never counted).

        ``count`` 0 gives ``start``. This is how a time limit "within N ngày làm việc from the
        day of X" ends: the day of X is not counted (Bộ luật Dân sự 2015 Art. 147).
        """
        if count < 0:
            raise ValueError(f"a number of working days cannot be negative, got {count}")
        day = start
        for _ in range(count):
            day = self.next_working_day(day + _ONE_DAY)
        return day

    def working_days_between(self, start: date, end: date) -> int:
        """How many working days fall after ``start`` and on or before ``end`` (0 if none)."""
        count = 0
        day = start + _ONE_DAY
        while day <= end:
            if self.is_working_day(day):
                count += 1
            day += _ONE_DAY
        return count
