"""The progress watchdog over the real dispatcher, on a fake clock: when a stall is one, and not."""

from __future__ import annotations

import asyncio
import contextlib

import pytest
from prometheus_client.parser import text_string_to_metric_families
from structlog.testing import capture_logs

from bridge.delivery.dispatch import Dispatcher
from bridge.delivery.outbox import OutboundRecord
from bridge.delivery.records import InboundRecord
from bridge.delivery.watchdog import ProgressWatchdog
from bridge.observability.metrics import Metrics
from timer_support import Timer, settle

STALL = 600.0


class Flow:
    def __init__(self) -> None:
        self.reasons: set[str] = set()

    def hold(self, reason: str, *, on: bool) -> None:
        if on:
            self.reasons.add(reason)
        else:
            self.reasons.discard(reason)


class Lanes:
    """Each record waits for its gate, unless it is one the gate lets through at once."""

    def __init__(self, *, passing: bool = False) -> None:
        self.passing = passing
        self.gates: dict[int, asyncio.Event] = {}

    def open(self, offset: int) -> None:
        self.gates.setdefault(offset, asyncio.Event()).set()

    async def process(self, record: InboundRecord) -> list[OutboundRecord]:
        if not self.passing:
            await self.gates.setdefault(record.offset, asyncio.Event()).wait()
        return [OutboundRecord("status", record.key, b"")]


class Held:
    def __init__(self) -> None:
        self.reason: str | None = None

    def __call__(self) -> str | None:
        return self.reason


@pytest.fixture
def timer() -> Timer:
    return Timer()


def build(timer: Timer, lanes: Lanes, stall: float = STALL):
    dispatcher = Dispatcher(
        process=lanes.process,
        publish=_never_committed,
        flow=Flow(),  # type: ignore[arg-type]
        max_in_flight=100,
        commit_interval=3600,
        on_fatal=lambda _error: None,
        give_up=lambda _record, _error, _tries: [],
        clock=timer,
    )
    held = Held()
    watchdog = ProgressWatchdog(
        progress=dispatcher, held_back=held, stall_seconds=stall, clock=timer, sleep=timer.sleep
    )
    return dispatcher, watchdog, held


async def _never_committed(_outputs, _offsets, _owner=None) -> None:
    raise AssertionError("the committer does not run in these tests")


def record(offset: int, key: bytes, partition: int = 0) -> InboundRecord:
    return InboundRecord(
        topic="case-events", partition=partition, offset=offset, key=key, value=b""
    )


async def test_nothing_in_flight_is_never_a_stall(timer):
    _, watchdog, _ = build(timer, Lanes())
    await timer.advance(100_000)
    assert watchdog.check().stalled is False


async def test_a_record_unsettled_for_the_stall_time_is_a_stall_named_by_partition_and_offset(
    timer,
):
    dispatcher, watchdog, _ = build(timer, Lanes())
    dispatcher.submit(record(7, b"a", partition=2))
    dispatcher.submit(record(8, b"b", partition=2))
    await timer.advance(STALL - 0.5)
    assert watchdog.check().stalled is False
    with capture_logs() as logs:
        await timer.advance(0.5)
        found = watchdog.check()
        watchdog.check()  # one line per stall, not one per look
    assert found.stalled is True
    assert found.oldest == {("case-events", 2): STALL}
    [line] = [entry for entry in logs if entry["log_level"] == "error"]
    assert line["event"].startswith("delivery stalled")
    assert (line["topic"], line["partition"], line["offset"]) == ("case-events", 2, 7)


async def test_a_settled_record_restarts_the_count(timer):
    lanes = Lanes()
    dispatcher, watchdog, _ = build(timer, lanes)
    dispatcher.submit(record(1, b"a"))
    dispatcher.submit(record(2, b"b", partition=1))
    await timer.advance(400)
    lanes.open(1)
    await settle()
    await timer.advance(STALL - 1)
    assert watchdog.check().stalled is False  # 599 s since a record settled
    await timer.advance(1)
    assert watchdog.check().stalled is True
    with capture_logs() as logs:
        lanes.open(2)
        await settle()
        assert watchdog.check().stalled is False
    assert [entry["event"] for entry in logs] == ["delivery no longer stalled"]


async def test_a_record_read_after_a_quiet_spell_starts_its_own_count(timer):
    """Time with nothing in flight is not stalled time."""
    dispatcher, watchdog, _ = build(timer, Lanes())
    await timer.advance(5000)
    dispatcher.submit(record(1, b"a"))
    await timer.advance(STALL - 1)
    assert watchdog.check().stalled is False
    await timer.advance(1)
    assert watchdog.check().stalled is True


@pytest.mark.parametrize("reason", ["circuit_breaker", "token", "announcement_pause"])
async def test_time_held_back_on_purpose_does_not_count(timer, reason):
    dispatcher, watchdog, held = build(timer, Lanes())
    dispatcher.submit(record(1, b"a"))
    held.reason = reason
    for _ in range(20):  # a long outage, looked at as the periodic check would
        await timer.advance(100)
        assert watchdog.check().stalled is False
    held.reason = None
    await timer.advance(STALL - 1)
    assert watchdog.check().stalled is False
    await timer.advance(1)
    assert watchdog.check().stalled is True


async def test_a_stall_ends_when_delivery_is_held_back(timer):
    dispatcher, watchdog, held = build(timer, Lanes())
    dispatcher.submit(record(1, b"a"))
    await timer.advance(STALL)
    assert watchdog.check().stalled is True
    held.reason = "circuit_breaker"
    assert watchdog.check().stalled is False


async def test_records_held_for_quiet_hours_are_settled_so_never_a_stall(timer):
    """The quiet-hours gate settles a record by storing it: in flight until committed, not stuck."""
    dispatcher, watchdog, _ = build(timer, Lanes(passing=True))
    for offset in range(5):
        dispatcher.submit(record(offset, b"k%d" % offset))
    await settle()
    assert dispatcher.in_flight == 5
    await timer.advance(100_000)
    found = watchdog.check()
    assert found.stalled is False
    assert found.oldest == {("case-events", 0): 0.0}


async def test_zero_turns_the_verdict_off_but_not_the_ages(timer):
    dispatcher, watchdog, _ = build(timer, Lanes(), stall=0)
    dispatcher.submit(record(3, b"a"))
    await timer.advance(100_000)
    found = watchdog.check()
    assert found.stalled is False
    assert found.oldest == {("case-events", 0): 100_000}


async def test_the_periodic_look_logs_a_stall_without_any_probe(timer):
    dispatcher, watchdog, _ = build(timer, Lanes(), stall=20)
    assert watchdog.interval == 2  # a tenth of the stall time, at most 5 s
    running = asyncio.create_task(watchdog.run())
    try:
        dispatcher.submit(record(1, b"a"))
        with capture_logs() as logs:
            for _ in range(11):
                await timer.advance(2)
        assert watchdog.stalled is True
        assert [e["offset"] for e in logs if e["event"].startswith("delivery stalled")] == [1]
    finally:
        running.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await running


async def test_the_gauges_report_ages_per_partition_and_the_verdict(timer):
    dispatcher, watchdog, _ = build(timer, Lanes())
    metrics = Metrics()
    metrics.watch_progress(watchdog.check)
    dispatcher.submit(record(1, b"a", partition=0))
    await timer.advance(30)
    dispatcher.submit(record(9, b"b", partition=1))
    await timer.advance(STALL - 30)
    body, _ = await metrics.scrape()
    values = {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(body.decode())
        for sample in family.samples
        if sample.name.startswith(("zalo_bridge_oldest", "zalo_bridge_watchdog"))
    }
    assert values == {
        (
            "zalo_bridge_oldest_unsettled_seconds",
            (("partition", "0"), ("topic", "case-events")),
        ): STALL,
        (
            "zalo_bridge_oldest_unsettled_seconds",
            (("partition", "1"), ("topic", "case-events")),
        ): STALL - 30,
        ("zalo_bridge_watchdog_stalled", ()): 1.0,
    }
