"""The bounded decoder of record values: each bound refuses with its reason, nothing escapes."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bridge.errors import InvalidEventError, InvalidEventReason
from bridge.events import parse_event
from bridge.record_json import (
    INT64_MAX,
    INT64_MIN,
    MAX_DEPTH,
    decode_json_object,
    nesting_depth,
)

LIMIT = 64 * 1024
R = InvalidEventReason


def refusal(raw: bytes, limit: int = LIMIT) -> InvalidEventError:
    with pytest.raises(InvalidEventError) as refused:
        decode_json_object(raw, max_bytes=limit)
    return refused.value


def nested(depth: int) -> bytes:
    return b'{"a":' + b"[" * (depth - 1) + b"]" * (depth - 1) + b"}"


class TestTheIssuesPoisonRecords:
    """The three records that stalled a partition for good, and their siblings."""

    def test_an_integer_of_5000_digits_is_out_of_range_not_a_value_error(self):
        error = refusal(b'{"sequence": ' + b"7" * 5000 + b"}")
        assert error.reason is R.NUMBER_OUT_OF_RANGE
        assert "5000 digits" in error.detail
        assert error.exception == "bridge.errors.InvalidEventError"

    def test_nesting_1200_deep_is_refused_before_the_parser_recurses(self):
        error = refusal(b"[" * 1200 + b"]" * 1200)
        assert error.reason is R.TOO_DEEP
        assert "1200 levels" in error.detail

    def test_sequence_2_pow_63_is_outside_64_bits(self, make_event, encode):
        raw = encode(make_event(sequence=2**63))
        with pytest.raises(InvalidEventError) as refused:
            parse_event(raw, max_bytes=LIMIT)
        assert refused.value.reason is R.NUMBER_OUT_OF_RANGE

    def test_the_largest_sequence_is_accepted(self, make_event, encode):
        assert parse_event(encode(make_event(sequence=INT64_MAX)), max_bytes=LIMIT).sequence == (
            INT64_MAX
        )

    def test_the_model_bounds_sequence_too_for_other_decoders(self):
        from bridge.events import CaseStateEvent  # noqa: PLC0415 - the schema itself

        schema = CaseStateEvent.model_json_schema()
        assert schema["properties"]["sequence"]["maximum"] == INT64_MAX


class TestSizeAndEncoding:
    def test_the_size_is_checked_before_anything_is_parsed(self):
        error = refusal(b"[" * (LIMIT + 1))
        assert error.reason is R.OVERSIZE

    @pytest.mark.parametrize(
        "raw",
        [b"\xff{}", b'{"a": "\xc3"}', b'{"a": "\xed\xa0\x80"}', b'{"a": "\xf4\x90\x80\x80"}'],
        ids=["invalid-start", "truncated", "utf8-encoded-surrogate", "beyond-unicode"],
    )
    def test_invalid_utf8_is_refused_naming_the_decode_error(self, raw):
        error = refusal(raw)
        assert error.reason is R.NOT_UTF8
        assert error.exception == "UnicodeDecodeError"

    @pytest.mark.parametrize(
        "raw", [b'{"a": "\\ud800"}', b'{"\\udc00": 1}', b'{"a": ["ok", "\\udbff x"]}']
    )
    def test_a_lone_surrogate_anywhere_is_invalid_text(self, raw):
        assert refusal(raw).reason is R.INVALID_TEXT

    def test_a_surrogate_pair_is_an_ordinary_character(self):
        assert decode_json_object(b'{"a": "\\ud83d\\ude00"}', max_bytes=LIMIT) == {"a": "😀"}

    @pytest.mark.parametrize("raw", [b'{"a": "x\\u0000y"}', b'{"a\\u0000": 1}'])
    def test_nul_is_invalid_text(self, raw):
        assert refusal(raw).reason is R.INVALID_TEXT


class TestNumbers:
    @pytest.mark.parametrize("literal", [b"NaN", b"Infinity", b"-Infinity"])
    def test_non_json_constants_are_invalid_json(self, literal):
        error = refusal(b'{"a": ' + literal + b"}")
        assert error.reason is R.INVALID_JSON
        assert literal.decode() in error.detail

    @pytest.mark.parametrize("literal", [b"1e400", b"-1e309", b"1" * 50 + b".5"])
    def test_numbers_beyond_a_double_or_too_long_are_out_of_range(self, literal):
        assert refusal(b'{"a": ' + literal + b"}").reason is R.NUMBER_OUT_OF_RANGE

    @pytest.mark.parametrize("value", [INT64_MAX + 1, INT64_MIN - 1, 10**19, -(10**19)])
    def test_integers_just_outside_64_bits_are_out_of_range(self, value):
        assert refusal(b'{"a": %d}' % value).reason is R.NUMBER_OUT_OF_RANGE

    @pytest.mark.parametrize("value", [INT64_MAX, INT64_MIN, 0, -1])
    def test_integers_inside_64_bits_are_kept_exactly(self, value):
        assert decode_json_object(b'{"a": %d}' % value, max_bytes=LIMIT) == {"a": value}

    def test_a_tiny_number_underflows_to_zero_as_json_allows(self):
        assert decode_json_object(b'{"a": 1e-400}', max_bytes=LIMIT) == {"a": 0.0}


class TestStructure:
    def test_exactly_the_deepest_nesting_allowed_passes(self):
        assert decode_json_object(nested(MAX_DEPTH), max_bytes=LIMIT)
        assert refusal(nested(MAX_DEPTH + 1)).reason is R.TOO_DEEP

    def test_brackets_inside_strings_do_not_count(self):
        raw = json.dumps({"a": "[" * 500 + '\\"{' * 100}).encode()
        assert decode_json_object(raw, max_bytes=LIMIT)["a"].startswith("[[[")

    @pytest.mark.parametrize("raw", [b'{"a": 1, "a": 2}', b'{"x": [{"b": 1, "b": 1}]}'])
    def test_a_duplicate_key_is_refused_since_parsers_disagree_on_its_value(self, raw):
        error = refusal(raw)
        assert error.reason is R.DUPLICATE_KEY

    @pytest.mark.parametrize("raw", [b"[]", b"1", b'"text"', b"null", b"true"])
    def test_anything_but_an_object_is_a_schema_violation(self, raw):
        assert refusal(raw).reason is R.SCHEMA_VIOLATION

    @pytest.mark.parametrize("raw", [b"", b"{", b"\xef\xbb\xbf{}", b'{"a": 1} x', b"{'a': 1}"])
    def test_broken_json_names_the_decoder_error(self, raw):
        error = refusal(raw)
        assert error.reason is R.INVALID_JSON
        assert error.exception == "json.decoder.JSONDecodeError"

    def test_an_unterminated_string_is_invalid_json_not_too_deep(self):
        assert refusal(b'{"a": "' + b"[" * 100).reason is R.INVALID_JSON


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers(INT64_MIN, INT64_MAX) | st.text(max_size=5),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=3), inner),
    max_leaves=40,
)


def depth_of(value: object) -> int:
    if isinstance(value, list):
        return 1 + max((depth_of(v) for v in value), default=0)
    if isinstance(value, dict):
        return 1 + max((depth_of(v) for v in value.values()), default=0)
    return 0


@given(JSON_VALUES, st.booleans())
def test_the_depth_scan_agrees_with_the_parsed_value(value, ascii_only):
    """Property: on any JSON text, the scan measures the nesting the parser builds."""
    text = json.dumps(value, ensure_ascii=ascii_only)
    assert nesting_depth(text) == depth_of(value)


@given(st.text(alphabet='[]{}"\\ab:,', max_size=60))
def test_the_depth_scan_never_underestimates_what_the_parser_reaches(text):
    """Property: on any text the parser accepts, the scan is exact; it never reports less."""
    try:
        value = json.loads(text)
    except ValueError:
        return
    assert nesting_depth(text) == depth_of(value)
