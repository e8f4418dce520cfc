"""Infrastructure faults told from a record's own, backoff, the outage that holds the consumer."""

from __future__ import annotations

import asyncio

import pytest
from aiokafka.errors import KafkaConnectionError

from bridge.delivery.faults import (
    INFRASTRUCTURE_HOLDS,
    Outage,
    OutageWatch,
    backoff,
    infrastructure_of,
)
from bridge.delivery.outbox import PublishError
from bridge.errors import (
    InvalidEventError,
    InvalidEventReason,
    StoreError,
    StoreValueError,
    TokenStoreError,
)


class Holds:
    def __init__(self) -> None:
        self.reasons: set[str] = set()
        self.changes: list[tuple[str, bool]] = []

    def __call__(self, reason: str, *, on: bool) -> None:
        self.changes.append((reason, on))
        (self.reasons.add if on else self.reasons.discard)(reason)


@pytest.mark.parametrize(
    ("error", "kind"),
    [
        (StoreError("citizen store: OperationalError"), "store"),
        (TokenStoreError("cannot read"), "store"),
        (ConnectionResetError("reset by peer"), "store"),
        (PublishError("cannot commit"), "broker"),
        (KafkaConnectionError("no broker"), "broker"),
        (StoreValueError("ledger refused a value: OverflowError"), None),
        (OverflowError("Python int too large to convert to SQLite INTEGER"), None),
        (InvalidEventError(InvalidEventReason.INVALID_JSON, "x"), None),
        (ValueError("Exceeds the limit (4300 digits)"), None),
        (RecursionError("maximum recursion depth exceeded"), None),
        (KeyError("bug"), None),
    ],
)
def test_only_an_unreachable_store_or_broker_is_an_outage(error, kind):
    assert infrastructure_of(error) == kind


def test_backoff_doubles_from_the_initial_wait_up_to_the_cap_with_bounded_jitter():
    for failures, low in [(1, 0.5), (2, 1.0), (3, 2.0), (4, 4.0), (5, 8.0)]:
        wait = backoff(failures, initial=0.5, cap=30)
        assert low <= wait <= low + 0.5
    assert all(backoff(n, initial=0.5, cap=30) <= 30 for n in (10, 100, 10_000))


def test_the_consumer_is_held_while_anyone_waits_for_that_infrastructure():
    holds = Holds()
    outage = Outage(holds)
    first, second = outage.watch(), outage.watch()
    first.failed("store")
    second.failed("store")
    first.failed("store")  # the same loop failing again counts once
    assert holds.reasons == {"store_unavailable"}
    first.recovered()
    assert holds.reasons == {"store_unavailable"}
    second.recovered()
    assert holds.reasons == set()
    assert holds.changes == [("store_unavailable", True), ("store_unavailable", False)]
    assert {"store_unavailable", "broker_unavailable"} == INFRASTRUCTURE_HOLDS


def test_a_watch_moves_between_outages_and_lets_go_when_its_loop_ends_however_it_ends():
    holds = Holds()
    outage = Outage(holds)

    async def loop() -> None:
        with outage.watch() as watch:
            watch.failed("store")
            watch.failed("broker")
            assert holds.reasons == {"broker_unavailable"}
            await asyncio.Event().wait()

    async def scenario() -> None:
        task = asyncio.create_task(loop())
        await asyncio.sleep(0)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(scenario())
    assert holds.reasons == set()


def test_a_watch_without_an_outage_does_nothing():
    with OutageWatch(None) as watch:
        watch.failed("store")
        watch.recovered()
