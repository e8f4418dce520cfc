"""Quiet hours: hold non-urgent notifications at night, release them in the morning."""

from bridge.quiet_hours.holding import (
    QuietHoursGate,
    Releaser,
    SerialPublisher,
    UrgencyRule,
    stop_task,
)
from bridge.quiet_hours.metrics import watch_quiet_hours
from bridge.quiet_hours.settings import QuietHoursSettings, clock_time, time_zone
from bridge.quiet_hours.store import HoldStore
from bridge.quiet_hours.window import QuietWindow, parse_clock_time

__all__ = [
    "HoldStore",
    "QuietHoursGate",
    "QuietHoursSettings",
    "QuietWindow",
    "Releaser",
    "SerialPublisher",
    "UrgencyRule",
    "clock_time",
    "parse_clock_time",
    "stop_task",
    "time_zone",
    "watch_quiet_hours",
]
