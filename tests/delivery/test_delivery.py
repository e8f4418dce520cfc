"""The delivery use case through its ports: scripted Zalo, real SQLite ledger, fake clock."""

from __future__ import annotations

import asyncio
import json
from zoneinfo import ZoneInfo

import pytest
from structlog.testing import capture_logs

from bridge.delivery.deliverer import Deliverer, DeliveryPolicy, DeliveryStatus
from bridge.delivery.faults import Outage
from bridge.delivery.flow import BreakerState, CircuitBreaker
from bridge.delivery.records import InboundRecord
from bridge.errors import (
    AccountError,
    DeliveryInDoubtError,
    InvalidEventReason,
    MessageRejectedError,
    RecipientUnreachableError,
    RetryableDeliveryError,
    StoreError,
    StoreValueError,
    TokenError,
)
from bridge.templates import BuiltinRenderer
from bridge.wording import MessageContext
from bridge.zalo import SendReceipt

CONTEXT = MessageContext(
    lookup_url_template="https://dvc.example.gov.vn/tra-cuu?ma={case_code}",
    timezone=ZoneInfo("Asia/Ho_Chi_Minh"),
)


class ScriptedZalo:
    """Answers each send with the next scripted exception, then with success."""

    def __init__(
        self,
        *failures: Exception,
        conversation: dict[str, str] | None = None,
        lost_requests_arrive: bool = True,
        lookup_failure: Exception | None = None,
    ) -> None:
        self.failures = list(failures)
        self.lookup_failure = lookup_failure
        self.lost_requests_arrive = lost_requests_arrive
        self.sent: list[tuple[str, str]] = []
        self.lookups = 0
        self.conversation = conversation or {}

    async def send_text(self, user_id: str, text: str) -> SendReceipt:
        self.sent.append((user_id, text))
        if self.failures:
            failure = self.failures.pop(0)
            if isinstance(failure, DeliveryInDoubtError) and self.lost_requests_arrive:
                self.conversation[text] = f"lost{len(self.sent)}"
            raise failure
        return SendReceipt(message_id=f"m{len(self.sent)}", user_id=user_id, sent_time="1")

    async def find_sent(self, user_id: str, text: str, *, since: float) -> str | None:  # noqa: ARG002 - the MessageSender protocol
        self.lookups += 1
        if self.lookup_failure is not None:
            if self.lookups > 3:  # a loop, not a retry: end the test, loudly
                raise AssertionError("the read-back is asked again and again")
            raise self.lookup_failure
        return self.conversation.get(text)


def breaker(clock, sleeps) -> CircuitBreaker:
    return CircuitBreaker(
        failure_threshold=3,
        open_seconds=5,
        max_open_seconds=60,
        clock=lambda: clock.now,
        sleep=sleeps,
    )


def deliverer(
    zalo,
    ledger,
    clock,
    sleeps,
    *,
    owner="p1",
    in_doubt="reconcile",
    renderer=None,
    max_tries=5,
    outage=None,
    delivered_sample=1,
    **policy,
) -> Deliverer:
    settings = {"max_attempts": 3, "initial_backoff": 0.5, "max_backoff": 4, "budget": 60}
    settings |= {"pause": 10, "lease": 30, "in_doubt": in_doubt, "in_doubt_settle": 2}
    settings |= {"in_doubt_hold": 100}
    return Deliverer(
        sender=zalo,
        ledger=ledger,
        renderer=renderer or BuiltinRenderer(CONTEXT),
        policy=DeliveryPolicy(**(settings | policy)),
        max_event_bytes=64 * 1024,
        owner=owner,
        breaker=breaker(clock, sleeps),
        clock=clock,
        sleep=sleeps,
        max_tries=max_tries,
        outage=outage,
        delivered_sample=delivered_sample,
    )


def record_of(value: bytes, offset: int = 41) -> InboundRecord:
    return InboundRecord(topic="in", partition=1, offset=offset, key=b"k", value=value)


class TestOutcomesWithoutSending:
    async def test_an_invalid_record_is_to_be_dead_lettered(self, ledger, clock, sleeps):
        zalo = ScriptedZalo()
        outcome = await deliverer(zalo, ledger, clock, sleeps).handle(record_of(b"{not json"))
        assert outcome.status is DeliveryStatus.DEAD_LETTERED
        assert outcome.reason == "invalid_json"
        assert outcome.dead_letter is not None
        assert outcome.dead_letter.reason is InvalidEventReason.INVALID_JSON
        assert zalo.sent == []

    async def test_a_wording_failure_is_dead_lettered_rather_than_blocking(
        self, make_event, encode, ledger, clock, sleeps
    ):
        zalo = ScriptedZalo()
        broken = BuiltinRenderer(MessageContext(lookup_url_template="x", timezone="bad"))
        use_case = deliverer(zalo, ledger, clock, sleeps, renderer=broken)
        outcome = await use_case.handle(record_of(encode(make_event())))
        assert outcome.status is DeliveryStatus.DEAD_LETTERED
        assert outcome.reason == "processing_error"
        assert zalo.sent == []

    @pytest.mark.parametrize(
        ("changes", "status", "reason"),
        [
            ({"event_type": "CORRECTION"}, DeliveryStatus.SUPPRESSED, "not_citizen_news"),
            ({"recipient": {"notify_consent": False}}, DeliveryStatus.SUPPRESSED, "no_consent"),
        ],
    )
    async def test_events_the_citizen_must_not_get(
        self, make_event, encode, ledger, clock, sleeps, changes, status, reason
    ):
        zalo = ScriptedZalo()
        outcome = await deliverer(zalo, ledger, clock, sleeps).handle(
            record_of(encode(make_event(**changes)))
        )
        assert (outcome.status, outcome.reason) == (status, reason)
        assert zalo.sent == []

    async def test_a_phone_only_recipient_is_unreachable_on_this_channel(
        self, make_event, encode, ledger, clock, sleeps
    ):
        payload = make_event()
        payload["recipient"] = {"phone": "0912345678", "notify_consent": True}
        outcome = await deliverer(ScriptedZalo(), ledger, clock, sleeps).handle(
            record_of(encode(payload))
        )
        assert (outcome.status, outcome.reason) == (
            DeliveryStatus.FAILED,
            "unreachable:no_zalo_user_id",
        )


class TestOnce:
    async def test_a_valid_event_is_sent_once_and_recorded(
        self, make_event, encode, ledger, clock, sleeps
    ):
        zalo = ScriptedZalo()
        outcome = await deliverer(zalo, ledger, clock, sleeps).handle(
            record_of(encode(make_event()))
        )
        assert outcome.status is DeliveryStatus.DELIVERED
        assert (outcome.message_id, outcome.attempts) == ("m1", 1)
        assert outcome.template_version.startswith("package:states.RECEIVED@")
        [(user_id, text)] = zalo.sent
        assert user_id == "2512523625412515"
        assert "đã được tiếp nhận" in text

    async def test_a_redelivered_event_is_not_sent_again(
        self, make_event, encode, ledger, clock, sleeps
    ):
        """A crash before the commit, a rebalance, a replay or a duplicate publish."""
        zalo = ScriptedZalo()
        raw = encode(make_event())
        first = await deliverer(zalo, ledger, clock, sleeps, owner="p1").handle(record_of(raw, 1))
        again = await deliverer(zalo, ledger, clock, sleeps, owner="p2").handle(record_of(raw, 9))
        assert len(zalo.sent) == 1
        assert again.status is DeliveryStatus.DELIVERED
        assert again.message_id == first.message_id

    async def test_a_stale_event_is_suppressed_and_never_sent(
        self, make_event, encode, ledger, clock, sleeps
    ):
        zalo = ScriptedZalo()
        use_case = deliverer(zalo, ledger, clock, sleeps)
        await use_case.handle(record_of(encode(make_event(sequence=5, state="RESULT_READY"))))
        outcome = await use_case.handle(
            record_of(encode(make_event(sequence=3, state="IN_PROGRESS")))
        )
        assert (outcome.status, outcome.reason) == (DeliveryStatus.SUPPRESSED, "stale")
        assert len(zalo.sent) == 1

    async def test_a_delivery_leased_by_another_replica_waits_for_it(
        self, make_event, encode, ledger, clock, sleeps
    ):
        payload = make_event()
        await ledger.claim(
            f"{payload['event_id']}/zalo_cs",
            event_id=payload["event_id"],
            case_code=payload["case"]["code"],
            sequence=payload["sequence"],
            owner="other",
            now=clock.now,
            lease_seconds=30,
        )
        zalo = ScriptedZalo(conversation={})
        outcome = await deliverer(zalo, ledger, clock, sleeps).handle(record_of(encode(payload)))
        # It rested until the other replica's lease ran out, then treated the send as in doubt:
        # the conversation did not have it, so it was sent once.
        assert sum(sleeps.waits) >= 30
        assert zalo.lookups == 1
        assert len(zalo.sent) == 1
        assert outcome.status is DeliveryStatus.DELIVERED


class TestInDoubt:
    async def test_a_lost_answer_is_reconciled_from_the_conversation_not_resent(
        self, make_event, encode, ledger, clock, sleeps
    ):
        zalo = ScriptedZalo(DeliveryInDoubtError("read timeout"))
        outcome = await deliverer(zalo, ledger, clock, sleeps).handle(
            record_of(encode(make_event()))
        )
        assert len(zalo.sent) == 1
        assert zalo.lookups == 1
        assert outcome.status is DeliveryStatus.DELIVERED
        assert outcome.message_id == "lost1"
        assert outcome.reason == "reconciled"
        assert 2 in sleeps.waits  # the settle time before reading the conversation

    async def test_a_lost_request_is_resent_once_after_the_lookup_misses(
        self, make_event, encode, ledger, clock, sleeps
    ):
        zalo = ScriptedZalo(DeliveryInDoubtError("reset"), lost_requests_arrive=False)
        outcome = await deliverer(zalo, ledger, clock, sleeps).handle(
            record_of(encode(make_event()))
        )
        assert zalo.lookups == 1
        assert len(zalo.sent) == 2
        assert outcome.status is DeliveryStatus.DELIVERED
        assert outcome.message_id == "m2"

    @pytest.mark.parametrize(
        "refusal",
        [RecipientUnreachableError("-213 not following"), MessageRejectedError("HTTP 400")],
        ids=["she-unfollowed", "query-refused"],
    )
    async def test_a_read_back_refused_for_good_is_not_waited_on_for_ever(
        self, make_event, encode, ledger, clock, sleeps, refusal
    ):
        zalo = ScriptedZalo(
            DeliveryInDoubtError("read timeout"), lost_requests_arrive=False, lookup_failure=refusal
        )
        outcome = await deliverer(zalo, ledger, clock, sleeps).handle(
            record_of(encode(make_event()))
        )
        assert zalo.lookups == 1  # asked once, then the step went on
        assert len(zalo.sent) == 2  # sent again, as without a read-back
        assert outcome.status is DeliveryStatus.DELIVERED
        assert outcome.message_id == "m2"

    async def test_resend_after_hold_waits_the_hold_then_resends(
        self, make_event, encode, ledger, clock, sleeps
    ):
        zalo = ScriptedZalo(DeliveryInDoubtError("read timeout"))
        outcome = await deliverer(zalo, ledger, clock, sleeps, in_doubt="resend_after_hold").handle(
            record_of(encode(make_event()))
        )
        assert outcome.status is DeliveryStatus.DELIVERED
        assert zalo.lookups == 0
        assert len(zalo.sent) == 2
        assert 100 in sleeps.waits

    async def test_a_send_left_in_flight_by_a_dead_replica_is_reconciled(
        self, make_event, encode, ledger, clock, sleeps
    ):
        payload = make_event()
        await ledger.claim(
            f"{payload['event_id']}/zalo_cs",
            event_id=payload["event_id"],
            case_code=payload["case"]["code"],
            sequence=payload["sequence"],
            owner="dead",
            now=clock.now - 100,
            lease_seconds=30,
        )
        zalo = ScriptedZalo()
        outcome = await deliverer(zalo, ledger, clock, sleeps).handle(record_of(encode(payload)))
        assert zalo.lookups == 1
        assert outcome.status is DeliveryStatus.DELIVERED
        assert len(zalo.sent) == 1


class TestFailures:
    async def test_transient_failures_are_retried_with_growing_waits(
        self, make_event, encode, ledger, clock, sleeps
    ):
        zalo = ScriptedZalo(RetryableDeliveryError("busy", code=-32), RetryableDeliveryError("503"))
        outcome = await deliverer(zalo, ledger, clock, sleeps).handle(
            record_of(encode(make_event()))
        )
        assert outcome.status is DeliveryStatus.DELIVERED
        assert outcome.attempts == 3
        assert len(zalo.sent) == 3
        assert 0.5 <= sleeps.waits[0] <= 1.0
        assert sleeps.waits[1] >= 1.0

    async def test_send_message_failed_is_retried_once_then_parked(
        self, make_event, encode, ledger, clock, sleeps
    ):
        failed = RetryableDeliveryError("Zalo error -200: Send message failed", code=-200)
        zalo = ScriptedZalo(failed, failed)
        outcome = await deliverer(zalo, ledger, clock, sleeps).handle(
            record_of(encode(make_event()))
        )
        assert len(zalo.sent) == 2
        assert (outcome.status, outcome.reason) == (DeliveryStatus.DEAD_LETTERED, "rejected:-200")

    async def test_an_outage_keeps_the_event_until_zalo_is_back(
        self, make_event, encode, ledger, clock, sleeps
    ):
        """Nothing is lost or dead-lettered: the event rests and is tried again."""
        zalo = ScriptedZalo(*[RetryableDeliveryError("down")] * 7)
        outcome = await deliverer(zalo, ledger, clock, sleeps).handle(
            record_of(encode(make_event()))
        )
        assert outcome.status is DeliveryStatus.DELIVERED
        assert len(zalo.sent) == 8
        assert 10 in sleeps.waits  # rested between rounds

    async def test_an_unreachable_citizen_fails_without_retry(
        self, make_event, encode, ledger, clock, sleeps
    ):
        zalo = ScriptedZalo(RecipientUnreachableError("window", code=-230))
        outcome = await deliverer(zalo, ledger, clock, sleeps).handle(
            record_of(encode(make_event()))
        )
        assert (outcome.status, outcome.reason, outcome.attempts) == (
            DeliveryStatus.FAILED,
            "unreachable:-230",
            1,
        )
        assert outcome.dead_letter is None
        assert sleeps.waits == []

    async def test_a_message_zalo_refuses_is_dead_lettered_with_its_history(
        self, make_event, encode, ledger, clock, sleeps
    ):
        zalo = ScriptedZalo(
            RetryableDeliveryError("503"), MessageRejectedError("text too long", code=-210)
        )
        outcome = await deliverer(zalo, ledger, clock, sleeps).handle(
            record_of(encode(make_event()))
        )
        assert (outcome.status, outcome.reason) == (DeliveryStatus.DEAD_LETTERED, "rejected:-210")
        assert outcome.dead_letter is not None
        assert outcome.dead_letter.reason is InvalidEventReason.ZALO_REJECTED
        assert outcome.history == ("503", "text too long")

    @pytest.mark.parametrize(
        "error", [TokenError("bad", code=-216), AccountError("off", code=-204)]
    )
    async def test_token_and_account_trouble_block_and_nothing_is_lost(
        self, make_event, encode, ledger, clock, sleeps, error
    ):
        """A misconfiguration never turns into failed or dead-lettered messages."""
        zalo = ScriptedZalo(error, error)
        use_case = deliverer(zalo, ledger, clock, sleeps)
        outcome = await use_case.handle(record_of(encode(make_event())))
        assert outcome.status is DeliveryStatus.DELIVERED
        assert len(zalo.sent) == 3
        assert use_case._breaker.state is BreakerState.CLOSED

    async def test_the_log_line_names_the_event_but_not_the_citizen(
        self, make_event, encode, ledger, clock, sleeps
    ):
        payload = make_event()
        with capture_logs() as logs:
            await deliverer(ScriptedZalo(), ledger, clock, sleeps).handle(
                record_of(encode(payload))
            )
        [line] = [entry for entry in logs if entry["event"] == "event handled"]
        assert line["event_id"] == payload["event_id"]
        assert line["case_code"] == "000.20.31.H56-260310-0042"
        assert line["status"] == "delivered"
        assert (line["topic"], line["partition"], line["offset"]) == ("in", 1, 41)
        assert "2512523625412515" not in json.dumps(logs, default=str)

    async def test_delivered_lines_are_sampled_every_other_outcome_is_logged(
        self, make_event, encode, ledger, clock, sleeps
    ):
        zalo = ScriptedZalo()
        use_case = deliverer(zalo, ledger, clock, sleeps, delivered_sample=3)
        with capture_logs() as logs:
            for offset in range(7):
                if offset == 6:
                    zalo.failures.append(MessageRejectedError("too long", code=-210))
                case = {"case": {"code": f"000.20.31.H56-260310-{offset:04d}"}}
                await use_case.handle(record_of(encode(make_event(**case)), offset=offset))
        handled = [entry for entry in logs if entry["event"] == "event handled"]
        assert [line["status"] for line in handled] == ["delivered", "delivered", "dead_lettered"]
        assert [line["offset"] for line in handled] == [2, 5, 6]


class FaultyLedger:
    """The real ledger, whose claims first raise the scripted exceptions (the last one forever)."""

    def __init__(self, ledger, *errors: BaseException, forever: bool = False) -> None:
        self._ledger = ledger
        self.errors = list(errors)
        self.forever = forever
        self.claims = 0

    async def claim(self, key, **kwargs):
        self.claims += 1
        if self.errors:
            error = self.errors[0] if self.forever else self.errors.pop(0)
            raise error
        return await self._ledger.claim(key, **kwargs)

    def __getattr__(self, name):
        return getattr(self._ledger, name)


class Holds:
    def __init__(self) -> None:
        self.changes: list[tuple[str, bool]] = []

    def __call__(self, reason: str, *, on: bool) -> None:
        self.changes.append((reason, on))


class TestEveryEventEndsInBoundedTime:
    async def test_a_bug_that_keeps_failing_is_dead_lettered_after_the_tries(
        self, make_event, encode, ledger, clock, sleeps
    ):
        zalo = ScriptedZalo()
        faulty = FaultyLedger(ledger, KeyError("bug"), forever=True)
        use_case = deliverer(zalo, faulty, clock, sleeps, max_tries=3)
        outcome = await use_case.handle(record_of(encode(make_event())))
        assert outcome.status is DeliveryStatus.DEAD_LETTERED
        assert outcome.reason == "processing_failed"
        assert outcome.dead_letter is not None
        assert outcome.dead_letter.reason is InvalidEventReason.PROCESSING_FAILED
        assert outcome.dead_letter.exception == "KeyError"
        assert "3 times" in outcome.dead_letter.detail
        assert outcome.event is not None
        assert faulty.claims == 3
        assert sleeps.waits == [10, 10]
        assert zalo.sent == []

    async def test_a_value_the_ledger_refuses_dead_letters_the_event_at_once(
        self, make_event, encode, ledger, clock, sleeps
    ):
        refused = StoreValueError("the SQLite ledger refused a value: OverflowError")
        refused.__cause__ = OverflowError("Python int too large to convert to SQLite INTEGER")
        faulty = FaultyLedger(ledger, refused, forever=True)
        zalo = ScriptedZalo()
        outcome = await deliverer(zalo, faulty, clock, sleeps).handle(
            record_of(encode(make_event()))
        )
        assert (outcome.status, outcome.reason) == (
            DeliveryStatus.DEAD_LETTERED,
            "processing_error",
        )
        assert outcome.dead_letter is not None
        assert outcome.dead_letter.exception == "OverflowError"
        assert faulty.claims == 1
        assert sleeps.waits == []
        assert zalo.sent == []

    async def test_a_ledger_outage_is_waited_out_past_the_tries_holding_the_consumer(
        self, make_event, encode, ledger, clock, sleeps
    ):
        down = [StoreError("the SQLite ledger: OperationalError") for _ in range(8)]
        faulty, holds, zalo = FaultyLedger(ledger, *down), Holds(), ScriptedZalo()
        use_case = deliverer(zalo, faulty, clock, sleeps, max_tries=2, outage=Outage(holds))
        outcome = await use_case.handle(record_of(encode(make_event())))
        assert outcome.status is DeliveryStatus.DELIVERED
        assert len(zalo.sent) == 1
        assert len(sleeps.waits) == 8
        assert max(sleeps.waits) == 10  # the pause caps the backoff
        assert holds.changes == [("store_unavailable", True), ("store_unavailable", False)]

    async def test_a_decoder_bug_dead_letters_the_record_naming_the_exception(
        self, ledger, clock, sleeps, monkeypatch
    ):
        def broken(*_args, **_kwargs):
            raise RecursionError("maximum recursion depth exceeded")

        monkeypatch.setattr("bridge.delivery.deliverer.parse_case_event", broken)
        outcome = await deliverer(ScriptedZalo(), ledger, clock, sleeps).handle(record_of(b"{}"))
        assert (outcome.status, outcome.reason) == (
            DeliveryStatus.DEAD_LETTERED,
            "processing_error",
        )
        assert outcome.dead_letter is not None
        assert outcome.dead_letter.exception == "RecursionError"

    @pytest.mark.parametrize(
        ("value", "reason"),
        [
            (b'{"sequence": ' + b"9" * 5000 + b"}", "number_out_of_range"),
            (b"[" * 1200 + b"]" * 1200, "too_deep"),
            (b'{"a": "\\ud800"}', "invalid_text"),
        ],
        ids=["5000-digits", "1200-deep", "lone-surrogate"],
    )
    async def test_the_issues_poison_records_are_dead_lettered_with_their_reason(
        self, ledger, clock, sleeps, value, reason
    ):
        zalo = ScriptedZalo()
        outcome = await deliverer(zalo, ledger, clock, sleeps).handle(record_of(value))
        assert (outcome.status, outcome.reason) == (DeliveryStatus.DEAD_LETTERED, reason)
        assert sleeps.waits == []
        assert zalo.sent == []


class HangingZalo(ScriptedZalo):
    """The first send never gets an answer; later ones are answered."""

    def __init__(self) -> None:
        super().__init__()
        self.sending = asyncio.Event()

    async def send_text(self, user_id: str, text: str) -> SendReceipt:
        if not self.sending.is_set():
            self.sending.set()
            await asyncio.Event().wait()
        return await super().send_text(user_id, text)


class BuggyZalo(ScriptedZalo):
    """The first send fails with an error no adapter converted (a bug)."""

    async def send_text(self, user_id: str, text: str) -> SendReceipt:
        if not self.sent:
            self.sent.append((user_id, text))
            raise RuntimeError("a bug in the transport")
        return await super().send_text(user_id, text)


class TestProbeSlot:
    async def test_a_probe_cancelled_mid_send_frees_the_slot(
        self, make_event, encode, ledger, clock, sleeps
    ):
        """A rebalance or a shutdown cancels the lanes; the probe among them must not keep it."""
        zalo = HangingZalo()
        use_case = deliverer(zalo, ledger, clock, sleeps)
        use_case._breaker.trip("Zalo error -204")
        lane = asyncio.create_task(use_case.handle(record_of(encode(make_event()))))
        await asyncio.wait_for(zalo.sending.wait(), 5)
        assert use_case._breaker.probing
        lane.cancel()
        with pytest.raises(asyncio.CancelledError):
            await lane
        assert not use_case._breaker.probing
        assert await asyncio.wait_for(use_case._breaker.before_call(), 5) is not None

    async def test_a_probe_ended_by_an_unexpected_error_lets_the_retry_probe(
        self, make_event, encode, ledger, clock, sleeps
    ):
        zalo = BuggyZalo()
        use_case = deliverer(zalo, ledger, clock, sleeps)
        use_case._breaker.trip("Zalo error -204")
        outcome = await asyncio.wait_for(use_case.handle(record_of(encode(make_event()))), 5)
        assert outcome.status is DeliveryStatus.DELIVERED
        assert len(zalo.sent) == 2
        assert use_case._breaker.state is BreakerState.CLOSED
