"""`make run` as a user runs it: real processes, sample events, messages shown, all stopped."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = [pytest.mark.kafka, pytest.mark.e2e]


def test_the_demo_shows_every_delivered_message_and_stops_what_it_started(
    kafka_bootstrap, tmp_path
):
    env = {**os.environ, "KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap}
    done = subprocess.run(  # noqa: S603 - our interpreter, our arguments
        [sys.executable, "-m", "bridge_devkit.demo", "--once", "--workdir", str(tmp_path)],
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    output = done.stdout
    assert done.returncode == 0, output + done.stderr
    assert "12 of 12 messages delivered" in output
    assert output.count("Kính gửi Ông/Bà,") == 13  # 12 samples + the linked citizen's dossier
    assert "Hồ sơ 000.20.31.H56-" in output
    assert "• Trạng thái: Đã xử lý xong" in output
    assert "thành thật xin lỗi Ông/Bà" in output
    assert re.search(r"• template preview: http://127\.0\.0\.1:\d+/", output)
    # The chat scene: follow, link with the receipt secret, notified, lookup, HUY.
    assert re.search(r"secret [A-Z2-9]{6}", output)
    assert "Cảm ơn Ông/Bà đã quan tâm" in output
    assert "đã đăng ký nhận thông báo về hồ sơ 000.20.31.H56-" in output
    assert "Thông tin hồ sơ 000.20.31.H56-" in output
    assert "• Trạng thái: Đang xử lý" in output
    assert "đã ngừng nhận thông báo về hồ sơ" in output
    assert list(tmp_path.glob("receipt-*.png"))
    pids = [int(pid) for pid in re.findall(r"stopped \w+ \(pid (\d+)\)", output)]
    assert len(pids) == 2
    for pid in pids:
        assert not Path(f"/proc/{pid}").exists() or _not_ours(pid)
    log = (tmp_path / "bridge.log").read_text(encoding="utf-8")
    assert '"event": "event dead-lettered"' in log
    assert "2512523625412515" not in log


def _not_ours(pid: int) -> bool:
    """A pid may be reused by another process; it must at least not be our bridge or emulator."""
    command = Path(f"/proc/{pid}/cmdline").read_bytes()
    return b"bridge" not in command and b"emulator" not in command
