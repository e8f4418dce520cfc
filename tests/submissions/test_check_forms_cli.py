"""`zalo-bridge submissions check-forms`: the forms checked as at start, exit 1 when invalid."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bridge.cli.main import cli

EXAMPLES = Path(__file__).parents[2] / "examples" / "submissions"


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch):
    for name in list(os.environ):
        if name.startswith("BRIDGE_"):
            monkeypatch.delenv(name)


def test_the_package_forms_and_the_example_province_are_valid():
    result = CliRunner().invoke(cli, ["submissions", "check-forms"])
    assert result.exit_code == 0, result.output
    assert "1.001193  Đăng ký khai sinh  (package:form-1.001193.yaml)" in result.output
    result = CliRunner().invoke(
        cli, ["submissions", "check-forms", str(EXAMPLES / "da-nang"), "--json"]
    )
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["valid"] is True
    assert [form["code"] for form in report["forms"]] == ["1.001193"]


def test_an_invalid_directory_exits_1_naming_file_form_and_field(tmp_path):
    (tmp_path / "form-1.001193.yaml").write_text(
        (EXAMPLES / "da-nang" / "form-1.001193.yaml")
        .read_text(encoding="utf-8")
        .replace("kind: citizen_id", "kind: passport"),
        encoding="utf-8",
    )
    result = CliRunner().invoke(cli, ["submissions", "check-forms", str(tmp_path)])
    assert result.exit_code == 1
    assert (
        f"{tmp_path}/form-1.001193.yaml: form 1.001193, field applicant_citizen_id.kind:"
        in result.output
    )
    result = CliRunner().invoke(cli, ["submissions", "check-forms", str(tmp_path), "--json"])
    assert result.exit_code == 1
    assert json.loads(result.stdout.splitlines()[0])["valid"] is False
