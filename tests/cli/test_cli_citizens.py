"""``zalo-bridge qr`` (the receipt's QR code and secret), ``purge``, ``forget``, ``unlock``."""

from __future__ import annotations

import asyncio
import json
import os
import time

import pytest
from typer.testing import CliRunner

from bridge.citizens.link_guard import LockPolicy
from bridge.citizens.second_factor import receipt_secret
from bridge.citizens.store import CitizenStore
from bridge.cli.main import cli

runner = CliRunner()
CODE = "000.20.31.H56-260310-0042"
OA_ID = "1646843870823903717"


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch):
    for name in list(os.environ):
        if name.startswith(("BRIDGE_", "KAFKA_")):
            monkeypatch.delenv(name)
    monkeypatch.setenv("BRIDGE_WEBHOOK__OA_ID", OA_ID)
    monkeypatch.setenv("BRIDGE_LINKING__HMAC_KEY", "cli-key")


class TestQr:
    def test_png_with_link_and_secret(self, tmp_path):
        out = tmp_path / "receipt.png"
        result = runner.invoke(cli, ["qr", CODE.lower(), "--out", str(out)])
        assert result.exit_code == 0, result.output
        assert out.read_bytes().startswith(b"\x89PNG")
        secret = receipt_secret("cli-key", CODE)
        assert f"Link: https://zalo.me/{OA_ID}" in result.stdout
        assert f"Mã bí mật: {secret}" in result.stdout
        assert f"Nhắn vào Zalo OA: {CODE} {secret}" in result.stdout

    def test_svg_and_a_link_template_with_the_code(self, tmp_path, monkeypatch):
        monkeypatch.setenv(
            "BRIDGE_LINKING__QR_URL_TEMPLATE", "https://zalo.me/{oa_id}?ma={case_code}"
        )
        monkeypatch.chdir(tmp_path)
        result = runner.invoke(cli, ["qr", CODE, "--format", "svg"])
        assert result.exit_code == 0, result.output
        assert (tmp_path / f"{CODE}.svg").read_text().startswith("<?xml")
        assert f"?ma={CODE}" in result.stdout

    def test_phone_digits_factor_prints_no_secret(self, tmp_path, monkeypatch):
        monkeypatch.setenv("BRIDGE_LINKING__SECOND_FACTOR", "phone_last4")
        result = runner.invoke(cli, ["qr", CODE, "--out", str(tmp_path / "q.png")])
        assert result.exit_code == 0, result.output
        assert "Mã bí mật" not in result.stdout
        assert "4 số cuối điện thoại" in result.stdout

    def test_not_a_code(self, tmp_path):
        result = runner.invoke(cli, ["qr", "x y", "--out", str(tmp_path / "q.png")])
        assert result.exit_code == 2

    def test_without_oa_id(self, tmp_path, monkeypatch):
        monkeypatch.delenv("BRIDGE_WEBHOOK__OA_ID")
        result = runner.invoke(cli, ["qr", CODE, "--out", str(tmp_path / "q.png")])
        assert result.exit_code == 2
        assert "BRIDGE_WEBHOOK__OA_ID" in result.output


def test_purge_prints_the_counts(tmp_path, monkeypatch):
    monkeypatch.setenv("BRIDGE_STORE__URL", f"sqlite:///{tmp_path / 'b.sqlite3'}")
    result = runner.invoke(cli, ["purge"])
    assert result.exit_code == 0, result.output
    counts = json.loads(result.stdout.strip().splitlines()[-1])
    assert counts["links"] == 0
    assert set(counts) >= {"links", "citizens", "deliveries", "receipts", "webhook_events"}


def test_forget_deletes_a_users_rows(tmp_path, monkeypatch):
    monkeypatch.setenv("BRIDGE_STORE__URL", f"sqlite:///{tmp_path / 'b.sqlite3'}")
    result = runner.invoke(cli, ["forget", "2512523625412515"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout.strip().splitlines()[-1]) == {"deleted_rows": 0}
    assert runner.invoke(cli, ["forget", "abc"]).exit_code == 2


def test_unlock_lifts_a_dossiers_lock(tmp_path, monkeypatch):
    url = f"sqlite:///{tmp_path / 'b.sqlite3'}"
    monkeypatch.setenv("BRIDGE_STORE__URL", url)
    code = CODE

    async def lock():
        store = await CitizenStore.open(url)
        try:
            for _ in range(2):
                await store.spend_guess(code, now=time.time(), policy=LockPolicy(threshold=2))
        finally:
            await store.close()

    asyncio.run(lock())
    result = runner.invoke(cli, ["unlock", code.lower()])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout.strip().splitlines()[-1]) == {
        "case_code": code,
        "was_locked": True,
        "cleared": True,
    }
    again = runner.invoke(cli, ["unlock", code])
    assert json.loads(again.stdout.strip().splitlines()[-1])["cleared"] is False
    assert runner.invoke(cli, ["unlock", "not a code"]).exit_code == 2
