"""The conversation of each form, scripted for operators: CLI and the preview page's messages."""

from __future__ import annotations

import json
import os
import unicodedata
from datetime import date

import pytest
from typer.testing import CliRunner

from bridge.cli.main import cli
from bridge.submissions import SubmissionSettings, load_forms
from bridge.submissions.preview import conversation, submission_messages

CATALOGUE = load_forms(SubmissionSettings())
TODAY = date(2026, 3, 10)


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch):
    for name in list(os.environ):
        if name.startswith("BRIDGE_"):
            monkeypatch.delenv(name)


@pytest.mark.parametrize("form", CATALOGUE.forms, ids=lambda form: form.code)
def test_each_form_is_filed_to_the_end_with_one_correction(form):
    said = conversation(CATALOGUE, form, today=TODAY)
    replies = [text for who, text in said if who == "oa"]
    assert sum(text.startswith("❗") for text in replies) == 1
    assert any(f"({len(form.fields)}/{len(form.fields)})" in text for text in replies)
    assert any(text.startswith(f"Hồ sơ «{form.name}»") for text in replies)
    assert said[-1] == ("oa", "(Mã nộp hồ sơ được gửi kèm khi hồ sơ tới Trung tâm.)")
    assert all(unicodedata.is_normalized("NFC", text) for _, text in said)
    assert not any("001203004567" in text for who, text in said if who == "oa")


def test_the_page_shows_the_oa_side_for_a_procedure_with_a_form_only():
    messages = submission_messages(CATALOGUE, TODAY)
    birth = messages("1.001193", "Đăng ký khai sinh")
    assert birth[0]["label"] == "Nộp hồ sơ: bước 1"
    assert "1. Đăng ký khai sinh" in birth[0]["text"]
    assert messages("9.999999", "Khác") == []


def test_the_command_prints_one_form_or_refuses_an_unknown_code():
    result = CliRunner().invoke(cli, ["submissions", "preview", "1.001193"])
    assert result.exit_code == 0, result.output
    assert result.output.startswith("=== 1.001193 Đăng ký khai sinh\n[Công dân] NOP HO SO\n")
    assert "[OA] ❗" in result.output
    as_json = CliRunner().invoke(cli, ["submissions", "preview", "--json"])
    assert as_json.exit_code == 0, as_json.output
    [birth, business] = json.loads(as_json.output)
    assert (birth["code"], business["code"]) == ("1.001193", "1.004616")
    assert birth["conversation"][0] == {"who": "citizen", "text": "NOP HO SO"}
    missing = CliRunner().invoke(cli, ["submissions", "preview", "9.999999"])
    assert missing.exit_code == 1
    assert "no form for procedure 9.999999" in missing.output
