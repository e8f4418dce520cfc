"""Dead-letter records keep the original headers and add the reason and the coordinates."""

from __future__ import annotations

from datetime import UTC, datetime

from bridge.delivery.dead_letter import dead_letter_headers
from bridge.delivery.outbox import outputs_for
from bridge.delivery.records import DeliveryOutcome, InboundRecord
from bridge.errors import InvalidEventError, InvalidEventReason
from bridge.status import DeliveryStatus


def test_original_headers_come_first_and_unchanged_then_bridges_own():
    record = InboundRecord(
        topic="in",
        partition=2,
        offset=7,
        key=b"k",
        value=b"x",
        headers=(("trace", b"\xff\x00binary"), ("content-type", b"application/json")),
        timestamp_ms=1700000000000,
    )
    error = InvalidEventError(InvalidEventReason.SCHEMA_VIOLATION, "recipient.phone 0912345678 bad")
    headers = dead_letter_headers(record, error, now=datetime(2026, 11, 29, tzinfo=UTC))
    assert headers[:2] == [("trace", b"\xff\x00binary"), ("content-type", b"application/json")]
    added = dict(headers[2:])
    assert added["x-dlq-reason"] == b"schema_violation"
    assert added["x-original-topic"] == b"in"
    assert added["x-original-partition"] == b"2"
    assert added["x-original-offset"] == b"7"
    assert added["x-original-timestamp"] == b"1700000000000"
    assert added["x-dlq-at"] == b"2026-11-29T00:00:00+00:00"
    assert b"0912345678" not in added["x-dlq-detail"]


def test_the_attempts_history_header_masks_phone_and_id_numbers():
    record = InboundRecord(topic="in", partition=0, offset=3, key=b"k", value=b"x")
    outcome = DeliveryOutcome(
        DeliveryStatus.DEAD_LETTERED,
        reason="rejected:-108",
        dead_letter=InvalidEventError(InvalidEventReason.ZALO_REJECTED, "rejected"),
        history=(
            "zalo_template_phone: Zalo ZNS error -108: phone 0912345678 is invalid",
            "zalo_cs: Zalo error -201: citizen 038095001234 unknown",
        ),
    )
    [_, dead] = outputs_for(record, outcome, status_topic="s", dead_letter_topic="d")
    history = dict(dead.headers)["x-dlq-attempts"]
    assert b"0912345678" not in history
    assert b"038095001234" not in history
    assert b"Zalo ZNS error -108" in history
