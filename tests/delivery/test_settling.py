"""Settling a record: one status event always; a dead-letter copy for what could not be done."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from bridge.delivery.dead_letter import MAX_DEAD_LETTER_BYTES
from bridge.delivery.outbox import outputs_for
from bridge.delivery.records import DeliveryOutcome, InboundRecord
from bridge.delivery.settling import Settler
from bridge.errors import InvalidEventError, InvalidEventReason, StoreError, StoreValueError
from bridge.events import parse_event
from bridge.status import DeliveryStatus

NOW = datetime(2026, 3, 10, 9, 0, tzinfo=UTC)


def record_of(value: bytes, *, headers=()) -> InboundRecord:
    return InboundRecord(
        topic="in", partition=0, offset=5, key=b"k", value=value, headers=tuple(headers)
    )


def outputs(record, outcome):
    return outputs_for(record, outcome, status_topic="status", dead_letter_topic="dlq", now=NOW)


def settler(outcome: DeliveryOutcome, record_event) -> Settler:
    async def handle(_record):
        return outcome

    return Settler(handle=handle, record_event=record_event, outputs=outputs)


def by_topic(outs):
    return {out.topic: out for out in outs}


async def test_a_state_the_store_refuses_leaves_the_status_and_adds_a_dead_letter_copy(
    make_event, encode
):
    raw = encode(make_event())
    event = parse_event(raw, max_bytes=65536)
    delivered = DeliveryOutcome(DeliveryStatus.DELIVERED, message_id="m1", event=event)

    async def refuse(_event):
        refused = StoreValueError("citizen store refused a value: OverflowError")
        refused.__cause__ = OverflowError("Python int too large to convert to SQLite INTEGER")
        raise refused

    outs = by_topic(await settler(delivered, refuse).deliver(record_of(raw)))
    assert json.loads(outs["status"].value)["status"] == "delivered"
    headers = dict(outs["dlq"].headers)
    assert headers["x-dlq-reason"] == b"processing_error"
    assert headers["x-dlq-exception"] == b"OverflowError"
    assert outs["dlq"].value == raw


async def test_an_unreachable_store_is_not_the_records_fault_and_escapes_to_be_waited_out(
    make_event, encode
):
    raw = encode(make_event())
    event = parse_event(raw, max_bytes=65536)

    async def down(_event):
        raise StoreError("citizen store: OperationalError")

    with pytest.raises(StoreError):  # the dispatcher waits it out
        await settler(DeliveryOutcome(DeliveryStatus.DELIVERED, event=event), down).deliver(
            record_of(raw)
        )


def test_giving_up_dead_letters_the_record_as_processing_failed_with_its_bytes_and_headers():
    async def never(_event):
        raise AssertionError

    record = record_of(b"\x00poison", headers=[("trace", b"\xff")])
    outs = by_topic(
        settler(DeliveryOutcome(DeliveryStatus.DELIVERED), never).give_up(
            record, KeyError("0912345678"), 5
        )
    )
    status = json.loads(outs["status"].value)
    assert (status["status"], status["reason"]) == ("dead_lettered", "processing_failed")
    assert status["source"] == {"topic": "in", "partition": 0, "offset": 5}
    dead = outs["dlq"]
    assert (dead.key, dead.value) == (b"k", b"\x00poison")
    assert dead.headers[0] == ("trace", b"\xff")
    headers = dict(dead.headers)
    assert headers["x-dlq-reason"] == b"processing_failed"
    assert headers["x-dlq-exception"] == b"KeyError"
    assert b"5 times" in headers["x-dlq-detail"]
    assert b"0912345678" not in headers["x-dlq-detail"]


def test_a_detail_quoting_a_lone_surrogate_still_makes_a_header():
    error = InvalidEventError(InvalidEventReason.SCHEMA_VIOLATION, "key '\ud800' unknown")
    outcome = DeliveryOutcome(DeliveryStatus.DEAD_LETTERED, dead_letter=error)
    dead = by_topic(outputs(record_of(b"{}"), outcome))["dlq"]
    assert dict(dead.headers)["x-dlq-detail"] == b"key '\\ud800' unknown"


def test_a_copy_the_broker_would_refuse_goes_without_its_value_but_says_so():
    error = InvalidEventError(InvalidEventReason.OVERSIZE, "too large")
    outcome = DeliveryOutcome(DeliveryStatus.DEAD_LETTERED, dead_letter=error)
    small = by_topic(outputs(record_of(b"x" * 900_000), outcome))["dlq"]
    assert len(small.value) == 900_000
    huge = by_topic(outputs(record_of(b"x" * MAX_DEAD_LETTER_BYTES), outcome))["dlq"]
    assert huge.value == b""
    assert dict(huge.headers)["x-dlq-value-omitted"] == str(MAX_DEAD_LETTER_BYTES).encode()
