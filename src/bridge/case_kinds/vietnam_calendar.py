"""The default working-day calendar of Vietnamese agencies, with a province's own changes.

The ``holidays`` package (≈ 3.5 MB of a process's memory) is imported when a calendar is built,
not with this module.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from bridge.case_kinds.working_days import SATURDAY_SUNDAY, WorkingCalendar

if TYPE_CHECKING:
    from collections.abc import Iterable
    from datetime import date

    import holidays

__all__ = ["vietnam_calendar"]


@dataclass(frozen=True, eq=False)
class _PublicHolidays:
    """Vietnam's public holidays from the ``holidays`` package, computed per year on demand.

    Membership of a date of a year not seen yet makes the package compute that year (its lunar
    calendar gives Tết and the Hùng Kings' day), so the calendar has no end year to run past.
    """

    table: holidays.HolidayBase
    added: frozenset[date]
    removed: frozenset[date]

    def __contains__(self, day: object) -> bool:
        if day in self.removed:
            return False
        return day in self.added or day in self.table


@dataclass(frozen=True, eq=False)
class _SwappedWorkdays:
    """Weekend days the Government made working days in exchange for a bridge day off."""

    table: holidays.HolidayBase
    added: frozenset[date]
    removed: frozenset[date]

    def __contains__(self, day: object) -> bool:
        if day in self.removed:
            return False
        if day in self.added:
            return True
        _ = day in self.table  # computes the year of ``day``, and with it its swapped days
        return day in self.table.weekend_workdays


def vietnam_calendar(
    *,
    extra_holidays: Iterable[date] = (),
    removed_holidays: Iterable[date] = (),
    extra_workdays: Iterable[date] = (),
    removed_workdays: Iterable[date] = (),
) -> WorkingCalendar:
    """The working days of a Vietnamese state agency, as a province configures them.

    The default (no arguments) is Monday to Friday without the public holidays of the
    ``holidays`` package for Vietnam (``VN``): Tết Dương lịch, the Tết Nguyên đán days off, Giỗ
    Tổ Hùng Vương, 30/4, 1/5 and Quốc khánh (Bộ luật Lao động 2019 Art. 112), each year's
    compensatory days and the Saturdays worked in exchange ("làm bù") that the package records.
    A province adds the days its People's Committee or the Prime Minister grants on top
    (``extra_holidays``), or corrects the package (``removed_holidays``, ``extra_workdays``,
    ``removed_workdays``).
    """
    import holidays  # noqa: PLC0415 - loaded when a calendar is built (see the module's docstring)

    table = holidays.country_holidays("VN")
    return WorkingCalendar(
        weekend=SATURDAY_SUNDAY,
        holidays=_PublicHolidays(table, frozenset(extra_holidays), frozenset(removed_holidays)),
        weekend_workdays=_SwappedWorkdays(
            table, frozenset(extra_workdays), frozenset(removed_workdays)
        ),
    )
