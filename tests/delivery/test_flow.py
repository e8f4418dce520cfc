"""Backpressure: the circuit breaker, the OA rate limiter and partition pausing."""

from __future__ import annotations

import asyncio

from bridge.delivery.flow import BreakerState, CircuitBreaker, FlowControl, oa_rate_limiter


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def make_breaker(clock, changes=None, sleeps=None):
    async def sleep(seconds: float) -> None:
        if sleeps is not None:
            sleeps.append(seconds)
        clock.now += seconds

    return CircuitBreaker(
        failure_threshold=3,
        open_seconds=5,
        max_open_seconds=12,
        on_change=(lambda state, reason: changes.append((state, reason)))
        if changes is not None
        else None,
        clock=clock,
        sleep=sleep,
    )


class TestCircuitBreaker:
    async def test_it_opens_after_consecutive_failures_only(self):
        clock, changes = Clock(), []
        breaker = make_breaker(clock, changes)
        breaker.failure("503")
        breaker.failure("503")
        breaker.success()
        breaker.failure("503")
        breaker.failure("503")
        assert breaker.state is BreakerState.CLOSED
        breaker.failure("503")
        assert breaker.state is BreakerState.OPEN
        assert changes == [(BreakerState.OPEN, "503")]

    async def test_after_the_open_time_one_probe_goes_and_success_closes(self):
        clock, sleeps = Clock(), []
        breaker = make_breaker(clock, sleeps=sleeps)
        breaker.trip("Zalo error -204")
        await breaker.before_call()
        assert sleeps == [5]
        assert breaker.state is BreakerState.HALF_OPEN
        second = asyncio.create_task(breaker.before_call())
        await asyncio.sleep(0)
        assert not second.done()  # only one probe at a time
        breaker.success()
        await asyncio.wait_for(second, 1)
        assert breaker.state is BreakerState.CLOSED

    async def test_failed_probes_double_the_open_time_up_to_the_maximum(self):
        clock, sleeps = Clock(), []
        breaker = make_breaker(clock, sleeps=sleeps)
        breaker.trip("down")
        for _ in range(3):
            await breaker.before_call()
            breaker.failure("down")
        await breaker.before_call()
        assert sleeps == [5, 10, 12, 12]


class TestRateLimiter:
    def test_off_when_the_limit_is_zero(self):
        assert oa_rate_limiter(0) is None

    async def test_no_minute_window_ever_exceeds_the_limit(self):
        """Burst plus a minute of drain stays under 4,000; the sustained rate is within 2 %."""
        limiter = oa_rate_limiter(4000)
        assert limiter is not None
        burst = limiter.max_rate
        rate = limiter.max_rate / limiter.time_period
        assert burst + 60 * rate <= 4000
        assert 60 * rate >= 4000 * 0.98


class FakeConsumer:
    def __init__(self) -> None:
        self.partitions = {"p0", "p1"}
        self.paused: set[str] = set()

    def assignment(self):
        return set(self.partitions)

    def pause(self, *partitions):
        self.paused |= set(partitions)

    def resume(self, *partitions):
        self.paused -= set(partitions)


class TestFlowControl:
    def test_partitions_stay_paused_while_any_reason_stands(self):
        consumer, flow = FakeConsumer(), FlowControl()
        flow.attach(consumer)
        flow.hold("window", on=True)
        flow.hold("breaker", on=True)
        flow.hold("window", on=False)
        assert consumer.paused == {"p0", "p1"}
        flow.hold("breaker", on=False)
        assert consumer.paused == set()

    def test_newly_assigned_partitions_are_paused_too(self):
        consumer, flow = FakeConsumer(), FlowControl()
        flow.attach(consumer)
        flow.hold("breaker", on=True)
        consumer.partitions.add("p2")
        flow.reapply()
        assert consumer.paused == {"p0", "p1", "p2"}
