"""The dispatcher: order per dossier, concurrency across dossiers, commits up to the first gap."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from bridge.delivery.dispatch import Dispatcher
from bridge.delivery.outbox import OutboundRecord, OwnershipLostError, PublishError
from bridge.delivery.records import InboundRecord
from bridge.kafka.group_commit import GroupIdentity


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
        self.owners: list[str | None] = []
        self.fail = False
        self.refuse: set[tuple[str, int]] = set()
        """Generations the group coordinator refuses (group id, generation)."""

    async def publish(self, outputs, offsets, owner=None) -> None:
        if self.fail:
            raise PublishError("broker down")
        if owner is not None and (str(owner), owner.generation) in self.refuse:
            raise OwnershipLostError("ILLEGAL_GENERATION")
        self.calls.append(([o.value for o in outputs], dict(offsets)))
        self.owners.append(owner)


def gave_up(record: InboundRecord, error: BaseException, tries: int) -> list[OutboundRecord]:
    return [OutboundRecord("dlq", record.key, f"{type(error).__name__} x{tries}".encode())]


def record(offset: int, key: bytes | None, partition: int = 0) -> InboundRecord:
    return InboundRecord(topic="in", partition=partition, offset=offset, key=key, value=b"")


def gated_dispatcher(
    gates: Gates, publisher: Publisher, flow: Flow, *, max_in_flight: int, **options: Any
) -> Dispatcher:
    """A dispatcher over the gates, committing only when flushed; ``options`` go to it."""
    return Dispatcher(
        process=gates.process,
        publish=publisher.publish,
        flow=flow,  # type: ignore[arg-type]
        max_in_flight=max_in_flight,
        commit_interval=3600,
        on_fatal=lambda _error: None,
        give_up=gave_up,
        **options,
    )


@pytest.fixture
def parts():
    gates, publisher, flow = Gates(), Publisher(), Flow()
    dispatcher = gated_dispatcher(gates, publisher, flow, max_in_flight=4)
    return dispatcher, gates, publisher, flow


def member(generation: int, member_id: str = "m-1") -> GroupIdentity:
    return GroupIdentity("bridge", generation=generation, member_id=member_id)


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


class TestOwnership:
    """Offsets are committed under the group identity their records were fetched under."""

    async def test_offsets_are_committed_under_the_identity_that_fetched_the_records(self, parts):
        dispatcher, gates, publisher, _ = parts
        dispatcher.submit(record(0, b"A"), member(3))
        gates.gate(0).set()
        await settle()
        await dispatcher.flush()
        assert publisher.calls == [([b"0"], {("in", 0): 1})]
        (owner,) = publisher.owners
        assert (owner.generation, owner.member_id) == (3, "m-1")

    async def test_a_refused_generation_publishes_nothing_and_forgets_its_partitions(self, parts):
        dispatcher, gates, publisher, _ = parts
        dispatcher.submit(record(0, b"A", partition=0), member(3))
        dispatcher.submit(record(7, b"B", partition=1), member(3))
        publisher.refuse.add(("bridge", 3))
        gates.gate(0).set()
        await settle()
        await dispatcher.flush()  # refused: not raised, not retried
        assert publisher.calls == []
        assert dispatcher.in_flight == 0
        assert dispatcher.oldest_unsettled() == {}
        gates.gate(7).set()
        await settle()
        await dispatcher.flush()
        assert publisher.calls == []  # the forgotten partition's lane was stopped too
        assert gates.finished == [0]

    async def test_a_new_generation_starts_the_partition_afresh(self, parts):
        dispatcher, gates, publisher, _ = parts
        dispatcher.submit(record(4, b"A"), member(3))
        dispatcher.submit(record(5, b"B"), member(3))
        gates.gate(5).set()
        await settle()
        # A rebalance gave the partition back to this member, from the committed offset 4.
        dispatcher.submit(record(4, b"A"), member(4))
        gates.gate(4).set()
        await settle()
        await dispatcher.flush()
        assert publisher.calls == [([b"4"], {("in", 0): 5})]
        assert publisher.owners[0].generation == 4
        assert dispatcher.in_flight == 0

    async def test_a_record_read_again_restarts_the_window_from_it(self, parts):
        dispatcher, gates, publisher, _ = parts
        dispatcher.submit(record(10, b"A"), member(3))
        dispatcher.submit(record(11, b"B"), member(3))
        dispatcher.submit(record(10, b"A"), member(3))  # the consumer went back to 10
        for offset in (10, 11):
            gates.gate(offset).set()
        await settle()
        dispatcher.submit(record(11, b"B"), member(3))
        await settle()
        await dispatcher.flush()
        assert publisher.calls == [([b"10", b"11"], {("in", 0): 12})]

    async def test_each_generation_commits_in_its_own_transaction(self, parts):
        dispatcher, gates, publisher, _ = parts
        dispatcher.submit(record(0, b"A", partition=0), member(3))
        dispatcher.submit(record(0, b"B", partition=1), member(4, "m-2"))
        publisher.refuse.add(("bridge", 3))
        gates.gate(0).set()
        await settle()
        await dispatcher.flush()
        assert publisher.calls == [([b"0"], {("in", 1): 1})]
        assert [o.member_id for o in publisher.owners] == ["m-2"]

    async def test_a_hand_over_does_not_wait_while_nothing_can_settle(self):
        gates, publisher, flow = Gates(), Publisher(), Flow()
        can_settle = False
        dispatcher = gated_dispatcher(
            gates, publisher, flow, max_in_flight=4, can_settle=lambda: can_settle
        )
        dispatcher.submit(record(0, b"A"), member(3))
        dispatcher.submit(record(1, b"B"), member(3))
        gates.gate(0).set()
        await settle()
        # An hour of grace, yet it returns at once: record 1 waits for Zalo, which is down.
        await asyncio.wait_for(dispatcher.revoke([("in", 0)], timeout=3600), timeout=5)
        assert publisher.calls == [([b"0"], {("in", 0): 1})]
        assert dispatcher.in_flight == 0

    async def test_closing_stops_fetching_first(self, parts):
        dispatcher, _, _, flow = parts
        await dispatcher.close(timeout=0.01)
        assert ("closing", True) in flow.changes


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
        give_up=gave_up,
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

    async def broken(_outputs, _offsets, _owner=None) -> None:
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
        give_up=gave_up,
    )
    dispatcher.start()
    dispatcher.submit(record(0, b"A"))
    try:
        error = await asyncio.wait_for(fatal, timeout=10)  # bounds a failing run only
    finally:
        await dispatcher.close(timeout=0)
    assert isinstance(error, RuntimeError)


class FakeSleep:
    """Records each wait and lets the other lanes run; no time passes."""

    def __init__(self) -> None:
        self.waits: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)
        await asyncio.sleep(0)


class Scripted:
    """Processes records, raising the exceptions scripted for their offset first."""

    def __init__(self, **scripts: list[BaseException]) -> None:
        self.scripts = {int(offset.removeprefix("o")): list(s) for offset, s in scripts.items()}
        self.tries: list[int] = []

    async def process(self, record: InboundRecord) -> list[OutboundRecord]:
        self.tries.append(record.offset)
        script = self.scripts.get(record.offset, [])
        if script:
            error = script[0]
            if not isinstance(error, ForeverError):
                script.pop(0)
            raise error
        return [OutboundRecord("status", record.key, b"%d" % record.offset)]


class ForeverError(RuntimeError):
    """Raised on every try."""


def bounded(process, publisher, flow, sleep, *, max_tries=3, give_up=gave_up) -> Dispatcher:
    from bridge.delivery.faults import Outage  # noqa: PLC0415 - only these tests hold the consumer

    return Dispatcher(
        process=process,
        publish=publisher.publish,
        flow=flow,  # type: ignore[arg-type]
        max_in_flight=100,
        commit_interval=0.5,
        on_fatal=lambda _error: None,
        give_up=give_up,
        max_tries=max_tries,
        max_backoff=8,
        outage=Outage(flow.hold),
        sleep=sleep,
    )


async def settle_all(dispatcher: Dispatcher, budget: int = 2000) -> int:
    """Run the lanes until every record is committed; return the steps it took."""
    for step in range(budget):
        await dispatcher.flush()
        if dispatcher.in_flight == 0:
            return step
        await asyncio.sleep(0)
    raise AssertionError(f"records still in flight after {budget} steps")


class TestEveryRecordEndsInBoundedTime:
    async def test_a_record_that_keeps_failing_is_dead_lettered_and_its_lane_moves_on(self):
        script = Scripted(o0=[ForeverError("bug")])
        publisher, flow, sleep = Publisher(), Flow(), FakeSleep()
        dispatcher = bounded(script.process, publisher, flow, sleep, max_tries=3)
        dispatcher.submit(record(0, b"A"))
        dispatcher.submit(record(1, b"A"))
        await settle_all(dispatcher)
        assert script.tries == [0, 0, 0, 1]
        outputs = [value for values, _ in publisher.calls for value in values]
        assert outputs == [b"ForeverError x3", b"1"]
        assert publisher.calls[-1][1] == {("in", 0): 2}
        assert len(sleep.waits) == 2
        assert 0.5 <= sleep.waits[0] <= 1.0 <= sleep.waits[1] <= 1.5
        assert [change for change in flow.changes if change[1]] == []  # never held

    async def test_an_outage_is_waited_out_however_long_it_lasts_and_holds_the_consumer(self):
        from bridge.errors import StoreError  # noqa: PLC0415

        outage = [StoreError("citizen store: OperationalError") for _ in range(12)]
        script = Scripted(o0=outage)
        publisher, flow, sleep = Publisher(), Flow(), FakeSleep()
        dispatcher = bounded(script.process, publisher, flow, sleep, max_tries=3)
        dispatcher.submit(record(0, b"A"))
        await settle_all(dispatcher)
        assert script.tries == [0] * 13
        assert publisher.calls == [([b"0"], {("in", 0): 1})]
        held = [change for change in flow.changes if change[0] == "store_unavailable"]
        assert held == [("store_unavailable", True), ("store_unavailable", False)]
        assert max(sleep.waits) == 8
        assert sleep.waits == sorted(sleep.waits)

    async def test_outages_do_not_count_as_tries(self):
        from bridge.errors import StoreError  # noqa: PLC0415

        down = StoreError("hold store: OperationalError")
        script = Scripted(o0=[down, RuntimeError("1"), down, down, RuntimeError("2"), down])
        publisher, flow, sleep = Publisher(), Flow(), FakeSleep()
        dispatcher = bounded(script.process, publisher, flow, sleep, max_tries=3)
        dispatcher.submit(record(0, b"A"))
        await settle_all(dispatcher)
        assert publisher.calls == [([b"0"], {("in", 0): 1})]
        assert flow.reasons == set()

    async def test_a_failing_fallback_keeps_the_record_rather_than_losing_it(self):
        failures = [RuntimeError("fallback bug")]

        def flaky_give_up(rec, error, tries):
            if failures:
                raise failures.pop()
            return gave_up(rec, error, tries)

        script = Scripted(o0=[ForeverError("bug")])
        publisher, flow, sleep = Publisher(), Flow(), FakeSleep()
        dispatcher = bounded(
            script.process, publisher, flow, sleep, max_tries=1, give_up=flaky_give_up
        )
        dispatcher.submit(record(0, b"A"))
        await settle_all(dispatcher)
        assert publisher.calls == [([b"ForeverError x2"], {("in", 0): 1})]
        assert sleep.waits == [8]


class TestNothingKeptPerDossier:
    """Memory follows the records in flight, never the number of dossiers seen (issue 16)."""

    async def test_lanes_close_when_their_dossier_settles(self):
        gates, publisher, flow = Gates(), Publisher(), Flow()
        dispatcher = gated_dispatcher(gates, publisher, flow, max_in_flight=100_000)
        most = 0
        for offset in range(20_000):  # 20,000 distinct dossiers, in batches of 500
            gates.gate(offset).set()
            dispatcher.submit(record(offset, b"D%06d" % offset, partition=offset % 3))
            if offset % 500 == 499:
                most = max(most, dispatcher.open_lanes)
                await settle()
                await dispatcher.flush()
        await settle()
        await dispatcher.flush()

        assert most == 500
        assert dispatcher.open_lanes == 0
        assert dispatcher.in_flight == 0
        assert len(gates.finished) == 20_000

        # A dossier whose lane closed long ago comes back: its records still go in order.
        dispatcher.submit(record(20_000, b"D000007"))
        dispatcher.submit(record(20_001, b"D000007"))
        dispatcher.submit(record(20_002, b"D000008"))
        await settle()
        assert gates.started[-2:] == [20_000, 20_002]
        gates.gate(20_002).set()
        gates.gate(20_001).set()
        await settle()
        assert gates.finished[-1] == 20_002, "the second record of D000007 waits for the first"
        gates.gate(20_000).set()
        await settle()
        assert gates.finished[-3:] == [20_002, 20_000, 20_001]
        assert dispatcher.open_lanes == 0
