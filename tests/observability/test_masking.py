"""Personal data never reaches a log line or a DLQ header in clear."""

from __future__ import annotations

import io
import json
import logging

import pytest
import structlog

from bridge.observability.logs import configure_logging, get_logger
from bridge.observability.masking import mask_id_number, mask_phone, mask_text, pseudonymise


class TestMasking:
    @pytest.mark.parametrize(
        ("phone", "masked"),
        [
            ("0912345678", "09xxxxx678"),
            ("84912345678", "09xxxxx678"),
            ("+84912345678", "09xxxxx678"),
        ],
    )
    def test_phones_keep_only_their_first_two_and_last_three_digits(self, phone, masked):
        assert mask_phone(phone) == masked

    def test_id_numbers_keep_their_last_four_digits(self):
        assert mask_id_number("038090001234") == "********1234"

    def test_free_text_is_masked_wherever_numbers_appear(self):
        text = (
            "gọi 0912345678 hoặc +84987654321, CCCD 038090001234, hồ sơ 000.20.31.H56-260310-0042"
        )
        masked = mask_text(text)
        assert "0912345678" not in masked
        assert "987654321" not in masked
        assert "038090001234" not in masked
        assert "********1234" in masked
        assert "000.20.31.H56-260310-0042" in masked

    def test_digits_inside_hex_identifiers_are_left_alone(self):
        text = "event 3f0c7c56-5b0e-4a52-9d7e-0a4f038090001 message 7ca123456789038b"
        assert mask_text(text) == text

    def test_pseudonyms_are_stable_and_depend_on_the_pepper(self):
        assert pseudonymise("2512523625412515") == pseudonymise("2512523625412515")
        assert pseudonymise("2512523625412515") != pseudonymise("2512523625412515", pepper="p")
        assert "2512523625412515" not in pseudonymise("2512523625412515")


class TestLogs:
    @pytest.fixture
    def output(self):
        """Configure logging to write to a buffer; read what was written."""
        buffer = io.StringIO()
        configure_logging("INFO", "json", stream=buffer)
        yield buffer.getvalue
        logging.getLogger().handlers.clear()
        structlog.reset_defaults()

    def test_json_lines_with_masked_values_and_redacted_secrets(self, output):
        get_logger("test").info(
            "sent",
            phone="0912345678",
            access_token="tok-123",
            detail={"note": "CCCD 038090001234"},
            event_id="123456789012",
        )
        written = output()
        line = json.loads(written.strip().splitlines()[-1])
        assert line["event"] == "sent"
        assert line["event_id"] == "123456789012"
        assert line["level"] == "info"
        assert line["phone"] == "09xxxxx678"
        assert line["access_token"] == "[redacted]"
        assert line["detail"] == {"note": "CCCD ********1234"}
        assert line["logger"] == "test"
        assert "tok-123" not in written

    def test_standard_library_records_are_rendered_the_same_way(self, output):
        logging.getLogger("aiokafka").warning("broker 0912345678 gone")
        line = json.loads(output().strip().splitlines()[-1])
        assert line["event"] == "broker 09xxxxx678 gone"
        assert line["logger"] == "aiokafka"
