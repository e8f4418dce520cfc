"""Run pytest under another wall clock (libfaketime): once inside quiet hours, once outside.

`make test-clocks` shows that the tests do not depend on the hour. Every process of a run (pytest,
the bridges and emulators it starts, the Kafka broker and PostgreSQL server it starts) sees the
wall clock shifted by the same offset, chosen so that the run starts at a given local time in
Vietnam: 23:30 (inside the default quiet hours, 21:00-07:00, and the announcement night,
22:00-06:00) and 12:00 (outside both). libfaketime comes from Debian's packages (`faketime`).

    python -m bridge_devkit.clock_runs [--at NAME=HH:MM …] [--report FILE] -- PYTEST_ARGS…
"""

from __future__ import annotations

import argparse
import glob
import math
import os
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from bridge.announcements.settings import AnnouncementSettings
from bridge.quiet_hours import QuietWindow, parse_clock_time
from bridge.quiet_hours.settings import QuietHoursSettings
from bridge_devkit.clock_settings import VIETNAM
from bridge_devkit.processes import say

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence
    from zoneinfo import ZoneInfo

__all__ = ["ClockRun", "faked_env", "find_libfaketime", "main", "offset_to", "run_under_clock"]

LIBFAKETIME_GLOBS = (
    "/usr/lib/*/faketime/libfaketimeMT.so.1",
    "/usr/lib/faketime/libfaketimeMT.so.1",
)
"""The multi-threaded library (the JVM and Python's thread pools call the clock from threads)."""
DEFAULT_CLOCKS = (("inside quiet hours", "23:30"), ("outside quiet hours", "12:00"))
_TOLERANCE_S = 120.0


class ClockRunError(RuntimeError):
    """libfaketime is missing, or does not move the clock of a child process."""


@dataclass
class ClockRun:
    """One pytest run under a shifted clock, and how it went."""

    name: str
    local_start: datetime
    offset_s: int
    quiet_hours: bool
    announcement_night: bool
    returncode: int = -1
    counts: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0

    @property
    def passed(self) -> bool:
        """Every test passed, and there was at least one."""
        return self.returncode == 0 and self.counts.get("passed", 0) > 0

    def summary(self) -> str:
        """One line: the clock, the counts, the time."""
        counts = ", ".join(f"{value} {key}" for key, value in self.counts.items() if value)
        return (
            f"{self.name}: process clock {self.local_start:%Y-%m-%d %H:%M} Asia/Ho_Chi_Minh "
            f"(offset {self.offset_s:+d} s; quiet hours {'on' if self.quiet_hours else 'off'}, "
            f"announcement night {'on' if self.announcement_night else 'off'}): "
            f"{counts or 'no tests'} in {self.seconds:.0f} s, exit {self.returncode}"
        )


def find_libfaketime() -> str:
    """The path of libfaketimeMT.

    Raises:
        ClockRunError: When it is not installed.
    """
    for pattern in LIBFAKETIME_GLOBS:
        found = sorted(glob.glob(pattern))  # noqa: PTH207 - a glob over absolute paths
        if found:
            return found[0]
    raise ClockRunError(
        "libfaketime is not installed: `make .faketime` (Debian: apt-get install faketime)"
    )


def offset_to(local: str, now: datetime, *, zone: ZoneInfo = VIETNAM) -> int:
    """Seconds to add to ``now`` to reach the next ``HH:MM`` in ``zone`` (0 ≤ offset < 1 day)."""
    at = parse_clock_time(local)
    here = now.astimezone(zone)
    target = here.replace(hour=at.hour, minute=at.minute, second=0, microsecond=0)
    if target < here:
        target += timedelta(days=1)
    return math.ceil((target - here).total_seconds())


SERVERS_ELSEWHERE = ("KAFKA_BOOTSTRAP_SERVERS", "BRIDGE_TEST_POSTGRES_DSN")
"""Servers the tests would use instead of starting their own: they would keep the real clock
(a Kafka 4 broker refuses records stamped more than an hour ahead of its own clock)."""


def faked_env(base: Mapping[str, str], library: str, offset_s: int) -> dict[str, str]:
    """``base`` with libfaketime preloaded and the wall clock shifted by ``offset_s``.

    A relative offset (not a start time) keeps every process of the run on one clock: each child
    reads the real clock plus the same offset. The tests start their own broker and database,
    under that clock too.
    """
    preload = " ".join(filter(None, [library, base.get("LD_PRELOAD", "")]))
    kept = {name: value for name, value in base.items() if name not in SERVERS_ELSEWHERE}
    return {**kept, "LD_PRELOAD": preload, "FAKETIME": f"{offset_s:+d}"}


def _check_faked(env: Mapping[str, str], expected: float) -> None:
    """Make sure a child process of ``env`` really sees the shifted clock."""
    done = subprocess.run(
        [sys.executable, "-c", "import time; print(time.time())"],
        env=dict(env),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    seen = float(done.stdout.strip() or "nan") if done.returncode == 0 else float("nan")
    if not abs(seen - expected) < _TOLERANCE_S:
        raise ClockRunError(
            f"libfaketime did not shift the clock of a child process (expected {expected:.0f}, "
            f"saw {done.stdout.strip() or done.stderr.strip()[-300:]})"
        )


def _counts(junit: Path) -> dict[str, int]:
    """passed, failed, errors, skipped from pytest's JUnit XML report."""
    try:
        root = ET.parse(junit).getroot()  # noqa: S314 - written by our own pytest run
    except (OSError, ET.ParseError):
        return {}
    suites = [root] if root.tag == "testsuite" else list(root.iter("testsuite"))
    total = {
        key: sum(int(suite.get(key, "0")) for suite in suites)
        for key in ("tests", "failures", "errors", "skipped")
    }
    passed = total["tests"] - total["failures"] - total["errors"] - total["skipped"]
    return {
        "passed": passed,
        "failed": total["failures"],
        "errors": total["errors"],
        "skipped": total["skipped"],
    }


def _is_quiet(local_start: datetime) -> tuple[bool, bool]:
    """Whether the default quiet hours and announcement night cover ``local_start``."""
    quiet, news = QuietHoursSettings(), AnnouncementSettings()
    hours = QuietWindow(parse_clock_time(quiet.start), parse_clock_time(quiet.end), VIETNAM)
    night = QuietWindow(
        parse_clock_time(news.quiet_start), parse_clock_time(news.quiet_end), VIETNAM
    )
    return hours.is_quiet(local_start), night.is_quiet(local_start)


def run_under_clock(  # noqa: PLR0913 - the clock, the tests, where to write
    name: str,
    local: str,
    pytest_args: Sequence[str],
    workdir: Path,
    *,
    base_env: Mapping[str, str] | None = None,
    library: str | None = None,
) -> ClockRun:
    """Run ``pytest pytest_args`` with every process's clock starting at ``local`` in Vietnam.

    Args:
        name: What the run shows (for the report).
        local: ``HH:MM`` the faked clock reads when the run starts.
        pytest_args: Test paths and options.
        workdir: Receives the run's temporary directory and JUnit report.
        base_env: The environment to shift (default: this process's).
        library: libfaketime's path (default: found on the system).

    Returns:
        The run, its counts and its duration.

    Raises:
        ClockRunError: libfaketime is missing or does not shift a child's clock.
    """
    library = library or find_libfaketime()
    now = datetime.now(UTC)
    offset = offset_to(local, now)
    local_start = (now + timedelta(seconds=offset)).astimezone(VIETNAM)
    env = faked_env(base_env if base_env is not None else os.environ, library, offset)
    _check_faked(env, time.time() + offset)
    quiet, night = _is_quiet(local_start)
    run = ClockRun(name, local_start, offset, quiet, night)
    slug = "".join(c if c.isalnum() else "-" for c in name)
    junit = workdir / f"{slug}.xml"
    junit.unlink(missing_ok=True)
    started = time.monotonic()
    done = subprocess.run(  # noqa: S603 - our own interpreter running pytest
        [
            sys.executable,
            "-m",
            "pytest",
            *pytest_args,
            f"--junitxml={junit}",
            f"--basetemp={workdir / slug}",
            "-p",
            "no:cacheprovider",
        ],
        env=env,
        check=False,
    )
    run.seconds = time.monotonic() - started
    run.returncode = done.returncode
    run.counts = _counts(junit)
    return run


def _report(runs: Sequence[ClockRun], pytest_args: Sequence[str]) -> str:
    lines = [
        "# Tests under two wall clocks",
        "",
        f"`pytest {' '.join(pytest_args)}`, each process's clock shifted with libfaketime.",
        "",
        (
            "| run | process clock (Asia/Ho_Chi_Minh) | quiet hours | announcement night "
            "| passed | failed | errors | skipped | time | exit |"
        ),
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for run in runs:
        counts = run.counts
        lines.append(
            f"| {run.name} | {run.local_start:%Y-%m-%d %H:%M} ({run.offset_s:+d} s) "
            f"| {'on' if run.quiet_hours else 'off'} "
            f"| {'on' if run.announcement_night else 'off'} "
            f"| {counts.get('passed', 0)} | {counts.get('failed', 0)} | {counts.get('errors', 0)} "
            f"| {counts.get('skipped', 0)} | {run.seconds:.0f} s | {run.returncode} |"
        )
    return "\n".join(lines) + "\n"


NOT_BRIDGE_TESTS = ("bench", "chaos", "deploy", "devkit", "e2e", "emulator")
"""Test folders that are not bridge's own integration tests (``make test-clocks`` skips them)."""


def main(argv: list[str] | None = None) -> int:
    """Run the pytest arguments after ``--`` under each clock; exit 1 unless every run passed."""
    parser = argparse.ArgumentParser(prog="bridge-clock-runs", description=__doc__)
    parser.add_argument(
        "--at",
        action="append",
        metavar="NAME=HH:MM",
        help="a run whose clock starts at HH:MM in Vietnam (repeatable; default: 23:30 and 12:00)",
    )
    parser.add_argument("--workdir", type=Path, default=Path(".cache/clock-runs"))
    parser.add_argument("--report", type=Path, help="also write the results as Markdown here")
    parser.add_argument("pytest_args", nargs=argparse.REMAINDER)
    args = parser.parse_args(argv)
    pytest_args = [a for a in args.pytest_args if a != "--"] or [
        "tests",
        "-m",
        "kafka",
        "--ignore=tests/test_any_hour.py",  # itself a run under a clock
        # bridge's own integration tests only (the wings' folders), as before the tests mirrored
        # the wings: not the dev kit's, the emulator's, the chart's, the demo, chaos or bench
        *(f"--ignore=tests/{folder}" for folder in NOT_BRIDGE_TESTS),
    ]
    clocks = [tuple(spec.split("=", 1)) for spec in args.at] if args.at else list(DEFAULT_CLOCKS)
    args.workdir.mkdir(parents=True, exist_ok=True)
    runs = []
    try:
        for name, local in clocks:
            say(f"--- {name}: the clock of every process starts at {local} in Vietnam")
            run = run_under_clock(name, local, pytest_args, args.workdir.resolve())
            say(run.summary())
            runs.append(run)
    except ClockRunError as exc:
        say(f"clock runs: {exc}", err=True)
        return 1
    say("")
    for run in runs:
        say(run.summary())
    report = _report(runs, pytest_args)
    if args.report is not None:
        args.report.parent.mkdir(parents=True, exist_ok=True)
        args.report.write_text(report, encoding="utf-8")
    return 0 if all(run.passed for run in runs) else 1


if __name__ == "__main__":
    raise SystemExit(main())
