"""Quiet hours: when a non-urgent message must wait, and until when (pure: the caller gives now)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Collection
    from zoneinfo import ZoneInfo

    from bridge.events import CaseStateEvent

__all__ = ["QuietWindow", "is_urgent", "parse_clock_time"]


def parse_clock_time(value: str) -> time:
    """Parse ``HH:MM`` (24-hour clock) into a ``time``; raise ``ValueError`` otherwise."""
    hours, sep, minutes = value.partition(":")
    if not sep or len(minutes) != 2 or not hours.isdigit() or not minutes.isdigit():  # noqa: PLR2004 - MM
        raise ValueError(f"expected HH:MM, got {value!r}")
    return time(int(hours), int(minutes))


@dataclass(frozen=True, slots=True)
class QuietWindow:
    """A daily window of local wall-clock time, ``start`` inclusive to ``end`` exclusive.

    A window whose start is later than its end crosses midnight (21:00-07:00); ``start == end``
    means no quiet hours at all.

    Args:
        start: Local time the quiet hours begin.
        end: Local time they end (messages are released then).
        zone: The time zone of ``start`` and ``end`` (Asia/Ho_Chi_Minh has no DST).
    """

    start: time
    end: time
    zone: ZoneInfo

    @property
    def disabled(self) -> bool:
        """True when start equals end: never quiet."""
        return self.start == self.end

    def is_quiet(self, now: datetime) -> bool:
        """Whether ``now`` (an aware datetime) falls inside the quiet hours."""
        if self.disabled:
            return False
        local = now.astimezone(self.zone).time().replace(tzinfo=None)
        if self.start < self.end:
            return self.start <= local < self.end
        return local >= self.start or local < self.end

    def next_release(self, now: datetime) -> datetime:
        """The end of the quiet hours ``now`` is in (UTC), or ``now`` itself when not quiet."""
        if not self.is_quiet(now):
            return now.astimezone(UTC)
        local = now.astimezone(self.zone)
        end = datetime.combine(local.date(), self.end, tzinfo=self.zone)
        if end <= local:
            end = datetime.combine(local.date() + timedelta(days=1), self.end, tzinfo=self.zone)
        return end.astimezone(UTC)


def is_urgent(
    event: CaseStateEvent, *, urgent_states: Collection[str], urgent_event_types: Collection[str]
) -> bool:
    """Whether ``event`` goes out even in quiet hours.

    A state change into one of ``urgent_states`` (e.g. RESULT_READY) is urgent; so is any event
    whose type is in ``urgent_event_types`` (e.g. DUE_DATE_CHANGED). Other event types that
    merely carry an urgent state (a transfer while a payment is requested) are not. A
    complaint's, denunciation's or land dispute's state is urgent as its lifecycle says (a
    dialogue or mediation invitation, a decision that starts the citizen's 30 days): the
    ``urgent_states`` of dossiers do not apply to it.
    """
    details = event.kind_details
    if details is not None:
        return details.urgent
    if event.event_type.value in urgent_event_types:
        return True
    return event.event_type.value == "STATE_CHANGED" and event.state.value in urgent_states
