"""Dead-letter records keep the original headers and add the reason and the coordinates."""

from __future__ import annotations

from datetime import UTC, datetime

from bridge.dead_letter import dead_letter_headers
from bridge.delivery import InboundRecord
from bridge.errors import InvalidEventError, InvalidEventReason


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
