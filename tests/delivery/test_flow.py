"""Backpressure: the circuit breaker and its prober, the OA rate limiter, partition pausing."""

from __future__ import annotations

import asyncio
import contextlib

import pytest

from bridge.delivery.breaker_probe import BreakerProber
from bridge.delivery.consumer import _Rebalance
from bridge.delivery.flow import BreakerState, CircuitBreaker, FlowControl, oa_rate_limiter
from bridge.errors import (
    AccountError,
    DeliveryInDoubtError,
    MessageRejectedError,
    RetryableDeliveryError,
    TokenError,
)
from bridge.zalo import OaProfile
from timer_support import Timer, settle


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


def timed_breaker(timer: Timer, changes=None) -> CircuitBreaker:
    return CircuitBreaker(
        failure_threshold=2,
        open_seconds=5,
        max_open_seconds=20,
        on_change=(lambda state, _reason: changes.append(state)) if changes is not None else None,
        clock=timer,
        sleep=timer.sleep,
    )


class TestOpenTurnsHalfOpenByTime:
    async def test_with_nobody_calling_the_open_time_running_out_makes_it_half_open(self):
        timer, changes = Timer(), []
        breaker = timed_breaker(timer, changes)
        breaker.trip("Zalo error -204")
        await timer.advance(4.9)
        assert breaker.state is BreakerState.OPEN
        await timer.advance(0.1)
        assert breaker.state is BreakerState.HALF_OPEN
        assert changes == [BreakerState.OPEN, BreakerState.HALF_OPEN]
        assert breaker.reason == "Zalo error -204"

    async def test_the_background_probe_is_due_exactly_when_the_open_time_is_over(self):
        timer = Timer()
        breaker = timed_breaker(timer)
        waiting = asyncio.create_task(breaker.next_probe())
        await timer.advance(1000)
        assert not waiting.done()  # closed: nothing to probe
        breaker.failure("503")
        breaker.failure("503")
        assert breaker.state is BreakerState.OPEN
        await timer.advance(4.9)
        assert not waiting.done()
        await timer.advance(0.1)
        probe = await asyncio.wait_for(waiting, 1)
        assert breaker.probing
        breaker.success()
        breaker.release_probe(probe)  # after the verdict: harmless
        assert breaker.state is BreakerState.CLOSED
        assert not breaker.probing

    async def test_a_failed_probe_reopens_for_twice_as_long(self):
        timer = Timer()
        breaker = timed_breaker(timer)
        breaker.trip("down")
        await timer.advance(5)
        probe = await breaker.next_probe()
        breaker.failure("still down")
        breaker.release_probe(probe)
        assert (breaker.state, breaker.open_seconds) == (BreakerState.OPEN, 10)
        waiting = asyncio.create_task(breaker.next_probe())
        await timer.advance(9.9)
        assert not waiting.done()
        await timer.advance(0.1)
        assert await asyncio.wait_for(waiting, 1) is not None

    async def test_callers_waiting_out_the_open_time_go_as_soon_as_it_closes(self):
        """A call that was in flight when the breaker opened may succeed and close it early."""
        timer = Timer()
        breaker = timed_breaker(timer)
        breaker.trip("down")
        waiting = asyncio.create_task(breaker.before_call())
        await settle()
        assert not waiting.done()
        breaker.success()
        assert await asyncio.wait_for(waiting, 1) is None  # closed: not a probe

    async def test_one_probe_at_a_time_between_records_and_the_background_prober(self):
        timer = Timer()
        breaker = timed_breaker(timer)
        breaker.trip("down")
        record = asyncio.create_task(breaker.before_call())
        background = asyncio.create_task(breaker.next_probe())
        await timer.advance(5)
        done = [t for t in (record, background) if t.done()]
        assert len(done) == 1
        other = background if done[0] is record else record
        breaker.release_probe(done[0].result())  # no verdict: the other one probes
        assert await asyncio.wait_for(other, 1) is not None


class TestProbeSlotIsAlwaysReleased:
    async def test_a_stale_release_does_not_free_a_later_probe(self):
        timer = Timer()
        breaker = timed_breaker(timer)
        breaker.trip("down")
        await timer.advance(5)
        first = await breaker.before_call()
        breaker.failure("down")  # verdict: open again
        await timer.advance(10)
        second = await breaker.before_call()
        breaker.release_probe(first)  # the first caller's finally, late
        assert breaker.probing
        third = asyncio.create_task(breaker.before_call())
        await settle()
        assert not third.done()
        breaker.release_probe(second)
        assert await asyncio.wait_for(third, 1) is not None

    async def test_a_background_probe_cancelled_mid_call_frees_the_slot(self):
        timer = Timer()
        breaker = timed_breaker(timer)
        zalo = HangingZalo()
        prober = BreakerProber(breaker=breaker, zalo=zalo, timeout=30)
        running = asyncio.create_task(prober.run())
        breaker.trip("down")
        await timer.advance(5)
        await asyncio.wait_for(zalo.called.wait(), 1)
        assert breaker.probing
        running.cancel()
        with pytest.raises(asyncio.CancelledError):
            await running
        assert not breaker.probing
        assert await asyncio.wait_for(breaker.before_call(), 1) is not None


class HangingZalo:
    def __init__(self) -> None:
        self.called = asyncio.Event()

    async def oa_profile(self) -> OaProfile:
        self.called.set()
        await asyncio.Event().wait()
        raise AssertionError


class ScriptedZalo:
    """Answers each OA profile read with the next scripted error, then with the profile."""

    def __init__(self, *errors: Exception) -> None:
        self.errors = list(errors)
        self.calls = 0

    async def oa_profile(self) -> OaProfile:
        self.calls += 1
        if self.errors:
            raise self.errors.pop(0)
        return OaProfile(oa_id="1646843870823903717", name="OA", oa_type=4)


class TestBackgroundProber:
    @pytest.mark.parametrize(
        ("error", "state", "open_seconds"),
        [
            (None, BreakerState.CLOSED, 5),
            (RetryableDeliveryError("Zalo answered HTTP 503"), BreakerState.OPEN, 10),
            (RetryableDeliveryError("rate limit", code=-32), BreakerState.OPEN, 10),
            (DeliveryInDoubtError("no answer from Zalo"), BreakerState.OPEN, 10),
            (TokenError("refused", code=-216), BreakerState.OPEN, 10),
            (AccountError("OA disabled", code=-204), BreakerState.OPEN, 10),
            (AccountError("app removed", code=-219), BreakerState.OPEN, 10),
            # About this API only: Zalo answered and took the token.
            (AccountError("OA has not authorised this API", code=-223), BreakerState.CLOSED, 5),
            (AccountError("not for this OA type", code=-235), BreakerState.CLOSED, 5),
            (MessageRejectedError("param invalid", code=-201), BreakerState.CLOSED, 5),
            (ValueError("a bug"), BreakerState.OPEN, 10),
        ],
    )
    async def test_each_answer_gives_its_verdict(self, error, state, open_seconds):
        timer = Timer()
        breaker = timed_breaker(timer)
        breaker.trip("down")
        await timer.advance(5)
        probe = await breaker.next_probe()
        zalo = ScriptedZalo(*([error] if error else []))
        await BreakerProber(breaker=breaker, zalo=zalo, timeout=30).probe_once()
        breaker.release_probe(probe)
        assert zalo.calls == 1
        assert (breaker.state, breaker.open_seconds) == (state, open_seconds)

    async def test_it_probes_each_time_the_open_time_is_over_until_zalo_answers(self):
        timer = Timer()
        breaker = timed_breaker(timer)
        limiter = CountingLimiter()
        zalo = ScriptedZalo(RetryableDeliveryError("503"), RetryableDeliveryError("503"))
        prober = BreakerProber(breaker=breaker, zalo=zalo, timeout=30, limiter=limiter)
        running = asyncio.create_task(prober.run())
        try:
            breaker.failure("503")
            breaker.failure("503")
            await timer.advance(4.9)
            assert zalo.calls == 0
            await timer.advance(0.1)
            assert (zalo.calls, breaker.state) == (1, BreakerState.OPEN)  # open for 10 s now
            await timer.advance(9.9)
            assert zalo.calls == 1
            await timer.advance(0.1)
            assert (zalo.calls, breaker.state) == (2, BreakerState.OPEN)  # open for 20 s now
            await timer.advance(20)
            assert (zalo.calls, breaker.state) == (3, BreakerState.CLOSED)
            await timer.advance(1000)
            assert zalo.calls == 3  # closed: no more probes
            assert limiter.acquired == 3  # every probe paced like any call to Zalo
        finally:
            running.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await running


class CountingLimiter:
    def __init__(self) -> None:
        self.acquired = 0

    async def acquire(self, amount: float = 1) -> None:
        self.acquired += int(amount)


class TestRebalanceWhileOpen:
    async def test_partitions_assigned_while_open_resume_when_the_probe_closes_it(self):
        """The issue's stall: a rebalance while Zalo is down leaves no record to probe with."""
        timer, consumer, flow = Timer(), FakeConsumer(), FlowControl()
        breaker = CircuitBreaker(
            failure_threshold=1,
            open_seconds=5,
            max_open_seconds=20,
            on_change=lambda state, _: flow.hold("circuit_breaker", on=state != "closed"),
            clock=timer,
            sleep=timer.sleep,
        )
        listener = _Rebalance(lambda: None, flow, grace=1)  # type: ignore[arg-type, return-value]
        listener.consumer_of(lambda: consumer)
        await listener.on_partitions_assigned([])
        breaker.failure("Zalo answered HTTP 503")
        assert consumer.paused == {"p0", "p1"}
        # A second replica joins: this one now holds p1 and a new p2, paused at once.
        consumer.partitions = {"p1", "p2"}
        consumer.paused = set()
        await listener.on_partitions_assigned([])
        assert consumer.paused == {"p1", "p2"}
        zalo = ScriptedZalo()  # Zalo is back
        running = asyncio.create_task(BreakerProber(breaker=breaker, zalo=zalo, timeout=30).run())
        try:
            await timer.advance(5)
            assert breaker.state is BreakerState.CLOSED
            assert consumer.paused == set()
        finally:
            running.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await running

    async def test_a_consumer_that_read_nothing_yet_is_paused_on_assignment(self):
        consumer, flow = FakeConsumer(), FlowControl()
        flow.hold("token", on=True)
        listener = _Rebalance(lambda: None, flow, grace=1)  # type: ignore[arg-type, return-value]
        listener.consumer_of(lambda: consumer)
        await listener.on_partitions_assigned([])
        assert consumer.paused == {"p0", "p1"}
