"""``zalo-bridge zalo``: tokens imported from a hidden prompt, status without secrets, rekey."""

from __future__ import annotations

import json
import os
from urllib.parse import parse_qs, urlsplit

import pytest
from typer.testing import CliRunner

from bridge.cli.main import cli
from bridge.zalo.oauth import challenge_of
from bridge.zalo.token_cipher import new_key

runner = CliRunner()
OA = "1646843870823903717"


@pytest.fixture(autouse=True)
def managed_settings(monkeypatch, tmp_path):
    for name in list(os.environ):
        if name.startswith(("BRIDGE_", "KAFKA_", "ZALO_")):
            monkeypatch.delenv(name)
    key = new_key()
    monkeypatch.setenv("BRIDGE_STORE__URL", f"sqlite:///{tmp_path / 'bridge.sqlite3'}")
    monkeypatch.setenv("BRIDGE_ZALO__TOKEN_ENCRYPTION_KEY", key)
    monkeypatch.setenv("BRIDGE_ZALO__APP_ID", "3066521851012345678")
    monkeypatch.setenv("BRIDGE_ZALO__APP_SECRET", "app-secret")
    monkeypatch.setenv("BRIDGE_ZALO__OA_ID", OA)
    return key


def test_import_reads_hidden_prompts_and_status_never_prints_tokens():
    result = runner.invoke(
        cli, ["zalo", "token", "import", "--expires-in", "3600"], input="acc-secret\nref-secret\n"
    )
    assert result.exit_code == 0, result.output
    assert "acc-secret" not in result.output
    assert "ref-secret" not in result.output
    status = runner.invoke(cli, ["zalo", "token", "status"])
    assert status.exit_code == 0, status.output
    shown = json.loads(status.stdout)
    assert shown["oa_id"] == OA
    assert shown["generation"] == 1
    assert shown["source"] == "import"
    assert 3590 <= shown["access_expires_in_s"] <= 3600
    assert "secret" not in status.stdout


def test_import_refuses_empty_tokens(monkeypatch):
    monkeypatch.setenv("ZALO_ACCESS_TOKEN", " ")
    monkeypatch.setenv("ZALO_REFRESH_TOKEN", "r")
    result = runner.invoke(cli, ["zalo", "token", "import"])
    assert result.exit_code == 2
    assert runner.invoke(cli, ["zalo", "token", "status"]).exit_code == 1


def test_rekey_moves_the_tokens_to_the_new_key(monkeypatch, managed_settings):
    monkeypatch.setenv("ZALO_ACCESS_TOKEN", "a")
    monkeypatch.setenv("ZALO_REFRESH_TOKEN", "r")
    assert runner.invoke(cli, ["zalo", "token", "import"]).exit_code == 0
    newer = runner.invoke(cli, ["zalo", "token", "generate-key"]).stdout.strip()
    monkeypatch.setenv("BRIDGE_ZALO__TOKEN_ENCRYPTION_KEY", f"{newer},{managed_settings}")
    result = runner.invoke(cli, ["zalo", "token", "rekey"])
    assert result.exit_code == 0, result.output
    assert "1 token pair" in result.stdout
    monkeypatch.setenv("BRIDGE_ZALO__TOKEN_ENCRYPTION_KEY", newer)
    assert runner.invoke(cli, ["zalo", "token", "status"]).exit_code == 0
    monkeypatch.setenv("BRIDGE_ZALO__TOKEN_ENCRYPTION_KEY", managed_settings)
    failed = runner.invoke(cli, ["zalo", "token", "status"])
    assert failed.exit_code == 1
    assert "cannot decrypt" in failed.output


def test_without_managed_tokens_the_commands_explain_what_is_missing(monkeypatch):
    monkeypatch.delenv("BRIDGE_ZALO__TOKEN_ENCRYPTION_KEY")
    result = runner.invoke(cli, ["zalo", "token", "status"])
    assert result.exit_code == 2
    assert "token_encryption_key" in result.output


def test_incomplete_managed_settings_are_refused(monkeypatch):
    monkeypatch.delenv("BRIDGE_ZALO__APP_SECRET")
    result = runner.invoke(cli, ["zalo", "token", "status"])
    assert result.exit_code == 2
    assert "app_secret" in result.output


def test_authorize_no_wait_prints_a_pkce_consent_url_and_its_verifier():
    result = runner.invoke(
        cli, ["zalo", "authorize", "--redirect-uri", "https://b.example/cb", "--no-wait"]
    )
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    url = next(line for line in lines if line.startswith("https://"))
    verifier = next(line for line in lines if line.startswith("code_verifier: ")).split()[-1]
    parts = urlsplit(url)
    assert (parts.netloc, parts.path) == ("oauth.zaloapp.com", "/v4/oa/permission")
    query = {k: v[0] for k, v in parse_qs(parts.query).items()}
    assert query["app_id"] == "3066521851012345678"
    assert query["redirect_uri"] == "https://b.example/cb"
    assert query["code_challenge"] == challenge_of(verifier)
    assert query["state"]


def test_authorize_needs_a_redirect_uri():
    assert runner.invoke(cli, ["zalo", "authorize"]).exit_code == 2


def test_a_code_without_its_verifier_is_refused():
    assert runner.invoke(cli, ["zalo", "authorize", "--code", "abc"]).exit_code == 2
