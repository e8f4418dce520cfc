"""The delivery use case, through its ports: a scripted sender and an in-memory dead-letter sink."""

from __future__ import annotations

from zoneinfo import ZoneInfo

import pytest
from structlog.testing import capture_logs

from bridge.delivery import (
    Deliverer,
    DeliveryPolicy,
    DeliveryStatus,
    InboundRecord,
)
from bridge.errors import (
    AccountError,
    DeliveryInDoubtError,
    InvalidEventError,
    InvalidEventReason,
    RecipientUnreachableError,
    RetryableDeliveryError,
    TokenError,
)
from bridge.mapping import MessageContext
from bridge.zalo import SendReceipt

CONTEXT = MessageContext(
    lookup_url_template="https://dvc.example.gov.vn/tra-cuu?ma={case_code}",
    timezone=ZoneInfo("Asia/Ho_Chi_Minh"),
)


class ScriptedSender:
    """Answers each send with the next scripted exception, then with success."""

    def __init__(self, *failures: Exception) -> None:
        self.failures = list(failures)
        self.sent: list[tuple[str, str]] = []

    async def send_text(self, user_id: str, text: str) -> SendReceipt:
        self.sent.append((user_id, text))
        if self.failures:
            raise self.failures.pop(0)
        return SendReceipt(message_id=f"m{len(self.sent)}", user_id=user_id, sent_time="1")


class MemoryDeadLetters:
    def __init__(self) -> None:
        self.records: list[tuple[InboundRecord, InvalidEventError]] = []

    async def dead_letter(self, record: InboundRecord, error: InvalidEventError) -> None:
        self.records.append((record, error))


class Sleeps:
    def __init__(self) -> None:
        self.waits: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)


def record_of(value: bytes, headers=()) -> InboundRecord:
    return InboundRecord(
        topic="case-state-events", partition=1, offset=41, key=b"k", value=value, headers=headers
    )


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()


@pytest.fixture
def dead_letters() -> MemoryDeadLetters:
    return MemoryDeadLetters()


def deliverer(sender, dead_letters, sleeps, *, attempts=3, context=CONTEXT) -> Deliverer:
    return Deliverer(
        sender=sender,
        dead_letters=dead_letters,
        context=context,
        policy=DeliveryPolicy(max_attempts=attempts, initial_backoff=0.5, max_backoff=4, budget=60),
        max_event_bytes=64 * 1024,
        sleep=sleeps,
    )


class TestDeliverer:
    async def test_a_valid_event_is_sent_once_to_its_citizen(
        self, make_event, encode, dead_letters, sleeps
    ):
        sender = ScriptedSender()
        outcome = await deliverer(sender, dead_letters, sleeps).handle(
            record_of(encode(make_event()))
        )
        assert outcome.status is DeliveryStatus.DELIVERED
        assert outcome.message_id == "m1"
        assert outcome.attempts == 1
        assert outcome.template_version == "builtin-1"
        assert len(sender.sent) == 1
        user_id, text = sender.sent[0]
        assert user_id == "2512523625412515"
        assert "đã được tiếp nhận" in text
        assert dead_letters.records == []

    async def test_an_invalid_record_is_dead_lettered_untouched(self, dead_letters, sleeps):
        sender = ScriptedSender()
        record = record_of(b"{not json", headers=(("trace", b"\xff\x00"),))
        outcome = await deliverer(sender, dead_letters, sleeps).handle(record)
        assert outcome.status is DeliveryStatus.DEAD_LETTERED
        assert outcome.reason == "invalid_json"
        assert sender.sent == []
        [(kept, error)] = dead_letters.records
        assert kept is record
        assert error.reason is InvalidEventReason.INVALID_JSON

    async def test_a_wording_failure_is_dead_lettered_rather_than_blocking(
        self, make_event, encode, dead_letters, sleeps
    ):
        broken = MessageContext(lookup_url_template="x{case_code}", timezone="not a zone")  # type: ignore[arg-type]
        sender = ScriptedSender()
        outcome = await deliverer(sender, dead_letters, sleeps, context=broken).handle(
            record_of(encode(make_event()))
        )
        assert outcome.status is DeliveryStatus.DEAD_LETTERED
        assert outcome.reason == "processing_error"
        assert sender.sent == []

    async def test_internal_steps_are_suppressed_without_a_send(
        self, make_event, encode, dead_letters, sleeps
    ):
        sender = ScriptedSender()
        outcome = await deliverer(sender, dead_letters, sleeps).handle(
            record_of(encode(make_event(event_type="CORRECTION")))
        )
        assert outcome.status is DeliveryStatus.SUPPRESSED
        assert outcome.reason == "not_citizen_news"
        assert sender.sent == []

    async def test_no_consent_means_no_message(self, make_event, encode, dead_letters, sleeps):
        sender = ScriptedSender()
        payload = make_event(recipient={"notify_consent": False})
        outcome = await deliverer(sender, dead_letters, sleeps).handle(record_of(encode(payload)))
        assert outcome.status is DeliveryStatus.SUPPRESSED
        assert outcome.reason == "no_consent"
        assert sender.sent == []

    async def test_a_phone_only_recipient_is_unreachable_on_this_channel(
        self, make_event, encode, dead_letters, sleeps
    ):
        payload = make_event()
        payload["recipient"] = {"phone": "0912345678", "notify_consent": True}
        outcome = await deliverer(ScriptedSender(), dead_letters, sleeps).handle(
            record_of(encode(payload))
        )
        assert outcome.status is DeliveryStatus.FAILED
        assert outcome.reason == "unreachable:no_zalo_user_id"

    async def test_transient_failures_are_retried_with_growing_waits(
        self, make_event, encode, dead_letters, sleeps
    ):
        sender = ScriptedSender(
            RetryableDeliveryError("busy", code=-32), DeliveryInDoubtError("lost")
        )
        outcome = await deliverer(sender, dead_letters, sleeps).handle(
            record_of(encode(make_event()))
        )
        assert outcome.status is DeliveryStatus.DELIVERED
        assert outcome.attempts == 3
        assert len(sender.sent) == 3
        assert len(sleeps.waits) == 2
        assert 0.5 <= sleeps.waits[0] <= 1.5
        assert sleeps.waits[1] >= 1.0

    async def test_retries_are_bounded_and_then_the_error_escapes(
        self, make_event, encode, dead_letters, sleeps
    ):
        """The caller must not commit: the record will be fetched again later."""
        sender = ScriptedSender(*[RetryableDeliveryError("down")] * 10)
        with pytest.raises(RetryableDeliveryError):
            await deliverer(sender, dead_letters, sleeps, attempts=3).handle(
                record_of(encode(make_event()))
            )
        assert len(sender.sent) == 3
        assert dead_letters.records == []

    async def test_an_unreachable_citizen_fails_without_retry(
        self, make_event, encode, dead_letters, sleeps
    ):
        sender = ScriptedSender(RecipientUnreachableError("window", code=-230))
        outcome = await deliverer(sender, dead_letters, sleeps).handle(
            record_of(encode(make_event()))
        )
        assert outcome.status is DeliveryStatus.FAILED
        assert outcome.reason == "unreachable:-230"
        assert outcome.attempts == 1
        assert sleeps.waits == []

    @pytest.mark.parametrize(
        "error", [TokenError("bad", code=-216), AccountError("off", code=-204)]
    )
    async def test_token_and_account_trouble_escape_at_once(
        self, make_event, encode, dead_letters, sleeps, error
    ):
        """A misconfiguration must never turn into failed or dead-lettered messages."""
        sender = ScriptedSender(error)
        with pytest.raises(type(error)):
            await deliverer(sender, dead_letters, sleeps).handle(record_of(encode(make_event())))
        assert len(sender.sent) == 1
        assert dead_letters.records == []

    async def test_the_log_line_names_the_event_but_not_the_citizen(
        self, make_event, encode, dead_letters, sleeps
    ):
        payload = make_event()
        with capture_logs() as logs:
            await deliverer(ScriptedSender(), dead_letters, sleeps).handle(
                record_of(encode(payload))
            )
        [line] = [entry for entry in logs if entry["event"] == "event handled"]
        assert line["event_id"] == payload["event_id"]
        assert line["case_code"] == "000.20.31.H56-260310-0042"
        assert line["status"] == "delivered"
        assert (line["topic"], line["partition"], line["offset"]) == ("case-state-events", 1, 41)
        assert "2512523625412515" not in repr(logs)
