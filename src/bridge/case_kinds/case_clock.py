"""The statutory due date of a case, from the states it went through and when (pure)."""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import TYPE_CHECKING

from bridge.case_kinds.deadlines import Circumstances, Pause, due_date
from bridge.case_kinds.lifecycles import lifecycle

if TYPE_CHECKING:
    from collections.abc import Sequence
    from datetime import date

    from bridge.case_kinds.deadlines import DeadlineCatalogue, DeadlineRule, Party, Period
    from bridge.case_kinds.lifecycles import CaseKind, Lifecycle
    from bridge.case_kinds.working_days import WorkingCalendar

__all__ = ["Due", "Entry", "statutory_due"]


@dataclass(frozen=True, slots=True)
class Entry:
    """The case entered ``state`` on ``on`` (a local date in the province's time zone)."""

    state: str
    on: date


@dataclass(frozen=True, slots=True)
class Due:
    """The time limit running in the case's current state.

    Args:
        on: The last day; the limit ends at 24:00 local time.
        started: The day the clock started (not counted).
        rule: The rule (its key, source and certainty).
        period: The figure that applied, before extensions.
    """

    on: date
    started: date
    rule: DeadlineRule
    period: Period

    @property
    def party(self) -> Party:
        """Whom the due date binds."""
        return self.rule.party


def statutory_due(  # noqa: PLR0913 - the inputs of a due date, all named
    kind: CaseKind,
    history: Sequence[Entry],
    *,
    catalogue: DeadlineCatalogue,
    calendar: WorkingCalendar,
    circumstances: Circumstances = Circumstances(),  # noqa: B008 - frozen, shared safely
    extensions: Sequence[int] = (),
) -> Due | None:
    """The limit running in the last state of ``history``, or ``None`` when none runs.

    None runs when the state has no statutory limit, when the case is suspended (the clock is
    stopped), when the state that starts the clock is missing from the history, or when the rule
    has no figure for these circumstances.

    Args:
        kind: The case's kind.
        history: Every state the case entered, oldest first, with the day (never decreasing).
        catalogue: The time limits (statutory, or with the province's overrides).
        calendar: Working days.
        circumstances: Complexity, remote area, level.
        extensions: Days of each written extension (gia hạn) granted; they count only for a
            rule that can be extended (a denunciation's resolution), and are ignored otherwise.

    Raises:
        ValueError: An empty history, a state the kind does not have, days going backwards,
            or more or longer extensions than the rule allows.
    """
    cycle = lifecycle(kind)
    _check_history(cycle, history)
    current = cycle.spec(history[-1].state)
    if current.deadline is None or current.pauses_clock:
        return None
    anchors = set(current.clock_from or (current.name,))
    start_index = next(
        (i for i in range(len(history) - 1, -1, -1) if history[i].state in anchors), None
    )
    if start_index is None:
        return None
    started = history[start_index].on
    rule = catalogue.rule(current.deadline, on=started)
    period = rule.period(circumstances)
    if period is None:
        return None
    pauses = _pauses(cycle, history[start_index:]) if rule.pausable else ()
    granted = extensions if rule.extensions is not None else ()
    last_day = due_date(rule, started, calendar, circumstances, extensions=granted, pauses=pauses)
    if last_day is None:  # pragma: no cover - the period was checked above
        return None
    return Due(on=last_day, started=started, rule=rule, period=period)


def _check_history(cycle: Lifecycle, history: Sequence[Entry]) -> None:
    if not history:
        raise ValueError("a case history needs at least one state")
    for entry in history:
        cycle.spec(entry.state)
    for before, after in itertools.pairwise(history):
        if after.on < before.on:
            raise ValueError(
                f"the history goes back in time: {after.state} on {after.on} after "
                f"{before.state} on {before.on}"
            )


def _pauses(cycle: Lifecycle, history: Sequence[Entry]) -> tuple[Pause, ...]:
    """Each stretch in a clock-stopping state, from its entry to the next state's entry."""
    pauses: list[Pause] = []
    paused_since: date | None = None
    for entry in history:
        stopped = cycle.spec(entry.state).pauses_clock
        if stopped and paused_since is None:
            paused_since = entry.on
        elif not stopped and paused_since is not None:
            pauses.append(Pause(paused_since, entry.on))
            paused_since = None
    return tuple(pauses)
