"""A bridge started by a test or a harness never follows the wall clock by default."""

from __future__ import annotations

import os
import sys
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bridge.quiet_hours import QuietWindow, parse_clock_time
from bridge.settings import load_settings
from bridge_devkit.clock_runs import _counts, faked_env, offset_to
from bridge_devkit.clock_settings import (
    CLOCK_DEPENDENT_SETTINGS,
    VIETNAM,
    always_day_env,
    always_day_sections,
    quiet_window_env,
    require_explicit_clock,
)
from bridge_devkit.harness import Processes, runs_bridge

_HOURS = st.datetimes(
    min_value=datetime(2020, 1, 1),  # noqa: DTZ001 - hypothesis wants naive bounds
    max_value=datetime(2040, 1, 1),  # noqa: DTZ001
    timezones=st.just(UTC),
)


@pytest.fixture
def no_bridge_variables(monkeypatch):
    """No BRIDGE_* or KAFKA_* variable of the machine leaks into the settings."""
    for name in list(os.environ):
        if name.startswith(("BRIDGE_", "KAFKA_")):
            monkeypatch.delenv(name)


def _windows(settings):
    quiet = settings.quiet_hours
    news = settings.announcements
    hours = QuietWindow(parse_clock_time(quiet.start), parse_clock_time(quiet.end), VIETNAM)
    night = QuietWindow(
        parse_clock_time(news.quiet_start), parse_clock_time(news.quiet_end), VIETNAM
    )
    return quiet.enabled, hours, night


@given(now=_HOURS)
def test_always_day_holds_nothing_at_any_hour(now):
    enabled, _hours, night = _windows(load_settings(**always_day_sections()))
    assert not enabled
    assert not night.is_quiet(now)


@pytest.mark.usefixtures("no_bridge_variables")
def test_the_environment_and_the_sections_say_the_same(monkeypatch):
    from_sections = load_settings(**always_day_sections()).model_dump()
    for name, value in always_day_env().items():
        monkeypatch.setenv(name, value)
    assert load_settings().model_dump() == from_sections
    assert set(always_day_env()) == set(CLOCK_DEPENDENT_SETTINGS)


@given(now=_HOURS, minutes=st.integers(min_value=1, max_value=23 * 60))
def test_a_quiet_window_placed_from_a_clock_covers_that_clock(now, minutes):
    env = quiet_window_env(now, timedelta(minutes=minutes))
    sections = {
        "quiet_hours": {
            "enabled": env["BRIDGE_QUIET_HOURS__ENABLED"] == "true",
            "start": env["BRIDGE_QUIET_HOURS__START"],
            "end": env["BRIDGE_QUIET_HOURS__END"],
            "timezone": env["BRIDGE_QUIET_HOURS__TIMEZONE"],
        },
        **{k: v for k, v in always_day_sections().items() if k != "quiet_hours"},
    }
    enabled, hours, night = _windows(load_settings(**sections))
    assert enabled
    assert hours.is_quiet(now.replace(second=0, microsecond=0))
    assert not hours.is_quiet(now + timedelta(minutes=minutes + 1))
    assert not night.is_quiet(now)


@pytest.mark.parametrize(
    ("argv", "bridge"),
    [
        ([sys.executable, "-m", "bridge", "run", "--port", "1"], True),
        (["/venv/bin/zalo-bridge", "run", "--host", "127.0.0.1"], True),
        ([sys.executable, "-m", "bridge", "zalo", "authorize"], False),
        ([sys.executable, "-m", "bridge_devkit.emulator", "--port-file", "x"], False),
        (["/venv/bin/zalo-bridge", "check-config"], False),
    ],
)
def test_a_bridge_command_is_recognised(argv, bridge):
    assert runs_bridge(argv) is bridge


def test_a_harness_refuses_to_start_a_bridge_that_would_follow_the_wall_clock(tmp_path):
    processes = Processes()
    argv = [sys.executable, "-m", "bridge", "run", "--host", "127.0.0.1", "--port", "9"]
    env = {"PATH": os.environ.get("PATH", ""), "BRIDGE_QUIET_HOURS__ENABLED": "false"}
    with pytest.raises(ValueError, match="BRIDGE_ANNOUNCEMENTS__QUIET_START") as caught:
        processes.spawn("bridge", argv, env, tmp_path / "bridge.log")
    assert "BRIDGE_QUIET_HOURS__ENABLED" not in str(caught.value)
    assert not (tmp_path / "bridge.log").exists()  # nothing was started
    # Settings an older bridge does not have need not be set.
    require_explicit_clock(
        env, lacks=("BRIDGE_ANNOUNCEMENTS__QUIET_START", "BRIDGE_ANNOUNCEMENTS__QUIET_END")
    )


@given(
    now=_HOURS,
    hour=st.integers(min_value=0, max_value=23),
    minute=st.integers(min_value=0, max_value=59),
)
def test_the_offset_lands_on_the_asked_local_time(now, hour, minute):
    offset = offset_to(f"{hour:02d}:{minute:02d}", now)
    assert 0 <= offset <= 24 * 3600
    there = (now + timedelta(seconds=offset)).astimezone(VIETNAM)
    assert (there.hour, there.minute) == (hour, minute)
    assert there.second == 0


def test_every_process_of_a_run_gets_the_same_relative_shift():
    base = {
        "LD_PRELOAD": "/opt/other.so",
        "PATH": "/bin",
        "KAFKA_BOOTSTRAP_SERVERS": "127.0.0.1:9092",
        "BRIDGE_TEST_POSTGRES_DSN": "postgresql://127.0.0.1/x",
    }
    env = faked_env(base, "/lib/faketime.so", 57_600)
    assert env["FAKETIME"] == "+57600"  # relative: each child reads its real clock + offset
    assert env["LD_PRELOAD"] == "/lib/faketime.so /opt/other.so"
    assert env["PATH"] == "/bin"
    # Servers on the real clock are not used: the run starts its own, under its clock.
    assert "KAFKA_BOOTSTRAP_SERVERS" not in env
    assert "BRIDGE_TEST_POSTGRES_DSN" not in env


def test_the_junit_report_gives_the_counts(tmp_path):
    junit = tmp_path / "run.xml"
    junit.write_text(
        '<testsuites><testsuite tests="10" failures="1" errors="2" skipped="0"/></testsuites>',
        encoding="utf-8",
    )
    assert _counts(junit) == {"passed": 7, "failed": 1, "errors": 2, "skipped": 0}
    assert _counts(tmp_path / "missing.xml") == {}
