"""Statutory time limits as data, and the due date they give from a start date (pure).

A time limit (thời hạn) is counted the way Bộ luật Dân sự 2015 counts one, since the complaint,
denunciation and land laws do not say otherwise:

* the day of the starting event is not counted (Art. 147(2)-(3));
* a limit in days (``ngày``) ends at 24:00 of its last day, and when that day is a weekend day
  or a holiday it ends at the end of the next working day (Art. 148(1), (5), (6));
* a limit in working days (``ngày làm việc``) counts only working days, so its last day is one.

Suspension (tạm đình chỉ) stops the clock: the days from the suspension decision to the decision
to continue are not counted (Luật Tố cáo 2018 Art. 34(2); Luật Khiếu nại Art. 11a as added by Law
136/2025/QH15, read through NĐ 124/2020/NĐ-CP Art. 28b as added by NĐ 155/2026/NĐ-CP). Written
extensions (gia hạn) add their days (Luật Tố cáo 2018 Art. 30).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from enum import StrEnum
from typing import TYPE_CHECKING

from bridge.errors import ConfigurationError

if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence

    from bridge.case_kinds.working_days import WorkingCalendar

__all__ = [
    "Certainty",
    "Circumstances",
    "Complexity",
    "DayCount",
    "DeadlineCatalogue",
    "DeadlineRule",
    "Extensions",
    "Level",
    "Party",
    "Pause",
    "Period",
    "Variant",
    "due_date",
    "rules_in",
]


class DayCount(StrEnum):
    """How the law counts a limit: ``ngày`` (calendar days) or ``ngày làm việc``."""

    CALENDAR = "calendar"
    WORKING = "working"


_PERIOD = re.compile(r"^(?P<days>[0-9]{1,4})(?P<unit>d|wd)$")
_MAX_DAYS = 3660
"""No statutory limit of the three case kinds is near ten years; larger values are typos."""


@dataclass(frozen=True, slots=True)
class Period:
    """A number of calendar or working days, written ``30d`` or ``7wd``."""

    days: int
    count: DayCount

    def __post_init__(self) -> None:
        """Refuse negative or absurdly long periods."""
        if not 0 <= self.days <= _MAX_DAYS:
            raise ValueError(f"a period is 0 to {_MAX_DAYS} days, got {self.days}")

    def __str__(self) -> str:
        """``30d`` for 30 calendar days, ``7wd`` for 7 working days."""
        return f"{self.days}{'wd' if self.count is DayCount.WORKING else 'd'}"

    @classmethod
    def parse(cls, text: str) -> Period:
        """Read ``30d`` (calendar days) or ``7wd`` (working days).

        Raises:
            ValueError: Anything else.
        """
        match = _PERIOD.fullmatch(text.strip()) if isinstance(text, str) else None
        if match is None:
            raise ValueError(f"expected a period like 30d or 7wd, got {text!r}")
        count = DayCount.WORKING if match["unit"] == "wd" else DayCount.CALENDAR
        return cls(int(match["days"]), count)


class Complexity(StrEnum):
    """How complex the case was classified, in writing, by the person resolving it.

    ``COMPLEX`` is a "vụ việc phức tạp" (one of the seven criteria of NĐ 124/2020 Art. 3a and
    NĐ 31/2019 Art. 3(2)); ``ESPECIALLY_COMPLEX`` an "vụ việc đặc biệt phức tạp" (two or more
    criteria, NĐ 31/2019 Art. 3(3)), a denunciation-law category.
    """

    NORMAL = "normal"
    COMPLEX = "complex"
    ESPECIALLY_COMPLEX = "especially_complex"


class Level(StrEnum):
    """Whose People's Committee chair resolves a land dispute (two-tier government, 2025)."""

    COMMUNE = "commune"
    PROVINCE = "province"


class Party(StrEnum):
    """Whom a due date binds."""

    AGENCY = "agency"
    """The agency must act by then (accept, decide, conclude)."""
    CITIZEN = "citizen"
    """The citizen may act until then (complain again, sue)."""
    EFFECT = "effect"
    """Nobody acts: the decision takes legal effect then, unless challenged."""


class Certainty(StrEnum):
    """How sure the figure is (docs/complaints-and-disputes.md explains each one)."""

    VERIFIED = "verified"
    """Read in the text in force (law or decree), or quoted by an official outlet."""
    PRE_AMENDMENT = "pre_amendment"
    """Read in the law before Law 136/2025/QH15; no change reported, the amended text not read."""
    UNCERTAIN = "uncertain"
    """Secondary sources only."""


@dataclass(frozen=True, slots=True)
class Circumstances:
    """What about a case changes its time limit.

    Args:
        complexity: The written classification (vụ việc phức tạp / đặc biệt phức tạp).
        remote_area: The case is in a remote or hard-to-reach area: "vùng sâu, vùng xa đi lại khó
            khăn" (Luật Khiếu nại), or a mountain, border, island or hardship commune (land).
        several_locations: A denunciation's sender or conditions must be checked in several places
            or through another agency (Luật Tố cáo 2018 Art. 24(1)).
        level: Whose chair resolves a land dispute.
    """

    complexity: Complexity = Complexity.NORMAL
    remote_area: bool = False
    several_locations: bool = False
    level: Level | None = None


@dataclass(frozen=True, slots=True)
class Variant:
    """One figure of a rule and the circumstances it applies to (``None``: any).

    ``period`` ``None`` means the law sets no figure we could confirm: no due date is given.
    """

    name: str
    period: Period | None
    complexity: frozenset[Complexity] | None = None
    remote_area: bool | None = None
    several_locations: bool | None = None
    level: Level | None = None

    @property
    def catches_all(self) -> bool:
        """Whether the variant applies whatever the circumstances."""
        return (
            self.complexity is None
            and self.remote_area is None
            and self.several_locations is None
            and self.level is None
        )

    def matches(self, circumstances: Circumstances) -> bool:
        """Whether the variant applies to a case in ``circumstances``."""
        return (
            (self.complexity is None or circumstances.complexity in self.complexity)
            and (self.remote_area is None or circumstances.remote_area == self.remote_area)
            and (
                self.several_locations is None
                or circumstances.several_locations == self.several_locations
            )
            and (self.level is None or circumstances.level == self.level)
        )


@dataclass(frozen=True, slots=True)
class Extensions:
    """Written extensions the person resolving the case may grant (gia hạn).

    Args:
        max_days_each: The most days one extension may add.
        max_count: How many extensions each complexity allows (missing: none).
    """

    max_days_each: int
    max_count: tuple[tuple[Complexity, int], ...]

    def allowed(self, complexity: Complexity) -> int:
        """How many extensions a case of ``complexity`` may get."""
        return dict(self.max_count).get(complexity, 0)


@dataclass(frozen=True, slots=True)
class Pause:
    """A suspension: from the day of the suspension decision to the day of the decision to go on.

    The days after ``start`` up to and including ``end`` are not counted.
    """

    start: date
    end: date

    def __post_init__(self) -> None:
        """Refuse a pause that ends before it starts."""
        if self.end < self.start:
            raise ValueError(f"a pause from {self.start} cannot end on {self.end}")


@dataclass(frozen=True, slots=True)
class DeadlineRule:
    """A statutory time limit: its figures, whom it binds, where the law sets it.

    Args:
        key: Stable name, e.g. ``complaint.first_instance.resolve`` (settings use it).
        summary: What must happen within the limit, in English.
        party: Whom the due date binds.
        variants: The figures; the first variant matching the case's circumstances applies,
            and the last one must catch all.
        source: The articles that set the figures.
        certainty: How sure the figures are.
        note: What the reader must know (amendments, sources that disagree).
        effective_from: The first day of receipt the version applies to (``None``: always).
        pausable: Suspension stops the clock.
        extensions: Written extensions that may be granted.
    """

    key: str
    summary: str
    party: Party
    variants: tuple[Variant, ...]
    source: str
    certainty: Certainty
    note: str = ""
    effective_from: date | None = None
    pausable: bool = False
    extensions: Extensions | None = None

    def __post_init__(self) -> None:
        """Refuse a rule without a catch-all last variant, or with two variants of one name."""
        if not self.variants or not self.variants[-1].catches_all:
            raise ValueError(f"the last variant of {self.key} must apply to every case")
        names = [variant.name for variant in self.variants]
        if len(set(names)) != len(names):
            raise ValueError(f"{self.key} names a variant twice: {names}")

    def variant(self, circumstances: Circumstances) -> Variant:
        """The variant that applies to a case in ``circumstances``."""
        return next(v for v in self.variants if v.matches(circumstances))

    def period(self, circumstances: Circumstances) -> Period | None:
        """The period for a case in ``circumstances`` (``None``: no figure to count with)."""
        return self.variant(circumstances).period

    def with_period(self, variant_name: str, period: Period | None) -> DeadlineRule:
        """A copy whose variant ``variant_name`` has ``period``.

        Raises:
            KeyError: The rule has no such variant.
        """
        if variant_name not in {v.name for v in self.variants}:
            raise KeyError(variant_name)
        variants = tuple(
            replace(v, period=period) if v.name == variant_name else v for v in self.variants
        )
        return replace(self, variants=variants)


def due_date(  # noqa: PLR0913 - a due date depends on all of them
    rule: DeadlineRule,
    start: date,
    calendar: WorkingCalendar,
    circumstances: Circumstances = Circumstances(),
    *,
    extensions: Sequence[int] = (),
    pauses: Sequence[Pause] = (),
) -> date | None:
    """The last day of ``rule``'s limit for a case whose clock started on ``start``.

    Args:
        rule: The time limit.
        start: The day of the event that starts it (not counted).
        calendar: Working days, weekends and holidays.
        circumstances: Complexity, remote area, level.
        extensions: The days of each written extension granted, in order.
        pauses: Suspensions (only for a pausable rule); those that begin after the limit has run
            out change nothing.

    Returns:
        The last day (the limit ends at 24:00 local time), or ``None`` when the rule has no
        figure for these circumstances.

    Raises:
        ValueError: Extensions the rule does not allow (too many, too long, or none allowed),
            or pauses for a rule that cannot be paused.
    """
    period = rule.period(circumstances)
    if period is None:
        return None
    _check_extensions(rule, circumstances.complexity, extensions)
    if pauses and not rule.pausable:
        raise ValueError(f"{rule.key} cannot be suspended")
    total = period.days + sum(extensions)
    ordered = sorted(pauses, key=lambda pause: (pause.start, pause.end))
    if period.count is DayCount.WORKING:
        return _working_due(start, total, calendar, ordered)
    return calendar.next_working_day(_calendar_end(start, total, ordered))


def _check_extensions(
    rule: DeadlineRule, complexity: Complexity, extensions: Sequence[int]
) -> None:
    if not extensions:
        return
    if rule.extensions is None:
        raise ValueError(f"{rule.key} cannot be extended")
    allowed = rule.extensions.allowed(complexity)
    if len(extensions) > allowed:
        raise ValueError(
            f"{rule.key} allows {allowed} extension(s) for a {complexity.value} case, "
            f"got {len(extensions)}"
        )
    longest = rule.extensions.max_days_each
    if any(not 1 <= days <= longest for days in extensions):
        raise ValueError(f"each extension of {rule.key} is 1 to {longest} days, got {extensions}")


def _calendar_end(start: date, days: int, pauses: Sequence[Pause]) -> date:
    """The raw last day of ``days`` calendar days after ``start``, pauses not counted."""
    cursor, remaining = start, days
    for pause in pauses:
        if pause.start > cursor + timedelta(days=remaining):
            break  # the limit ran out before this suspension
        if pause.end <= cursor:
            continue  # wholly before the clock (or an earlier pause) started
        remaining -= (max(pause.start, cursor) - cursor).days
        cursor = pause.end
    return cursor + timedelta(days=remaining)


def _working_due(
    start: date, days: int, calendar: WorkingCalendar, pauses: Sequence[Pause]
) -> date:
    """The ``days``-th working day after ``start``, pauses not counted."""
    cursor, remaining = start, days
    for pause in pauses:
        if pause.start > calendar.add_working_days(cursor, remaining):
            break
        if pause.end <= cursor:
            continue
        remaining -= calendar.working_days_between(cursor, max(pause.start, cursor))
        cursor = pause.end
    return calendar.add_working_days(cursor, remaining)


@dataclass(frozen=True)
class DeadlineCatalogue:
    """Every time limit, by key, with dated versions (a decree may change a figure).

    Build it from rules; ``with_overrides`` gives the province's own figures (settings).
    """

    rules: tuple[DeadlineRule, ...]
    _by_key: dict[str, tuple[DeadlineRule, ...]] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        """Group the versions of each key, oldest first; refuse two versions of one date."""
        grouped: dict[str, list[DeadlineRule]] = {}
        for rule in self.rules:
            grouped.setdefault(rule.key, []).append(rule)
        by_key: dict[str, tuple[DeadlineRule, ...]] = {}
        for key, versions in grouped.items():
            starts = [v.effective_from for v in versions]
            if len(set(starts)) != len(starts):
                raise ValueError(f"{key} has two versions in force from the same day")
            by_key[key] = tuple(sorted(versions, key=lambda v: v.effective_from or date.min))
        object.__setattr__(self, "_by_key", by_key)

    def names(self) -> tuple[str, ...]:
        """The keys of the time limits, sorted."""
        return tuple(sorted(self._by_key))

    def versions(self, key: str) -> tuple[DeadlineRule, ...]:
        """Every version of ``key``, oldest first.

        Raises:
            KeyError: No such time limit.
        """
        return self._by_key[key]

    def rule(self, key: str, on: date) -> DeadlineRule:
        """The version of ``key`` in force for a case whose clock started on ``on``.

        Raises:
            KeyError: No such time limit, or no version in force that day.
        """
        in_force = [
            v for v in self._by_key[key] if v.effective_from is None or v.effective_from <= on
        ]
        if not in_force:
            raise KeyError(f"{key} has no version in force on {on.isoformat()}")
        return in_force[-1]

    def with_overrides(self, overrides: Mapping[str, Mapping[str, str]]) -> DeadlineCatalogue:
        """A copy with the province's figures: ``{key: {variant: "30d" | "7wd" | "none"}}``.

        An override replaces the figure in every version of the key ("none": no due date).

        Raises:
            ConfigurationError: An unknown key or variant, or a figure that is not a period.
        """
        replaced = {key: list(versions) for key, versions in self._by_key.items()}
        for key, figures in overrides.items():
            if key not in replaced:
                raise ConfigurationError(f"no statutory time limit is called {key!r}")
            if not isinstance(figures, Mapping):
                raise ConfigurationError(
                    f"time limit {key}: expected {{variant: period}}, got {type(figures).__name__}"
                )
            for variant_name, text in figures.items():
                period = _parse_override(key, variant_name, text)
                try:
                    replaced[key] = [v.with_period(variant_name, period) for v in replaced[key]]
                except KeyError:
                    names = ", ".join(v.name for v in replaced[key][0].variants)
                    raise ConfigurationError(
                        f"time limit {key} has no variant {variant_name!r} (it has: {names})"
                    ) from None
        return DeadlineCatalogue(tuple(r for versions in replaced.values() for r in versions))


def _parse_override(key: str, variant_name: str, text: str) -> Period | None:
    if isinstance(text, str) and text.strip().lower() == "none":
        return None
    try:
        return Period.parse(text)
    except ValueError as exc:
        raise ConfigurationError(f"time limit {key}.{variant_name}: {exc}") from exc


def rules_in(catalogue: DeadlineCatalogue) -> Iterable[DeadlineRule]:
    """Every version of every rule, by key then date (for documentation and checks)."""
    for key in catalogue.names():
        yield from catalogue.versions(key)
