"""The survey's settings (checked alone and against the others) and `zalo-bridge feedback`."""

from __future__ import annotations

import asyncio
import json
import os
from datetime import UTC, datetime

import pytest
from typer.testing import CliRunner

from bridge.cli.main import cli
from bridge.errors import ConfigurationError
from bridge.feedback import FeedbackSettings, SurveyStore
from bridge.feedback.store import PlannedSurvey
from bridge.settings import load_settings
from bridge.store.database import open_database
from bridge.store.migrate import upgrade_sync

SECRET = "dev-oa-secret-key"


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch):
    for name in list(os.environ):
        if name.startswith("BRIDGE_"):
            monkeypatch.delenv(name)


def test_unknown_final_states_and_question_fields_are_refused():
    with pytest.raises(ValueError, match="not case states: CLOSED_FOREVER"):
        FeedbackSettings(final_states=("CLOSED_FOREVER",))
    with pytest.raises(ValueError, match="only"):
        FeedbackSettings(question="Hồ sơ {ma_ho_so}?")


def test_the_survey_needs_the_webhook_and_a_pseudonym_key():
    with pytest.raises(ConfigurationError) as refused:
        load_settings(feedback={"enabled": True})
    message = str(refused.value)
    assert "feedback.enabled, webhook.oa_secret_key" in message
    assert "feedback.pseudonym_key, linking.hmac_key" in message
    settings = load_settings(
        feedback={"enabled": True},
        webhook={"oa_secret_key": SECRET},
        linking={"hmac_key": "a-key-long-enough"},
    )
    assert settings.feedback.enabled


def test_the_feedback_topic_must_be_its_own():
    with pytest.raises(ConfigurationError, match=r"feedback\.topic"):
        load_settings(
            feedback={"enabled": True, "topic": "case-state-events.status"},
            webhook={"oa_secret_key": SECRET},
            linking={"hmac_key": "a-key-long-enough"},
        )


def test_the_report_prints_json_and_csv_from_the_store(tmp_path, monkeypatch):
    url = f"sqlite:///{tmp_path / 'bridge.sqlite3'}"
    upgrade_sync(url)
    now = datetime(2026, 12, 5, 5, 0, tzinfo=UTC).timestamp()  # 12:00 on 5/12 in Vietnam

    async def fill() -> None:
        database = open_database(url)
        store = SurveyStore(database)
        try:
            planned = [
                PlannedSurvey(
                    case_code=f"000.20.31.H56-261205-000{n}",
                    user_id=f"77000000000000{n}",
                    province="thanh-hoa",
                    final_state="RESULT_RETURNED",
                    procedure_code="1.001193",
                    procedure_name="Đăng ký khai sinh",
                    agency_code="000.20.31.H56",
                    agency_name="Trung tâm Phục vụ hành chính công",
                    department="Tư pháp - Hộ tịch",
                )
                for n in range(3)
            ]
            await store.plan(planned, now=now, due_at=now)
            claimed = await store.claim_due(now=now, owner="r", lease=60, limit=10)
            for survey, score in zip(claimed, (5, 2, None), strict=True):
                await store.asked(survey, at=now)
                if score is not None:
                    [again] = [
                        s
                        for s in await store.between(0, now + 1)
                        if s.case_code == survey.case_code
                    ]
                    await store.answer(again, score=score, at=now, comment_until=None)
        finally:
            await database.dispose()

    asyncio.run(fill())
    monkeypatch.setenv("BRIDGE_STORE__URL", url)
    day = "2026-12-05"
    runner = CliRunner()
    csv_file = tmp_path / "report.csv"
    result = runner.invoke(
        cli,
        [
            *("feedback", "report", "--from", "2000-01-01", "--to", "2100-01-01"),
            *("--json", "--csv", str(csv_file)),
        ],
    )
    assert result.exit_code == 0, result.output
    document = json.loads(result.output)
    [agency] = [r for r in document["rows"] if r["scope"] == "agency"]
    assert (agency["asked"], agency["answered"], agency["mean_score"]) == (3, 2, 3.5)
    assert agency["unsatisfied_share"] == 0.5
    assert agency["response_rate"] == round(2 / 3, 4)
    assert csv_file.read_text(encoding="utf-8").count("\n") == 1 + len(document["rows"])
    plain = runner.invoke(cli, ["feedback", "report", "--from", day, "--to", day])
    assert plain.exit_code == 0, plain.output
    assert "Trung tâm Phục vụ hành chính công" in plain.output
    backwards = runner.invoke(cli, ["feedback", "report", "--from", day, "--to", "2000-01-01"])
    assert backwards.exit_code == 2
