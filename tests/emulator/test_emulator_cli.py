"""The `zalo-oa-emulator` command: a real process, its port file, its flags, signals."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time

import httpx
import pytest

from bridge_devkit.emulator.cli import build_parser, is_loopback, main

STARTUP_DEADLINE_S = 15.0


def _wait_for_port(process: subprocess.Popen[bytes], port_file, deadline_s: float) -> int:
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        if port_file.exists():
            return int(port_file.read_text())
        if process.poll() is not None:
            pytest.fail(f"emulator exited early with {process.returncode}")
        time.sleep(0.02)
    pytest.fail("emulator did not write its port file in time")


@pytest.fixture
def followers_file(tmp_path):
    path = tmp_path / "followers.json"
    path.write_text(
        json.dumps(
            [
                {"user_id": "2512523625412515", "display_name": "Nguyễn Văn A"},
                {"user_id": "77", "last_interaction_at": "2020-01-01T00:00:00Z"},
            ]
        ),
        encoding="utf-8",
    )
    return path


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_runs_as_a_process_and_stops_on_signal(tmp_path, followers_file, signum):
    port_file = tmp_path / "emulator.port"
    process = subprocess.Popen(  # noqa: S603 - our own interpreter and module
        [
            sys.executable,
            "-m",
            "bridge_devkit.emulator",
            "--port-file",
            str(port_file),
            "--access-token",
            "tok-a",
            "--access-token",
            "tok-b",
            "--rate-limit-per-minute",
            "2",
            "--followers",
            str(followers_file),
            "--oa-id",
            "999",
            "--refresh-token",
            "boot-rt",
            "--log-level",
            "warning",
        ],
    )
    try:
        port = _wait_for_port(process, port_file, STARTUP_DEADLINE_S)
        base = f"http://127.0.0.1:{port}"
        with httpx.Client(base_url=base, timeout=5.0) as client:

            def post(token, user_id="2512523625412515"):
                return client.post(
                    "/v3.0/oa/message/cs",
                    json={"recipient": {"user_id": user_id}, "message": {"text": "Xin chào"}},
                    headers={"access_token": token},
                ).json()

            assert post("dev-access-token")["error"] == -216  # replaced by --access-token
            assert post("tok-a")["error"] == 0
            assert post("tok-b", user_id="77")["error"] == -230
            assert post("tok-a") == {
                "error": -32,
                "message": "Your application reached limit call api",
            }
            assert client.get("/_emulator/health").json()["oa_id"] == "999"
            refreshed = client.post(
                "/v4/oa/access_token",
                data={
                    "refresh_token": "boot-rt",
                    "app_id": "3066521851012345678",
                    "grant_type": "refresh_token",
                },
                headers={"secret_key": "dev-app-secret"},
            ).json()
            assert refreshed["expires_in"] == "90000"
    finally:
        process.send_signal(signum)
        try:
            returncode = process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
            raise
    assert returncode == 0
    assert not port_file.exists()


@pytest.mark.parametrize("host", ["0.0.0.0", "192.168.1.10", "example.com", "::"])  # noqa: S104 - addresses the CLI must refuse
def test_refuses_non_loopback_addresses(host, tmp_path):
    port_file = tmp_path / "port"

    assert main(["--host", host, "--port-file", str(port_file)]) == 2
    assert not port_file.exists()


def test_refuses_an_unreadable_followers_file(tmp_path):
    bad = tmp_path / "followers.json"
    bad.write_text('[{"user_id": 1}]', encoding="utf-8")

    assert main(["--followers", str(bad)]) == 2
    assert main(["--followers", str(tmp_path / "missing.json")]) == 2


@pytest.mark.parametrize(
    ("host", "expected"),
    [
        ("127.0.0.1", True),
        ("127.5.0.1", True),
        ("::1", True),
        ("localhost", True),
        ("0.0.0.0", False),  # noqa: S104 - an address the CLI must refuse
        ("10.0.0.1", False),
        ("example.com", False),
    ],
)
def test_is_loopback(host, expected):
    assert is_loopback(host) is expected


def test_bad_flag_values_exit_with_usage_error():
    with pytest.raises(SystemExit) as exc_info:
        main(["--rate-limit-per-minute", "-1"])

    assert exc_info.value.code == 2


def test_refuses_an_unreadable_templates_file(tmp_path):
    bad = tmp_path / "templates.json"
    bad.write_text('[{"template_id": "t", "params": [{"name": "a"}]}]', encoding="utf-8")

    assert main(["--templates", str(bad)]) == 2
    assert main(["--templates", str(tmp_path / "missing.json")]) == 2


def test_access_flags_are_parsed():
    args = build_parser().parse_args(
        [
            "--refresh-token",
            "rt-1",
            "--refresh-token",
            "rt-2",
            "--webhook-url",
            "http://127.0.0.1:8080/zalo/webhook",
            "--webhook-auto-receipts",
        ]
    )

    assert args.refresh_tokens == ["rt-1", "rt-2"]
    assert args.webhook_url == "http://127.0.0.1:8080/zalo/webhook"
    assert args.webhook_auto_receipts is True
    assert build_parser().parse_args([]).refresh_tokens is None
