"""The dispatcher: order per dossier, concurrency across dossiers, commits up to the first gap."""

from __future__ import annotations

import asyncio

import pytest

from bridge.delivery.dispatch import Dispatcher
from bridge.delivery.outbox import OutboundRecord, PublishError
from bridge.delivery.records import InboundRecord


class Flow:
    def __init__(self) -> None:
        self.reasons: set[str] = set()
        self.changes: list[tuple[str, bool]] = []

    def hold(self, reason: str, *, on: bool) -> None:
        self.changes.append((reason, on))
        if on:
            self.reasons.add(reason)
        else:
            self.reasons.discard(reason)


class Gates:
    """Each record waits for its own gate, so a test decides the order in which they finish."""

    def __init__(self) -> None:
        self.gates: dict[int, asyncio.Event] = {}
        self.started: list[int] = []
        self.finished: list[int] = []

    def gate(self, offset: int) -> asyncio.Event:
        return self.gates.setdefault(offset, asyncio.Event())

    async def process(self, record: InboundRecord) -> list[OutboundRecord]:
        self.started.append(record.offset)
        await self.gate(record.offset).wait()
        self.finished.append(record.offset)
        return [OutboundRecord("status", record.key, b"%d" % record.offset)]


class Publisher:
    def __init__(self) -> None:
        self.calls: list[tuple[list[bytes], dict[tuple[str, int], int]]] = []
        self.fail = False

    async def publish(self, outputs, offsets) -> None:
        if self.fail:
            raise PublishError("broker down")
        self.calls.append(([o.value for o in outputs], dict(offsets)))


def record(offset: int, key: bytes | None, partition: int = 0) -> InboundRecord:
    return InboundRecord(topic="in", partition=partition, offset=offset, key=key, value=b"")


@pytest.fixture
def parts():
    gates, publisher, flow = Gates(), Publisher(), Flow()
    dispatcher = Dispatcher(
        process=gates.process,
        publish=publisher.publish,
        flow=flow,  # type: ignore[arg-type]
        max_in_flight=4,
        commit_interval=3600,
        on_fatal=lambda _error: None,
    )
    return dispatcher, gates, publisher, flow


async def settle() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


class TestDispatcher:
    async def test_one_dossier_goes_in_order_others_side_by_side(self, parts):
        dispatcher, gates, _, _ = parts
        dispatcher.submit(record(0, b"A"))
        dispatcher.submit(record(1, b"A"))
        dispatcher.submit(record(2, b"B"))
        await settle()
        assert gates.started == [0, 2]
        gates.gate(2).set()
        await settle()
        assert gates.finished == [2]
        gates.gate(0).set()
        await settle()
        assert gates.started == [0, 2, 1]

    async def test_commits_stop_at_the_first_unsettled_record(self, parts):
        dispatcher, gates, publisher, _ = parts
        for offset, key in enumerate([b"A", b"B", b"C"]):
            dispatcher.submit(record(offset, key))
        gates.gate(1).set()
        gates.gate(2).set()
        await settle()
        await dispatcher.flush()
        assert publisher.calls == []
        gates.gate(0).set()
        await settle()
        await dispatcher.flush()
        assert publisher.calls == [([b"0", b"1", b"2"], {("in", 0): 3})]
        assert dispatcher.in_flight == 0

    async def test_partitions_commit_independently(self, parts):
        dispatcher, gates, publisher, _ = parts
        dispatcher.submit(record(5, b"A", partition=0))
        dispatcher.submit(record(9, b"B", partition=1))
        gates.gate(9).set()
        await settle()
        await dispatcher.flush()
        assert publisher.calls == [([b"9"], {("in", 1): 10})]

    async def test_a_failed_commit_keeps_everything_for_the_next_one(self, parts):
        dispatcher, gates, publisher, _ = parts
        dispatcher.submit(record(0, b"A"))
        gates.gate(0).set()
        await settle()
        publisher.fail = True
        with pytest.raises(PublishError):
            await dispatcher.flush()
        publisher.fail = False
        await dispatcher.flush()
        assert publisher.calls == [([b"0"], {("in", 0): 1})]

    async def test_a_full_window_pauses_and_commits_resume(self, parts):
        dispatcher, gates, _, flow = parts
        for offset in range(4):
            dispatcher.submit(record(offset, bytes([offset])))
        assert "in_flight_window_full" in flow.reasons
        for offset in range(4):
            gates.gate(offset).set()
        await settle()
        await dispatcher.flush()
        assert flow.reasons == set()

    async def test_revoked_partitions_commit_what_settles_and_forget_the_rest(self, parts):
        dispatcher, gates, publisher, _ = parts
        dispatcher.submit(record(0, b"A"))
        dispatcher.submit(record(1, b"B"))
        gates.gate(0).set()
        await dispatcher.revoke([("in", 0)], timeout=0.05)
        assert publisher.calls == [([b"0"], {("in", 0): 1})]
        assert dispatcher.in_flight == 0
        await settle()
        assert 1 not in gates.finished

    async def test_records_arriving_while_closing_are_never_committed_past(self, parts):
        dispatcher, gates, publisher, _ = parts
        dispatcher.submit(record(0, b"A"))
        gates.gate(0).set()
        closing = asyncio.create_task(dispatcher.close(timeout=0.2))
        await asyncio.sleep(0)
        dispatcher.submit(record(1, b"B"))
        await closing
        assert publisher.calls == [([b"0"], {("in", 0): 1})]
        assert 1 not in gates.started


async def test_a_failing_record_is_retried_not_dropped():
    attempts = []

    async def flaky(record: InboundRecord) -> list[OutboundRecord]:
        attempts.append(record.offset)
        if len(attempts) == 1:
            raise RuntimeError("bug")
        return []

    publisher = Publisher()
    dispatcher = Dispatcher(
        process=flaky,
        publish=publisher.publish,
        flow=Flow(),  # type: ignore[arg-type]
        max_in_flight=4,
        commit_interval=0.01,
        on_fatal=lambda _error: None,
    )
    dispatcher.submit(record(0, b"A"))
    for _ in range(200):
        if len(attempts) == 2:
            break
        await asyncio.sleep(0.01)
    await asyncio.sleep(0.01)
    await dispatcher.flush()
    assert attempts == [0, 0]
    assert publisher.calls == [([], {("in", 0): 1})]


async def test_an_unexpected_commit_error_stops_the_process_instead_of_the_committer_alone():
    failures = [RuntimeError("producer in an unexpected state")]

    async def broken(_outputs, _offsets) -> None:
        if failures:
            raise failures.pop()

    async def done(_record: InboundRecord) -> list[OutboundRecord]:
        return []

    fatal: asyncio.Future[BaseException] = asyncio.get_running_loop().create_future()
    dispatcher = Dispatcher(
        process=done,
        publish=broken,
        flow=Flow(),  # type: ignore[arg-type]
        max_in_flight=4,
        commit_interval=0.01,
        on_fatal=fatal.set_result,
    )
    dispatcher.start()
    dispatcher.submit(record(0, b"A"))
    try:
        error = await asyncio.wait_for(fatal, timeout=10)  # bounds a failing run only
    finally:
        await dispatcher.close(timeout=0)
    assert isinstance(error, RuntimeError)
