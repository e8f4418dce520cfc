"""Quiet hours: windows across midnight, the time zone, start == end, urgency."""

from __future__ import annotations

from datetime import UTC, datetime, time
from zoneinfo import ZoneInfo

import pytest

from bridge.events import CaseStateEvent
from bridge.quiet_hours.window import QuietWindow, is_urgent, parse_clock_time

HCM = ZoneInfo("Asia/Ho_Chi_Minh")
NIGHT = QuietWindow(time(21, 0), time(7, 0), HCM)


def local(hour, minute=0, day=10):
    return datetime(2026, 3, day, hour, minute, tzinfo=HCM)


class TestWindowAcrossMidnight:
    @pytest.mark.parametrize(
        ("hour", "minute", "quiet"),
        [
            (20, 59, False),
            (21, 0, True),
            (23, 59, True),
            (0, 0, True),
            (6, 59, True),
            (7, 0, False),
            (12, 0, False),
        ],
    )
    def test_is_quiet_from_start_inclusive_to_end_exclusive(self, hour, minute, quiet):
        assert NIGHT.is_quiet(local(hour, minute)) is quiet

    def test_an_evening_hold_is_released_the_next_morning_at_seven(self):
        assert NIGHT.next_release(local(22, 30)) == local(7, 0, day=11).astimezone(UTC)

    def test_an_after_midnight_hold_is_released_the_same_morning(self):
        assert NIGHT.next_release(local(3, 15)) == local(7, 0).astimezone(UTC)

    def test_outside_the_window_release_is_now(self):
        now = local(10, 0)
        assert NIGHT.next_release(now) == now.astimezone(UTC)


class TestTimeZone:
    def test_utc_instants_are_read_in_the_province_zone(self):
        # 14:30 UTC is 21:30 in Ha Noi / Ho Chi Minh City (UTC+7, no daylight saving time).
        assert NIGHT.is_quiet(datetime(2026, 7, 1, 14, 30, tzinfo=UTC))
        assert not NIGHT.is_quiet(datetime(2026, 7, 1, 0, 30, tzinfo=UTC))  # 07:30 local

    def test_the_release_is_seven_local_all_year_round(self):
        for month in (1, 4, 7, 10):
            now = datetime(2026, month, 15, 16, 0, tzinfo=UTC)  # 23:00 local
            assert NIGHT.next_release(now) == datetime(2026, month, 16, 0, 0, tzinfo=UTC)


class TestOtherWindows:
    def test_a_daytime_window_does_not_cross_midnight(self):
        lunch = QuietWindow(time(11, 30), time(13, 0), HCM)
        assert lunch.is_quiet(local(12, 0))
        assert not lunch.is_quiet(local(13, 0))
        assert not lunch.is_quiet(local(23, 0))
        assert lunch.next_release(local(11, 45)) == local(13, 0).astimezone(UTC)

    def test_start_equal_to_end_means_never_quiet(self):
        off = QuietWindow(time(21, 0), time(21, 0), HCM)
        assert off.disabled
        assert not any(off.is_quiet(local(h)) for h in range(24))


class TestParseClockTime:
    def test_hh_mm(self):
        assert parse_clock_time("07:05") == time(7, 5)

    @pytest.mark.parametrize("text", ["7", "7:5", "24:00", "ab:cd", "07:60", ""])
    def test_refuses_anything_else(self, text):
        with pytest.raises(ValueError, match=r"HH:MM|hour|minute"):
            parse_clock_time(text)


class TestUrgency:
    def urgent(self, event):
        return is_urgent(
            CaseStateEvent.model_validate(event),
            urgent_states=("RESULT_READY", "SUPPLEMENT_REQUESTED"),
            urgent_event_types=("DUE_DATE_CHANGED",),
        )

    def test_a_state_change_into_an_urgent_state_is_urgent(self, make_event):
        assert self.urgent(make_event(state="RESULT_READY"))
        assert not self.urgent(make_event(state="IN_PROGRESS"))

    def test_other_event_types_in_an_urgent_state_are_not(self, make_event):
        event = make_event(
            event_type="TRANSFERRED", state="SUPPLEMENT_REQUESTED", transfer={"to_unit": "Phòng B"}
        )
        assert not self.urgent(event)

    def test_an_urgent_event_type_is_urgent_in_any_state(self, make_event):
        event = make_event(
            event_type="DUE_DATE_CHANGED",
            state="IN_PROGRESS",
            due_date_change={"new_due_at": "2026-03-20T17:00:00+07:00"},
        )
        assert self.urgent(event)
