"""The clock-dependent settings of a bridge that a test or a harness starts, always explicit.

Quiet hours (21:00-07:00 by default) and announcement nights (22:00-06:00) depend on the wall
clock: a bridge started with the defaults holds non-urgent events at night in Vietnam, so a test
or a run that relies on the defaults passes at one hour and fails at another. Whatever starts a
bridge therefore says what it wants: both off on purpose (``always_day``), or quiet hours on with
a window placed relative to a clock it controls (``quiet_window``). ``require_explicit_clock``
refuses an environment that leaves them to the defaults.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

if TYPE_CHECKING:
    from collections.abc import Collection, Mapping
    from datetime import datetime, timedelta

__all__ = [
    "CLOCK_DEPENDENT_SETTINGS",
    "VIETNAM",
    "always_day_env",
    "always_day_sections",
    "missing_clock_settings",
    "quiet_window_env",
    "require_explicit_clock",
]

VIETNAM = ZoneInfo("Asia/Ho_Chi_Minh")
CLOCK_DEPENDENT_SETTINGS = (
    "BRIDGE_QUIET_HOURS__ENABLED",
    "BRIDGE_ANNOUNCEMENTS__QUIET_START",
    "BRIDGE_ANNOUNCEMENTS__QUIET_END",
)
"""The variables a started bridge must be given: its behaviour at night depends on them."""
_NO_NIGHT = "00:00"
"""Announcement quiet hours from 00:00 to 00:00: no night at all."""


def always_day_env() -> dict[str, str]:
    """Quiet hours off and no announcement night: everything goes out at once, at any hour."""
    return {
        "BRIDGE_QUIET_HOURS__ENABLED": "false",
        "BRIDGE_ANNOUNCEMENTS__QUIET_START": _NO_NIGHT,
        "BRIDGE_ANNOUNCEMENTS__QUIET_END": _NO_NIGHT,
    }


def always_day_sections() -> dict[str, dict[str, Any]]:
    """``always_day_env`` as keyword sections of ``load_settings`` (for in-process bridges)."""
    return {
        "quiet_hours": {"enabled": False},
        "announcements": {"quiet_start": _NO_NIGHT, "quiet_end": _NO_NIGHT},
    }


def quiet_window_env(
    start: datetime, length: timedelta, *, zone: ZoneInfo = VIETNAM
) -> dict[str, str]:
    """Quiet hours on, from ``start`` (on the clock the caller controls) for ``length``.

    Announcement nights are off: a caller that wants them says so itself.
    """
    begin = start.astimezone(zone)
    end = begin + length
    return {
        "BRIDGE_QUIET_HOURS__ENABLED": "true",
        "BRIDGE_QUIET_HOURS__START": begin.strftime("%H:%M"),
        "BRIDGE_QUIET_HOURS__END": end.strftime("%H:%M"),
        "BRIDGE_QUIET_HOURS__TIMEZONE": str(zone),
        "BRIDGE_ANNOUNCEMENTS__QUIET_START": _NO_NIGHT,
        "BRIDGE_ANNOUNCEMENTS__QUIET_END": _NO_NIGHT,
    }


def missing_clock_settings(env: Mapping[str, str], lacks: Collection[str] = ()) -> list[str]:
    """The clock-dependent variables ``env`` leaves to their defaults.

    Args:
        env: The bridge's environment.
        lacks: Variables of settings the bridge that will run does not have (an older bridge
            run by chaos or bench): nothing to make explicit there.
    """
    return [name for name in CLOCK_DEPENDENT_SETTINGS if name not in env and name not in lacks]


def require_explicit_clock(
    env: Mapping[str, str], what: str = "a bridge", lacks: Collection[str] = ()
) -> None:
    """Refuse to start ``what`` with quiet hours or announcement nights left to the defaults.

    Raises:
        ValueError: Naming the variables that are missing.
    """
    missing = missing_clock_settings(env, lacks)
    if missing:
        raise ValueError(
            f"{what} would follow the wall clock (quiet hours, announcement nights): set "
            + ", ".join(missing)
            + " (bridge_devkit.clock_settings.always_day_env(), or quiet_window_env())"
        )
