"""The citizen-submission.v1 contract, its ids, and submission_id on the case-state event."""

from __future__ import annotations

import json
import re
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bridge.errors import InvalidEventError
from bridge.events import parse_event
from bridge.submissions.contract import (
    SUBMISSION_ID_PATTERN,
    CitizenSubmission,
    new_submission_id,
)

SCHEMAS = Path(__file__).parents[2] / "schemas"
LIMIT = 1_000_000
SHA = "a" * 64


def submission() -> CitizenSubmission:
    at = datetime(2026, 3, 10, 2, 0, tzinfo=UTC)
    return CitizenSubmission.model_validate(
        {
            "submission_id": "HS-20260310ABCD1234",
            "province": "da-nang",
            "procedure_code": "1.001193",
            "procedure_name": "Đăng ký khai sinh",
            "citizen": {
                "zalo_user_id": "2512523625412515",
                "consent": {"given_at": at, "text": "Đồng ý."},
            },
            "fields": {"child_full_name": "Nguyễn An", "employees": 3, "note": None},
            "attachments": [
                {
                    "document": "birth_certificate",
                    "document_label": "Giấy chứng sinh",
                    "object_key": "submissions/HS-20260310ABCD1234/birth_certificate-1.jpg",
                    "sha256": SHA,
                    "content_type": "image/jpeg",
                    "size": 1234,
                }
            ],
            "started_at": at,
            "submitted_at": at,
        }
    )


def test_an_event_matches_the_published_schema():
    schema = json.loads((SCHEMAS / "citizen-submission.v1.json").read_text(encoding="utf-8"))
    document = json.loads(submission().model_dump_json())
    assert set(schema["required"]) <= set(document)
    assert set(document) <= set(schema["properties"])
    assert CitizenSubmission.model_validate(document) == submission()
    assert document["attachments"][0]["url"] is None  # no bytes, a reference
    with pytest.raises(ValueError, match="sha256"):
        CitizenSubmission.model_validate(
            {**document, "attachments": [{**document["attachments"][0], "sha256": "xyz"}]}
        )


@given(st.dates(min_value=date(2000, 1, 1), max_value=date(2099, 12, 31)))
def test_new_ids_match_the_pattern_and_carry_the_day(day):
    made = new_submission_id(day)
    assert re.fullmatch(SUBMISSION_ID_PATTERN, made)
    assert made.startswith(f"HS-{day:%Y%m%d}")
    assert not set(made[11:]) & set("ILOU")


def test_the_case_event_carries_an_optional_submission_id(make_event, encode):
    plain = parse_event(encode(make_event()), max_bytes=LIMIT)
    assert plain.submission_id is None
    filed = parse_event(encode(make_event(submission_id="HS-20260310ABCD1234")), max_bytes=LIMIT)
    assert filed.submission_id == "HS-20260310ABCD1234"
    with pytest.raises(InvalidEventError):
        parse_event(encode(make_event(submission_id="'; DROP TABLE")), max_bytes=LIMIT)
