"""The tests that start a bridge pass at any hour: a few of them again, under the other clock.

The suite itself runs at whatever hour it is. This test runs the tests that start a bridge against
the wall clock (a subprocess, or the app in-process) once more with every process's clock shifted
by libfaketime to the other regime: 12:00 in Vietnam when it is quiet hours now, 23:30 (quiet hours
and announcement night) otherwise. So every `make test` covers both. `make test-clocks` runs every
Kafka integration test under both clocks.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from bridge.quiet_hours import QuietWindow, parse_clock_time
from bridge.quiet_hours.settings import QuietHoursSettings
from bridge_devkit.clock_runs import run_under_clock
from bridge_devkit.clock_settings import VIETNAM

pytestmark = [pytest.mark.kafka, pytest.mark.postgres]  # it starts both, under its clock

BRIDGE_STARTERS = [
    "tests/kafka/test_kafka_sasl.py::test_events_flow_through_an_authenticated_listener",
    (
        "tests/zalo/test_token_lifecycle.py::"
        "test_three_replicas_spend_each_refresh_token_once_and_lose_no_message"
    ),
    (
        "tests/zalo/test_token_lifecycle.py::"
        "test_a_failing_refresh_pauses_delivery_and_readiness_until_it_succeeds"
    ),
    (
        "tests/delivery/test_delivery_on_kafka.py::TestDeliveryOnKafka::"
        "test_each_event_reaches_its_citizen_once_in_order"
    ),
    (
        "tests/delivery/test_delivery_on_kafka.py::TestDeliveryOnKafka::"
        "test_bad_records_go_to_the_dlq_and_the_next_good_one_is_delivered"
    ),
]
"""The three tests that failed at night (issue 11), and two in-process deliveries on the real
clock (`make test-clocks` runs all of them)."""


def test_the_bridge_starters_pass_under_the_other_clock(tmp_path):
    defaults = QuietHoursSettings()
    window = QuietWindow(parse_clock_time(defaults.start), parse_clock_time(defaults.end), VIETNAM)
    quiet_now = window.is_quiet(datetime.now(UTC))
    name, local = ("outside quiet hours", "12:00") if quiet_now else ("inside quiet hours", "23:30")
    # The run starts its own broker and database, on its clock (a Kafka 4 broker refuses records
    # stamped an hour ahead of its own clock).
    run = run_under_clock(name, local, [*BRIDGE_STARTERS, "-q"], tmp_path)
    assert run.quiet_hours is not quiet_now
    assert run.passed, run.summary()
    assert run.counts["passed"] >= len(BRIDGE_STARTERS)
    assert run.counts["failed"] == run.counts["errors"] == run.counts["skipped"] == 0
