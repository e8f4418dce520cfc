"""Personal data never reaches a log line or a DLQ header in clear."""

from __future__ import annotations

import io
import json
import logging

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bridge.observability.logs import configure_logging, get_logger
from bridge.observability.masking import mask_id_number, mask_phone, mask_text, pseudonymise
from support import structlog_test_defaults


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
        structlog_test_defaults()

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


PHONE = "0912345678"
CCCD = "038090001234"
TOKEN = "Xq8" + "a1B2c3D4e5F6g7H8i9J0kLmNoPqRsTuVwXyZ" * 4  # an OA access token's shape


def _call_upstream(token: str) -> None:
    raise ConnectionError(f"upstream said: phone {PHONE} access_token={token}")


def _fail_with_personal_data() -> None:
    """Raise an error whose message, chained cause and locals hold a phone, a CCCD and a token."""
    token = TOKEN  # a local variable: no traceback may show it
    try:
        _call_upstream(token)
    except ConnectionError as cause:
        raise RuntimeError(f"lookup of CCCD {CCCD} failed with {token}") from cause


class TestSecretsInText:
    @pytest.mark.parametrize(
        "text",
        [
            f"access_token={TOKEN}",
            f'{{"refresh_token": "{TOKEN}"}}',
            "secret_key: s3cr3t-value",
            "password='hunter2hunter2'",
            "Authorization: Bearer abc.def.ghi",
            "postgresql://bridge:pa55word@db:5432/bridge",
            f"the token was {TOKEN}",
        ],
    )
    def test_secrets_in_free_text_are_redacted(self, text):
        masked = mask_text(text)
        assert "[redacted]" in masked
        for secret in (TOKEN, "s3cr3t-value", "hunter2hunter2", "abc.def.ghi", "pa55word"):
            assert secret not in masked

    def test_identifiers_and_words_are_not_taken_for_secrets(self):
        text = (
            "event 3f0c7c56-5b0e-4a52-9d7e-0a4f03809000 message 7ca1e2345678938b7ca1e2345678938b "
            "at /work/src/bridge/zalo/client.py in test_a_failing_refresh_pauses_delivery_and_"
            "readiness topic case-state-events.dlq dossier 000.20.31.H56-260310-0042 "
            "token refreshed"
        )
        assert mask_text(text) == text


class TestExceptionsInLogs:
    @pytest.fixture
    def configure(self):
        """Configure logging to a buffer in the given format; yield a reader."""
        buffer = io.StringIO()

        def setup(fmt):
            configure_logging("INFO", fmt, stream=buffer)
            return buffer.getvalue

        yield setup
        logging.getLogger().handlers.clear()
        structlog_test_defaults()

    @staticmethod
    def _assert_clean(written: str) -> None:
        assert PHONE not in written
        assert "912345678" not in written
        assert CCCD not in written
        assert TOKEN not in written
        assert TOKEN[:40] not in written

    @pytest.mark.parametrize("fmt", ["json", "console"])
    def test_an_exception_and_its_cause_are_masked(self, configure, fmt):
        read = configure(fmt)
        try:
            _fail_with_personal_data()
        except RuntimeError:
            get_logger("test").exception("lookup failed")
        written = read()
        self._assert_clean(written)
        # The traceback is there, masked: both exceptions, the chain and the masked values.
        assert "RuntimeError: lookup of CCCD ********1234 failed with [redacted]" in written
        assert "ConnectionError: upstream said: phone 09xxxxx678 access_token=[redacted]" in written
        assert "direct cause" in written
        if fmt == "json":
            line = json.loads(written.strip().splitlines()[-1])
            assert "Traceback (most recent call last)" in line["exception"]

    @pytest.mark.parametrize("fmt", ["json", "console"])
    def test_an_exception_passed_as_a_value_is_masked(self, configure, fmt):
        read = configure(fmt)
        try:
            _fail_with_personal_data()
        except RuntimeError as error:
            get_logger("test").warning("lookup failed", error=error, exc_info=error)
        self._assert_clean(read())

    @pytest.mark.parametrize("fmt", ["json", "console"])
    def test_standard_library_records_with_exceptions_are_masked(self, configure, fmt):
        read = configure(fmt)
        try:
            _fail_with_personal_data()
        except RuntimeError:
            logging.getLogger("aiokafka").exception("fetch failed for %s", PHONE)
        written = read()
        self._assert_clean(written)
        assert "fetch failed for 09xxxxx678" in written

    def test_console_tracebacks_show_no_local_variables(self, configure):
        read = configure("console")
        try:
            _fail_with_personal_data()
        except RuntimeError:
            get_logger("test").exception("lookup failed")
        written = read()
        assert "token = " not in written
        assert "locals" not in written.lower()
        assert "_fail_with_personal_data" in written  # the frames are there, their locals not


_SEPARATORS = st.sampled_from([" ", ": ", "=", "(", ")", "'", '"', ", ", "\n", "\t", "/"])
_TEXT = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=40)
_PHONES = st.from_regex(r"(?:0|\+84|84)[35789][0-9]{8}", fullmatch=True)
_ID_NUMBERS = st.from_regex(r"[0-9]{12}", fullmatch=True)
_TOKENS = st.from_regex(r"[A-Z][a-z][0-9][A-Za-z0-9_-]{37,300}", fullmatch=True)


@settings(max_examples=300, deadline=None)
@given(
    before=_TEXT,
    after=_TEXT,
    left=_SEPARATORS,
    right=_SEPARATORS,
    secret=st.one_of(_PHONES, _ID_NUMBERS, _TOKENS),
)
def test_personal_numbers_and_tokens_never_survive_masking(before, after, left, right, secret):
    masked = mask_text(before + left + secret + right + after)
    assert secret not in masked
