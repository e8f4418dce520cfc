"""The command line: settings errors exit 2 with the setting's name; schemas can be checked."""

from __future__ import annotations

import json
import os
import sqlite3

import pytest
from typer.testing import CliRunner

from bridge.cli.main import cli

runner = CliRunner()


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch):
    for name in list(os.environ):
        if name.startswith(("BRIDGE_", "KAFKA_")):
            monkeypatch.delenv(name)


def test_check_config_prints_the_settings_without_secrets(monkeypatch):
    monkeypatch.setenv("BRIDGE_ZALO__ACCESS_TOKEN", "very-secret")
    result = runner.invoke(cli, ["check-config"])
    assert result.exit_code == 0
    printed = json.loads(result.stdout)
    assert printed["kafka"]["input_topic"] == "case-state-events"
    assert "very-secret" not in result.stdout


def test_invalid_settings_exit_2_naming_the_variable(monkeypatch):
    monkeypatch.setenv("BRIDGE_KAFKA__CONSUMERS", "-1")
    result = runner.invoke(cli, ["check-config"])
    assert result.exit_code == 2
    assert "BRIDGE_KAFKA__CONSUMERS" in result.output


def test_schemas_check_fails_on_a_stale_directory(tmp_path):
    assert runner.invoke(cli, ["schemas", "export", str(tmp_path), "--check"]).exit_code == 1
    assert runner.invoke(cli, ["schemas", "export", str(tmp_path)]).exit_code == 0
    assert runner.invoke(cli, ["schemas", "export", str(tmp_path), "--check"]).exit_code == 0


def test_db_upgrade_creates_the_ledger_schema(tmp_path, monkeypatch):
    path = tmp_path / "ledger.sqlite3"
    monkeypatch.setenv("BRIDGE_STORE__URL", f"sqlite:///{path}")
    result = runner.invoke(cli, ["db", "upgrade"])
    assert result.exit_code == 0, result.output
    tables = {row[0] for row in sqlite3.connect(path).execute("SELECT name FROM sqlite_master")}
    assert {"deliveries", "cases", "alembic_version"} <= tables
