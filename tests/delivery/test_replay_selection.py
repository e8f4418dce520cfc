"""DLQ replay without a broker: selecting records, rebuilding their headers, reading times."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from bridge.delivery.replay import (
    NO_REASON,
    DeadLetterRecord,
    InvalidSelectionError,
    ReplayCriteria,
    Selection,
    decide,
    parse_time,
    replay_headers,
    replayable_headers,
)

CASE = "000.20.31.H56-260310-0042"
OTHER_CASE = "000.20.31.H56-260310-0043"
ICT = timezone(timedelta(hours=7))
AT = datetime(2026, 3, 10, 9, 30, tzinfo=ICT)
ORIGINAL = [("traceparent", b"00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01")]


def dlq_record(
    *,
    reason: str | None = "invalid_json",
    at: datetime | str | None = AT,
    key: bytes | None = CASE.encode(),
    original: list[tuple[str, bytes | None]] | None = None,
    timestamp_ms: int | None = None,
    offset: int = 7,
    detail: str = "Expecting value: line 1 column 1 (char 0)",
) -> DeadLetterRecord:
    headers: list[tuple[str, bytes | None]] = list(ORIGINAL if original is None else original)
    if reason is not None:
        headers.append(("x-dlq-reason", reason.encode()))
    headers.append(("x-dlq-detail", detail.encode()))
    if at is not None:
        headers.append(("x-dlq-at", (at if isinstance(at, str) else at.isoformat()).encode()))
    headers += [
        ("x-dlq-bridge-version", b"0.1.0"),
        ("x-original-topic", b"case-state-events"),
        ("x-original-partition", b"2"),
        ("x-original-offset", b"41"),
        ("x-original-timestamp", b"1773109811000"),
    ]
    return DeadLetterRecord(
        topic="case-state-events.dlq",
        partition=0,
        offset=offset,
        timestamp_ms=timestamp_ms,
        key=key,
        value=b"{not json",
        headers=tuple(headers),
    )


class TestDecide:
    def test_everything_is_selected_without_filters(self):
        assert decide(dlq_record(), ReplayCriteria(), selected=0) is Selection.SELECTED
        assert decide(dlq_record(reason=None, at=None), ReplayCriteria(), selected=0) == "selected"

    def test_reasons_are_any_of(self):
        criteria = ReplayCriteria(reasons=frozenset({"invalid_json", "schema_violation"}))
        assert decide(dlq_record(), criteria, selected=0) is Selection.SELECTED
        assert decide(dlq_record(reason="schema_violation"), criteria, selected=0) == "selected"
        assert decide(dlq_record(reason="oversize"), criteria, selected=0) is Selection.REASON
        assert decide(dlq_record(reason=None), criteria, selected=0) is Selection.REASON

    def test_a_record_without_reason_can_be_asked_for(self):
        criteria = ReplayCriteria(reasons=frozenset({NO_REASON}))
        assert decide(dlq_record(reason=None), criteria, selected=0) is Selection.SELECTED

    def test_since_is_inclusive_and_until_exclusive(self):
        criteria = ReplayCriteria(since=AT, until=AT + timedelta(hours=1))
        assert decide(dlq_record(at=AT), criteria, selected=0) is Selection.SELECTED
        assert decide(dlq_record(at=AT - timedelta(seconds=1)), criteria, selected=0) == "time"
        assert decide(dlq_record(at=AT + timedelta(hours=1)), criteria, selected=0) == "time"
        late = AT + timedelta(minutes=59, seconds=59)
        assert decide(dlq_record(at=late), criteria, selected=0) is Selection.SELECTED

    def test_times_compare_across_offsets(self):
        criteria = ReplayCriteria(since=datetime(2026, 3, 10, 2, 30, tzinfo=UTC))
        assert decide(dlq_record(at=AT), criteria, selected=0) is Selection.SELECTED

    def test_the_kafka_timestamp_stands_in_for_a_missing_or_broken_x_dlq_at(self):
        criteria = ReplayCriteria(since=AT)
        ms = int((AT + timedelta(minutes=1)).timestamp() * 1000)
        assert decide(dlq_record(at=None, timestamp_ms=ms), criteria, selected=0) == "selected"
        assert decide(dlq_record(at="yesterday", timestamp_ms=ms), criteria, selected=0) == (
            "selected"
        )
        naive = dlq_record(at="2026-03-10T09:30:00", timestamp_ms=ms)
        assert decide(naive, criteria, selected=0) is Selection.SELECTED
        early = int((AT - timedelta(minutes=1)).timestamp() * 1000)
        assert decide(dlq_record(at=None, timestamp_ms=early), criteria, selected=0) == "time"

    def test_a_record_without_any_time_is_not_in_a_time_range(self):
        criteria = ReplayCriteria(until=AT)
        assert decide(dlq_record(at=None), criteria, selected=0) is Selection.TIME

    def test_cases_match_the_record_key_exactly(self):
        criteria = ReplayCriteria(cases=frozenset({CASE}))
        assert decide(dlq_record(), criteria, selected=0) is Selection.SELECTED
        assert decide(dlq_record(key=OTHER_CASE.encode()), criteria, selected=0) == "case"
        assert decide(dlq_record(key=None), criteria, selected=0) is Selection.CASE
        assert decide(dlq_record(key=CASE[:-1].encode()), criteria, selected=0) == "case"

    def test_the_first_failing_filter_is_reported(self):
        criteria = ReplayCriteria(
            reasons=frozenset({"oversize"}), cases=frozenset({OTHER_CASE}), since=AT
        )
        assert decide(dlq_record(at=AT - timedelta(days=1)), criteria, selected=0) == "reason"
        wrong_time = dlq_record(reason="oversize", at=AT - timedelta(days=1))
        assert decide(wrong_time, criteria, selected=0) is Selection.TIME
        assert decide(dlq_record(reason="oversize"), criteria, selected=0) is Selection.CASE

    def test_the_limit_applies_only_to_matching_records(self):
        criteria = ReplayCriteria(reasons=frozenset({"invalid_json"}), limit=2)
        assert decide(dlq_record(), criteria, selected=1) is Selection.SELECTED
        assert decide(dlq_record(), criteria, selected=2) is Selection.LIMIT
        assert decide(dlq_record(reason="oversize"), criteria, selected=2) is Selection.REASON
        assert criteria.exhausted(2)
        assert not criteria.exhausted(1)
        assert not ReplayCriteria().exhausted(10**9)

    @pytest.mark.parametrize(
        "kwargs",
        [
            {"since": datetime(2026, 3, 10, 9, 30)},  # noqa: DTZ001 - the point of the test
            {"until": datetime(2026, 3, 10, 9, 30)},  # noqa: DTZ001 - the point of the test
            {"since": AT, "until": AT},
            {"since": AT, "until": AT - timedelta(hours=1)},
            {"limit": 0},
        ],
    )
    def test_contradictory_or_naive_criteria_are_refused(self, kwargs):
        with pytest.raises(InvalidSelectionError):
            ReplayCriteria(**kwargs)


class TestHeaders:
    def test_the_bridge_headers_are_replaced_by_the_replay_headers(self):
        record = dlq_record(original=[("traceparent", b"t"), ("source", b"td-dvc")])
        headers = replay_headers(record, replay_id="5d1f0c2e-0000-4000-8000-000000000001")
        assert headers == [
            ("traceparent", b"t"),
            ("source", b"td-dvc"),
            ("x-replayed-from", b"case-state-events.dlq/0/7"),
            ("x-replay-id", b"5d1f0c2e-0000-4000-8000-000000000001"),
        ]

    def test_binary_empty_null_and_repeated_headers_are_kept_in_order(self):
        original = [("b", b"\xff\xfe\x00"), ("e", b""), ("n", None), ("b", b"second")]
        assert replayable_headers(dlq_record(original=original).headers) == original

    def test_an_earlier_replay_is_forgotten_so_each_header_appears_once(self):
        earlier = dlq_record(
            original=[
                ("traceparent", b"t"),
                ("x-replayed-from", b"case-state-events.dlq/0/1"),
                ("x-replay-id", b"old-run"),
            ]
        )
        headers = replay_headers(earlier, replay_id="new-run")
        assert headers == [
            ("traceparent", b"t"),
            ("x-replayed-from", b"case-state-events.dlq/0/7"),
            ("x-replay-id", b"new-run"),
        ]

    def test_no_header_at_all(self):
        record = DeadLetterRecord("dlq", 3, 9, None, None, b"", ())
        assert replay_headers(record, replay_id="r") == [
            ("x-replayed-from", b"dlq/3/9"),
            ("x-replay-id", b"r"),
        ]


class TestRecord:
    def test_accessors_read_what_the_sink_added(self):
        record = dlq_record()
        assert record.reason == "invalid_json"
        assert record.case_code == CASE
        assert record.dead_lettered_at == AT
        assert record.original == "case-state-events/2/41"
        assert record.coordinates == "case-state-events.dlq/0/7"

    def test_the_detail_is_masked_again_and_bounded(self):
        record = dlq_record(detail="recipient.phone 0912345678 / cccd 038095001234 " + "x" * 999)
        assert "0912345678" not in record.detail
        assert "038095001234" not in record.detail
        assert len(record.detail) <= 300

    def test_the_value_never_shows_in_repr(self):
        record = DeadLetterRecord("dlq", 0, 0, None, b"k", b"0912345678 secret", ())
        assert "secret" not in repr(record)
        assert "0912345678" not in repr(record)


class TestParseTime:
    NOW = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)

    @pytest.mark.parametrize(
        ("text", "ago"),
        [
            ("45s", timedelta(seconds=45)),
            ("30m", timedelta(minutes=30)),
            ("2h", timedelta(hours=2)),
            ("3d", timedelta(days=3)),
            ("1w", timedelta(weeks=1)),
            (" 2H ", timedelta(hours=2)),
            ("0h", timedelta(0)),
        ],
    )
    def test_durations_count_back_from_now(self, text, ago):
        assert parse_time(text, now=self.NOW) == self.NOW - ago

    @pytest.mark.parametrize(
        ("text", "expected"),
        [
            ("2026-03-10T09:00:00+07:00", datetime(2026, 3, 10, 2, 0, tzinfo=UTC)),
            ("2026-03-10T02:00:00Z", datetime(2026, 3, 10, 2, 0, tzinfo=UTC)),
            ("2026-03-10 02:00:00.5+00:00", datetime(2026, 3, 10, 2, 0, 0, 500000, tzinfo=UTC)),
        ],
    )
    def test_iso_times_with_an_offset(self, text, expected):
        parsed = parse_time(text, now=self.NOW)
        assert parsed == expected
        assert parsed.utcoffset() is not None

    @pytest.mark.parametrize(
        "text", ["2026-03-10T09:00:00", "2026-03-10", "yesterday", "2x", "-2h", "", "h"]
    )
    def test_naive_or_unreadable_times_are_refused(self, text):
        with pytest.raises(InvalidSelectionError):
            parse_time(text, now=self.NOW)
