"""The quiet-hours section of the settings: the night window and what is urgent."""

from __future__ import annotations

from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, field_validator

from bridge.events import CaseState, EventType
from bridge.quiet_hours.window import parse_clock_time

__all__ = ["QuietHoursSettings", "clock_time", "time_zone"]


def clock_time(value: str) -> str:
    """``value`` if it is a local ``HH:MM`` (a pydantic validator)."""
    parse_clock_time(value)
    return value


def time_zone(value: str) -> str:
    """``value`` if it names a known IANA time zone (a pydantic validator)."""
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"unknown time zone {value!r}") from exc
    return value


class QuietHoursSettings(BaseModel):
    """Quiet hours: non-urgent case notifications wait until morning (docs/quiet-hours-…)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    enabled: bool = Field(default=True, description="Hold non-urgent notifications at night.")
    start: str = Field(default="21:00", description="Local HH:MM the quiet hours begin.")
    end: str = Field(
        default="07:00", description="Local HH:MM they end; held messages go out then."
    )
    timezone: str = Field(default="Asia/Ho_Chi_Minh", description="Zone of start and end.")
    urgent_states: tuple[str, ...] = Field(
        default=("RESULT_READY", "SUPPLEMENT_REQUESTED", "PAYMENT_REQUESTED"),
        description="A STATE_CHANGED into one of these states is sent at once, even at night.",
    )
    urgent_event_types: tuple[str, ...] = Field(
        default=(), description="Event types sent at once, whatever their state."
    )
    release_poll_seconds: float = Field(
        default=30.0, gt=0, le=3600, description="How often the releaser looks for due holds."
    )
    release_lease_seconds: float = Field(
        default=120.0,
        gt=0,
        description="How long a replica owns the release of a held record before another may.",
    )
    release_concurrency: int = Field(
        default=20, ge=1, le=1000, description="Dossiers released side by side."
    )

    @field_validator("start", "end")
    @classmethod
    def _clock(cls, value: str) -> str:
        return clock_time(value)

    @field_validator("urgent_states")
    @classmethod
    def _known_states(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        unknown = sorted(set(value) - {state.value for state in CaseState})
        if unknown:
            raise ValueError(f"unknown dossier states {unknown}")
        return value

    @field_validator("urgent_event_types")
    @classmethod
    def _known_types(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        unknown = sorted(set(value) - {kind.value for kind in EventType})
        if unknown:
            raise ValueError(f"unknown event types {unknown}")
        return value

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        return time_zone(value)
