"""The case-state event contract: what is accepted, and why the rest is refused."""

from __future__ import annotations

import json
import unicodedata

import pytest

from bridge.errors import InvalidEventError, InvalidEventReason
from bridge.events import CaseState, EventType, is_national_case_code, parse_event

LIMIT = 64 * 1024


class TestCaseState:
    def test_national_codes_run_from_1_to_10_in_the_official_order(self):
        """Each state carries its DVCQG code, and the code leads back to the state."""
        expected = [
            "SUBMITTED",
            "RECEIVED",
            "REJECTED_AT_INTAKE",
            "IN_PROGRESS",
            "SUPPLEMENT_REQUESTED",
            "PAYMENT_REQUESTED",
            "WITHDRAWAL_REQUESTED",
            "STOPPED",
            "RESULT_READY",
            "RESULT_RETURNED",
        ]
        assert expected == [CaseState.from_dvcqg_code(code).value for code in range(1, 11)]
        assert [s.dvcqg_code for s in CaseState] == list(range(1, 11))

    def test_labels_are_the_official_vietnamese_ones(self):
        """Code 2 is 'Được tiếp nhận', not the informal 'Đã tiếp nhận'."""
        assert CaseState.RECEIVED.label == "Được tiếp nhận"
        assert CaseState.RESULT_READY.label == "Đã xử lý xong"

    @pytest.mark.parametrize("code", [0, 11, -1])
    def test_codes_outside_1_to_10_are_refused(self, code):
        with pytest.raises(ValueError, match="no national dossier state"):
            CaseState.from_dvcqg_code(code)


class TestCaseCode:
    @pytest.mark.parametrize(
        "code",
        ["000.20.31.H56-260310-0042", "000.00.01.H22-250101-12345", "G01.00.00.G03-240101-0001"],
    )
    def test_national_form_is_recognised(self, code):
        assert is_national_case_code(code)

    @pytest.mark.parametrize(
        "code", ["00673810079", "H56.22-240101-0001", "000.20.31.H56-2603-0042"]
    )
    def test_other_forms_are_not_national(self, code):
        assert not is_national_case_code(code)

    @pytest.mark.parametrize("code", ["00673810079", "HS-2026-000123"])
    def test_provincial_forms_are_accepted_by_the_fallback(self, make_event, encode, code):
        event = parse_event(encode(make_event(case={"code": code})), max_bytes=LIMIT)
        assert event.case.code == code

    @pytest.mark.parametrize("code", ["short", "has space 12345", "x" * 41, "ký-tự-có-dấu"])
    def test_codes_outside_the_fallback_are_refused(self, make_event, encode, code):
        with pytest.raises(InvalidEventError) as caught:
            parse_event(encode(make_event(case={"code": code})), max_bytes=LIMIT)
        assert caught.value.reason is InvalidEventReason.SCHEMA_VIOLATION
        assert "case.code" in caught.value.detail


class TestParseEvent:
    def test_a_valid_event_is_parsed_with_its_fields(self, make_event, encode):
        payload = make_event()
        event = parse_event(encode(payload), max_bytes=LIMIT)
        assert str(event.event_id) == payload["event_id"]
        assert event.state is CaseState.RECEIVED
        assert event.previous_state is CaseState.SUBMITTED
        assert event.event_type is EventType.STATE_CHANGED
        assert event.case.receiving_agency.code == "000.20.31.H56"
        assert event.recipient.zalo_user_id == "2512523625412515"
        assert event.case.due_at is not None
        assert event.case.due_at.utcoffset() is not None

    def test_unknown_extra_fields_are_tolerated(self, make_event, encode):
        """Producers may add optional fields without breaking v1 consumers."""
        event = parse_event(encode(make_event(added_later={"x": 1})), max_bytes=LIMIT)
        assert event.state is CaseState.RECEIVED

    def test_text_is_normalised_to_nfc(self, make_event, encode):
        decomposed = unicodedata.normalize("NFD", "Đăng ký kết hôn")
        assert decomposed != "Đăng ký kết hôn"
        payload = make_event(case={"procedure_name": decomposed})
        event = parse_event(encode(payload), max_bytes=LIMIT)
        assert event.case.procedure_name == "Đăng ký kết hôn"

    def test_oversize_records_are_refused_before_parsing(self, make_event, encode):
        raw = encode(make_event(reason="x" * 900))
        with pytest.raises(InvalidEventError) as caught:
            parse_event(raw, max_bytes=len(raw) - 1)
        assert caught.value.reason is InvalidEventReason.OVERSIZE

    def test_bytes_that_are_not_utf8_are_refused(self):
        with pytest.raises(InvalidEventError) as caught:
            parse_event(b"\xff\xfe{}", max_bytes=LIMIT)
        assert caught.value.reason is InvalidEventReason.NOT_UTF8

    @pytest.mark.parametrize("raw", [b"", b"{", b"not json", b'{"a": }'])
    def test_invalid_json_is_refused(self, raw):
        with pytest.raises(InvalidEventError) as caught:
            parse_event(raw, max_bytes=LIMIT)
        assert caught.value.reason is InvalidEventReason.INVALID_JSON

    @pytest.mark.parametrize("raw", [b"[]", b"42", b'"text"', b"null"])
    def test_json_that_is_not_an_object_is_refused(self, raw):
        with pytest.raises(InvalidEventError) as caught:
            parse_event(raw, max_bytes=LIMIT)
        assert caught.value.reason is InvalidEventReason.SCHEMA_VIOLATION

    def test_an_unknown_state_has_its_own_reason(self, make_event, encode):
        with pytest.raises(InvalidEventError) as caught:
            parse_event(encode(make_event(state="APPROVED")), max_bytes=LIMIT)
        assert caught.value.reason is InvalidEventReason.UNKNOWN_STATE

    def test_another_schema_version_is_refused(self, make_event, encode):
        with pytest.raises(InvalidEventError) as caught:
            parse_event(encode(make_event(schema_version=2)), max_bytes=LIMIT)
        assert caught.value.reason is InvalidEventReason.UNSUPPORTED_VERSION

    @pytest.mark.parametrize(
        "missing", ["event_id", "occurred_at", "case", "recipient", "sequence"]
    )
    def test_required_fields_are_required(self, make_event, encode, missing):
        with pytest.raises(InvalidEventError) as caught:
            parse_event(encode(make_event(**{missing: None})), max_bytes=LIMIT)
        assert caught.value.reason is InvalidEventReason.SCHEMA_VIOLATION
        assert missing in caught.value.detail

    def test_times_without_an_offset_are_refused(self, make_event, encode):
        """A naive time is ambiguous between UTC and Asia/Ho_Chi_Minh: producers must say."""
        with pytest.raises(InvalidEventError) as caught:
            parse_event(encode(make_event(occurred_at="2026-03-10T09:30:11")), max_bytes=LIMIT)
        assert "occurred_at" in caught.value.detail

    def test_a_transfer_needs_its_details(self, make_event, encode):
        with pytest.raises(InvalidEventError) as caught:
            parse_event(encode(make_event(event_type="TRANSFERRED")), max_bytes=LIMIT)
        assert "transfer" in caught.value.detail

    def test_a_due_date_change_needs_its_details(self, make_event, encode):
        with pytest.raises(InvalidEventError) as caught:
            parse_event(encode(make_event(event_type="DUE_DATE_CHANGED")), max_bytes=LIMIT)
        assert "due_date_change" in caught.value.detail

    def test_a_recipient_needs_a_zalo_user_id_or_a_phone(self, make_event, encode):
        payload = make_event()
        payload["recipient"] = {"notify_consent": True}
        with pytest.raises(InvalidEventError) as caught:
            parse_event(encode(payload), max_bytes=LIMIT)
        assert "zalo_user_id or a phone" in caught.value.detail

    def test_a_phone_alone_is_a_valid_recipient(self, make_event, encode):
        payload = make_event()
        payload["recipient"] = {"phone": "0912345678", "notify_consent": True}
        event = parse_event(encode(payload), max_bytes=LIMIT)
        assert event.recipient.phone == "0912345678"
        assert event.recipient.zalo_user_id is None

    def test_the_reason_never_echoes_input_values(self, make_event, encode):
        """Refusal details go to logs and DLQ headers: they must not carry personal data."""
        payload = make_event()
        payload["recipient"] = {"phone": "09123456789999", "notify_consent": True}
        with pytest.raises(InvalidEventError) as caught:
            parse_event(encode(payload), max_bytes=LIMIT)
        assert "09123456789999" not in caught.value.detail
        assert "recipient.phone" in caught.value.detail

    def test_the_detail_lists_at_most_ten_problems(self):
        raw = json.dumps({"case": {}, "recipient": {}, "state": 1, "sequence": -1}).encode()
        with pytest.raises(InvalidEventError) as caught:
            parse_event(raw, max_bytes=LIMIT)
        assert caught.value.detail.count(";") <= 10
