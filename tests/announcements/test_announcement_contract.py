"""The announcement contract v1, its wording, and the settings of quiet hours and announcements."""

from __future__ import annotations

import json
import unicodedata

import pytest

from bridge.announcements.contract import Announcement, parse_announcement
from bridge.announcements.wording import MAX_TEXT, announcement_text
from bridge.errors import ConfigurationError, InvalidEventError, InvalidEventReason
from bridge.settings import load_settings

VALID = {
    "announcement_id": "0b7f1f0e-8f5e-4c55-9a2b-3c2d1e0f9a11",
    "province": "thanh-hoa",
    "title": "Cảnh báo bão số 3",
    "body": "Người dân vùng ven biển chủ động sơ tán theo hướng dẫn của chính quyền địa phương.",
    "link": "https://thanhhoa.gov.vn/canh-bao",
    "urgency": "urgent",
    "audience": {"kind": "area", "value": "38.380"},
    "published_at": "2026-09-01T20:00:00+07:00",
}


def parse(document):
    return parse_announcement(json.dumps(document, ensure_ascii=False).encode(), max_bytes=65536)


class TestParse:
    def test_a_valid_announcement(self):
        announcement = parse(VALID)
        assert announcement.audience.value == "38.380"
        assert announcement.urgency.value == "urgent"

    def test_text_is_normalised_to_nfc(self):
        decomposed = unicodedata.normalize("NFD", "Thông báo nghỉ lễ")
        assert parse({**VALID, "title": decomposed}).title == "Thông báo nghỉ lễ"

    @pytest.mark.parametrize(
        ("raw", "reason"),
        [
            (b"{", InvalidEventReason.INVALID_JSON),
            (b"\xff", InvalidEventReason.NOT_UTF8),
            (b"[]", InvalidEventReason.SCHEMA_VIOLATION),
            (
                json.dumps({**VALID, "schema_version": 2}).encode(),
                InvalidEventReason.UNSUPPORTED_VERSION,
            ),
            (
                json.dumps({**VALID, "announcement_id": "x"}).encode(),
                InvalidEventReason.SCHEMA_VIOLATION,
            ),
            (
                json.dumps({**VALID, "audience": {"kind": "tag"}}).encode(),
                InvalidEventReason.SCHEMA_VIOLATION,
            ),
            (
                json.dumps({**VALID, "audience": {"kind": "all", "value": "x"}}).encode(),
                InvalidEventReason.SCHEMA_VIOLATION,
            ),
            (
                json.dumps({**VALID, "published_at": "2026-09-01T20:00:00"}).encode(),
                InvalidEventReason.SCHEMA_VIOLATION,
            ),
            (b"{" + b" " * 70_000 + b"}", InvalidEventReason.OVERSIZE),
        ],
    )
    def test_invalid_records_say_why(self, raw, reason):
        with pytest.raises(InvalidEventError) as caught:
            parse_announcement(raw, max_bytes=65536)
        assert caught.value.reason is reason


class TestWording:
    def test_urgent_title_body_link_and_signature(self):
        text = announcement_text(parse(VALID), signature="UBND tỉnh Thanh Hóa")
        assert text.split("\n") == [
            "[KHẨN] Cảnh báo bão số 3",
            VALID["body"],
            "Xem chi tiết: https://thanhhoa.gov.vn/canh-bao",
            "UBND tỉnh Thanh Hóa",
        ]

    def test_a_long_body_is_shortened_never_the_link(self):
        long = Announcement.model_validate({**VALID, "body": "ê" * 1500, "title": "T" * 200})
        signature = "S" * 400
        text = announcement_text(long, signature=signature)
        assert len(text) <= MAX_TEXT
        assert text.endswith("Xem chi tiết: https://thanhhoa.gov.vn/canh-bao\n" + signature)
        assert "…" in text


class TestSettings:
    def test_defaults(self):
        settings = load_settings()
        assert (settings.quiet_hours.start, settings.quiet_hours.end) == ("21:00", "07:00")
        assert settings.quiet_hours.urgent_states == (
            "RESULT_READY",
            "SUPPLEMENT_REQUESTED",
            "PAYMENT_REQUESTED",
        )
        assert settings.announcements.topic == "government-announcements"
        assert (settings.announcements.quiet_start, settings.announcements.quiet_end) == (
            "22:00",
            "06:00",
        )

    def test_environment_variables(self, monkeypatch):
        monkeypatch.setenv("BRIDGE_QUIET_HOURS__START", "22:30")
        monkeypatch.setenv("BRIDGE_QUIET_HOURS__URGENT_STATES", '["RESULT_READY"]')
        monkeypatch.setenv("BRIDGE_ANNOUNCEMENTS__RATE_PER_MINUTE", "600")
        settings = load_settings()
        assert settings.quiet_hours.start == "22:30"
        assert settings.quiet_hours.urgent_states == ("RESULT_READY",)
        assert settings.announcements.rate_per_minute == 600

    @pytest.mark.parametrize(
        ("section", "value"),
        [
            ("quiet_hours", {"start": "9pm"}),
            ("quiet_hours", {"urgent_states": ["DONE"]}),
            ("quiet_hours", {"urgent_event_types": ["NOPE"]}),
            ("announcements", {"timezone": "Mars/Olympus"}),
        ],
    )
    def test_invalid_values_name_the_setting(self, section, value):
        with pytest.raises(ConfigurationError, match=section):
            load_settings(**{section: value})
