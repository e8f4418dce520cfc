"""Shutdown: announcement sends and case records settle side by side, within one lease."""

from __future__ import annotations

import asyncio

from structlog.testing import capture_logs

from bridge.app import Runtime
from bridge.settings import load_settings


class Announcements:
    """Its sends in flight settle only once the case records are settling too."""

    def __init__(self, records_settling: asyncio.Event) -> None:
        self.records_settling = records_settling
        self.stopped_with: float | None = None

    async def stop(self, timeout: float) -> None:
        await self.records_settling.wait()
        self.stopped_with = timeout


class Dispatcher:
    def __init__(self, records_settling: asyncio.Event) -> None:
        self.records_settling = records_settling
        self.closed_with: float | None = None

    async def close(self, timeout: float) -> None:
        self.records_settling.set()
        self.closed_with = timeout


async def test_the_drain_settles_announcements_and_records_side_by_side():
    runtime = Runtime(load_settings(delivery={"lease_seconds": 30}))
    settling = asyncio.Event()
    announcements, dispatcher = Announcements(settling), Dispatcher(settling)
    runtime.announcements = announcements  # type: ignore[assignment]
    runtime._dispatcher = dispatcher  # type: ignore[assignment]
    # One after the other, the announcements would wait for ever: bounded so the test ends.
    await asyncio.wait_for(runtime.drain(), timeout=10)
    assert (announcements.stopped_with, dispatcher.closed_with) == (30, 30)
    assert runtime.announcements is None


async def test_the_drain_waits_for_the_consumers_to_have_started_then_settles():
    """faststream starts the consumers after start-up, in the task that ran it."""
    runtime = Runtime(load_settings(delivery={"lease_seconds": 30}))
    joined, order = asyncio.Event(), []
    settling = asyncio.Event()
    dispatcher = Dispatcher(settling)
    runtime._dispatcher = dispatcher  # type: ignore[assignment]

    async def starting() -> None:
        runtime._starting = asyncio.current_task()  # as Runtime.start records it
        await joined.wait()
        order.append("consumers started")

    task = asyncio.create_task(starting())
    await asyncio.sleep(0)
    draining = asyncio.create_task(runtime.drain())
    await asyncio.sleep(0.01)
    assert dispatcher.closed_with is None, "nothing settles before the consumers exist"
    joined.set()
    await asyncio.wait_for(draining, timeout=10)
    await task
    assert order == ["consumers started"]
    assert dispatcher.closed_with is not None
    assert 0 < dispatcher.closed_with <= 30  # what is left of the one lease


async def test_consumers_that_never_start_hold_the_drain_for_one_lease_at_most():
    settings = load_settings(delivery={"lease_seconds": 30})
    settings = settings.model_copy(
        update={"delivery": settings.delivery.model_copy(update={"lease_seconds": 0.05})}
    )
    runtime = Runtime(settings)
    dispatcher = Dispatcher(asyncio.Event())
    runtime._dispatcher = dispatcher  # type: ignore[assignment]
    never = asyncio.Event()

    async def starting() -> None:
        runtime._starting = asyncio.current_task()
        await never.wait()

    task = asyncio.create_task(starting())
    await asyncio.sleep(0)
    with capture_logs() as logs:
        await asyncio.wait_for(runtime.drain(), timeout=10)
    task.cancel()
    assert dispatcher.closed_with is not None
    assert dispatcher.closed_with < 0.05
    assert any(e["event"].startswith("the consumers were still starting") for e in logs)


def test_a_record_waiting_out_an_outage_makes_the_pod_unready_until_it_gets_through():
    """Readiness follows the outage holds; the in-flight window being full does not count."""
    runtime = Runtime(load_settings())
    runtime._dispatcher = object()  # type: ignore[assignment]
    assert runtime.ready
    runtime.flow.hold("in_flight_window_full", on=True)
    assert runtime.ready
    for reason in ("store_unavailable", "broker_unavailable"):
        runtime.flow.hold(reason, on=True)
        assert not runtime.ready
        runtime.flow.hold(reason, on=False)
    assert runtime.ready
