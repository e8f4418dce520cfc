"""Forms per procedure: the package's, a province's over them, every problem named."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from bridge.errors import ConfigurationError
from bridge.settings import load_settings
from bridge.submissions import FormError, SubmissionSettings, check_forms, load_forms

EXAMPLES = Path(__file__).parents[2] / "examples" / "submissions"
LIMIT = SubmissionSettings().max_attachment_bytes

GOOD = """\
code: "2.000001"
name: Cấp bản sao trích lục
fields:
  - key: full_name
    kind: text
    label: Họ tên
    prompt: Xin cho biết họ tên.
documents:
  - key: id_card
    label: Căn cước
    prompt: Xin gửi ảnh căn cước.
    accepted: [image/jpeg]
"""


def write(directory: Path, name: str, text: str) -> Path:
    path = directory / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def test_the_package_offers_birth_and_household_business_registration():
    catalogue = load_forms(SubmissionSettings())
    assert [form.code for form in catalogue.forms] == ["1.001193", "1.004616"]
    birth = catalogue.forms[0]
    kinds = {spec.kind for spec in birth.fields}
    assert kinds == {"text", "date", "choice", "address", "citizen_id", "phone"}
    assert {spec.kind for spec in catalogue.forms[1].fields} >= {"number"}
    assert [spec.key for spec in birth.documents if spec.required] == [
        "birth_certificate",
        "applicant_id_card",
    ]
    assert catalogue.choose("1") is birth
    assert catalogue.choose(" 1.004616 ") is catalogue.forms[1]
    assert catalogue.choose("3") is None
    assert catalogue.choose("0") is None


def test_the_example_province_replaces_one_form_and_withdraws_the_other():
    settings = SubmissionSettings(forms_directory=EXAMPLES / "da-nang")
    catalogue = load_forms(settings)
    assert [form.code for form in catalogue.forms] == ["1.001193"]
    assert catalogue.sources["1.001193"].endswith("da-nang/form-1.001193.yaml")
    assert "residence_proof" in {spec.key for spec in catalogue.forms[0].documents}


def test_a_province_adds_a_form_listed_by_its_order(tmp_path):
    write(tmp_path, "form-2.000001.yaml", GOOD + "order: 5\n")
    catalogue = load_forms(SubmissionSettings(forms_directory=tmp_path))
    assert [form.code for form in catalogue.forms] == ["2.000001", "1.001193", "1.004616"]


@pytest.mark.parametrize(
    ("replace", "by", "field", "problem"),
    [
        ("kind: text", "kind: colour", "field full_name.kind", "Input should be"),
        ("    prompt: Xin cho biết họ tên.\n", "", "field full_name.prompt", "Field required"),
        ("kind: text", "kind: choice", "field full_name", "at least two choices"),
        ("accepted: [image/jpeg]", "accepted: [text/html]", "document id_card", "text/html"),
        ("key: id_card", "key: full_name", "(form)", "repeated field or document keys"),
        ('code: "2.000001"', 'code: "2.000002"', "code", "differs from the file's name"),
        (
            "    label: Căn cước\n",
            "    label: Căn cước\n    max_bytes: 999999999\n",
            "document id_card.max_bytes",
            "above submissions.max_attachment_bytes",
        ),
    ],
)
def test_each_problem_names_the_file_the_form_and_the_field(tmp_path, replace, by, field, problem):
    assert replace in GOOD
    path = write(tmp_path, "form-2.000001.yaml", GOOD.replace(replace, by))
    _, problems = check_forms(tmp_path, max_attachment_bytes=LIMIT)
    assert problems, "the broken form was accepted"
    assert any(
        p.file == str(path) and p.form == "2.000001" and field in p.field and problem in p.problem
        for p in problems
    ), [str(p) for p in problems]
    with pytest.raises(FormError) as refused:
        load_forms(SubmissionSettings(forms_directory=tmp_path))
    assert str(path) in str(refused.value)
    assert isinstance(refused.value, ConfigurationError)


def test_every_broken_file_is_reported_at_once(tmp_path):
    write(tmp_path, "form-a.yaml", "code: [unclosed\n")
    write(tmp_path, "form-b.yaml", "- a list\n")
    write(tmp_path, "notes.txt", "hello\n")
    write(tmp_path, ".hidden", "ignored\n")
    (tmp_path / "..data").mkdir()
    _, problems = check_forms(tmp_path, max_attachment_bytes=LIMIT)
    assert sorted((Path(p.file).name, p.problem.split(";")[0][:20]) for p in problems) == [
        ("form-a.yaml", "not valid YAML: whil"),
        ("form-b.yaml", "expected a mapping"),
        ("notes.txt", "unexpected"),
    ]


def test_withdrawing_every_form_is_a_problem(tmp_path):
    for code in ("1.001193", "1.004616"):
        write(
            tmp_path,
            f"form-{code}.yaml",
            GOOD.replace('"2.000001"', f'"{code}"') + "enabled: false\n",
        )
    _, problems = check_forms(tmp_path, max_attachment_bytes=LIMIT)
    assert [p.problem for p in problems] == ["no form is enabled"]


def test_a_lower_attachment_limit_is_checked_against_the_package_forms():
    _, problems = check_forms(None, max_attachment_bytes=5 * 1024 * 1024)
    assert {(p.form, p.field) for p in problems} >= {
        ("1.001193", "document birth_certificate.max_bytes")
    }


def test_the_service_refuses_to_start_with_invalid_forms(tmp_path, monkeypatch):
    for name in ("BRIDGE_CONFIG_FILE",):
        monkeypatch.delenv(name, raising=False)
    from bridge.app import create_app  # noqa: PLC0415 - the app only where it is started

    write(tmp_path, "form-2.000001.yaml", GOOD.replace("kind: text", "kind: colour"))
    settings = load_settings(
        submissions={"enabled": True, "forms_directory": str(tmp_path)},
        webhook={"oa_secret_key": "dev-oa-secret-key"},
    )
    with pytest.raises(FormError, match=r"form 2\.000001, field full_name\.kind"):
        create_app(settings)


def test_submissions_need_the_webhook_and_their_own_topic():
    with pytest.raises(ConfigurationError, match=r"submissions\.enabled, webhook\.oa_secret_key"):
        load_settings(submissions={"enabled": True})
    with pytest.raises(ConfigurationError, match=r"submissions\.topic"):
        load_settings(
            submissions={"enabled": True, "topic": "case-state-events.status"},
            webhook={"oa_secret_key": "dev-oa-secret-key"},
        )
