"""Every command that prints data takes --json; the version; one exit-code table for all."""

from __future__ import annotations

import json
import os
from importlib.metadata import version
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from bridge import __version__
from bridge.cli.main import cli
from bridge.cli.output import ExitCode

runner = CliRunner()

# Commands that print nothing worth parsing: the live server, the preview page, the consent
# flow (it prompts), and the key generator (one secret value).
NO_DATA = {"run", "preview", "zalo authorize", "zalo token generate-key"}


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch, tmp_path):
    for name in list(os.environ):
        if name.startswith(("BRIDGE_", "KAFKA_")):
            monkeypatch.delenv(name)
    monkeypatch.setenv("BRIDGE_STORE__URL", f"sqlite:///{tmp_path / 'bridge.sqlite3'}")


def _commands(group, prefix: str = "") -> dict:
    found: dict = {}
    for name, command in group.commands.items():
        path = f"{prefix}{name}"
        if hasattr(command, "commands"):  # a group (typer vendors its own click)
            found.update(_commands(command, f"{path} "))
        else:
            found[path] = command
    return found


def test_the_version_is_the_package_s():
    result = runner.invoke(cli, ["--version"])
    assert result.exit_code == 0
    assert result.stdout.strip() == f"zalo-bridge {__version__}"
    assert version("zalo-bridge") == __version__


def test_every_command_that_prints_data_takes_json():
    commands = _commands(typer.main.get_command(cli))
    assert set(commands) >= NO_DATA
    missing = sorted(
        path
        for path, command in commands.items()
        if path not in NO_DATA
        and not any("--json" in getattr(p, "opts", ()) for p in command.params)
    )
    assert missing == []


def test_check_config_json_is_one_document():
    result = runner.invoke(cli, ["check-config", "--json"])
    assert result.exit_code == ExitCode.OK
    assert json.loads(result.stdout)["kafka"]["input_topic"] == "case-state-events"
    assert result.stdout.count("\n") == 1


def test_templates_check_json_says_valid_or_why_not(tmp_path):
    defaults = Path(__file__).resolve().parents[2] / "src/bridge/templates/defaults"
    good = runner.invoke(cli, ["templates", "check", str(defaults), "--json"])
    assert good.exit_code == ExitCode.OK
    assert json.loads(good.stdout)["valid"] is True
    (tmp_path / "messages.yaml").write_text("states: {RECEIVED: {text: '{{ nope }'}}\n", "utf-8")
    bad = runner.invoke(cli, ["templates", "check", str(tmp_path), "--json"])
    assert bad.exit_code == ExitCode.FAILED
    answer = json.loads(bad.stdout)
    assert answer["valid"] is False
    assert answer["error"]


def test_schema_checks_in_json_name_the_stale_files(tmp_path):
    stale = runner.invoke(cli, ["schemas", "export", str(tmp_path), "--check", "--json"])
    assert stale.exit_code == ExitCode.FAILED
    assert len(json.loads(stale.stdout)["stale"]) >= 3
    written = runner.invoke(cli, ["schemas", "export", str(tmp_path), "--json"])
    assert written.exit_code == ExitCode.OK
    assert len(json.loads(written.stdout)["written"]) >= 3
    fresh = runner.invoke(cli, ["schemas", "export", str(tmp_path), "--check", "--json"])
    assert (fresh.exit_code, json.loads(fresh.stdout)) == (ExitCode.OK, {"stale": []})
    document = tmp_path / "asyncapi.yaml"
    assert runner.invoke(cli, ["schemas", "asyncapi", str(document), "--check"]).exit_code == 1
    assert runner.invoke(cli, ["schemas", "asyncapi", str(document)]).exit_code == 0
    assert runner.invoke(cli, ["schemas", "asyncapi", str(document), "--check"]).exit_code == 0


def test_qr_json_gives_link_and_secret(tmp_path, monkeypatch):
    monkeypatch.setenv("BRIDGE_WEBHOOK__OA_ID", "1234567890")
    monkeypatch.setenv("BRIDGE_LINKING__HMAC_KEY", "k" * 32)
    out = tmp_path / "qr.png"
    result = runner.invoke(cli, ["qr", "000.20.31.H56-261129-0042", "--out", str(out), "--json"])
    assert result.exit_code == ExitCode.OK, result.output
    answer = json.loads(result.stdout)
    assert answer["image"] == str(out)
    assert out.read_bytes().startswith(b"\x89PNG")
    assert len(answer["secret"]) == 6
    assert answer["message"] == f"000.20.31.H56-261129-0042 {answer['secret']}"


@pytest.mark.parametrize(
    ("arguments", "expected"),
    [
        (["--no-such-option"], ExitCode.USAGE),
        (["qr", "not a code", "--json"], ExitCode.USAGE),
        (["forget", "not-digits", "--json"], ExitCode.USAGE),
        (["unlock", "bad code", "--json"], ExitCode.USAGE),
        (["announce", "status", "not-a-uuid", "--json"], ExitCode.USAGE),
        (["dlq", "list", "--since", "yesterday-ish", "--json"], ExitCode.USAGE),
        (["templates", "check", "/nonexistent", "--json"], ExitCode.USAGE),
    ],
)
def test_bad_invocations_exit_2(arguments, expected):
    assert runner.invoke(cli, arguments).exit_code == expected


def test_settings_that_do_not_load_exit_2_for_every_data_command(monkeypatch):
    monkeypatch.setenv("BRIDGE_KAFKA__INPUT_TOPIC", "")
    for arguments in (["check-config", "--json"], ["purge", "--json"], ["dlq", "list", "--json"]):
        assert runner.invoke(cli, arguments).exit_code == ExitCode.USAGE, arguments


def test_a_missing_answer_exits_1():
    unknown = "2f1b5f8e-0000-4000-8000-000000000000"
    result = runner.invoke(cli, ["announce", "status", unknown, "--json"])
    assert result.exit_code == ExitCode.FAILED
