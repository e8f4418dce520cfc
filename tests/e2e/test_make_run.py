"""`make run` as a user runs it: real processes, sample events, messages shown, all stopped.

And as a user runs it again: in the same directory, after a full run, after a Ctrl-C in the
middle and after the terminal was closed on it (SIGKILL), every run shows all of its messages.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from bridge_devkit.processes import ProcessRecord, pid_alive

pytestmark = [pytest.mark.kafka, pytest.mark.e2e]

DELIVERED = re.compile(r"(\d+) of (\d+) messages delivered")
RUN = re.compile(r"• run (\d+) in .*: published 12 sample case events of 4 new dossiers")


def demo_env(kafka_bootstrap: str) -> dict[str, str]:
    return {**os.environ, "KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap}


def run_once(workdir: Path, env: dict[str, str]) -> str:
    """One whole `make run` (--once); its output."""
    done = subprocess.run(  # noqa: S603 - our interpreter, our arguments
        [sys.executable, "-m", "bridge_devkit.demo", "--once", "--workdir", str(workdir)],
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def assert_everything_shown(output: str, run: int) -> None:
    assert f"• run {run} in " in output
    # 12 texts, the marriage result's PDF (a file message after its text), and 3 messages about
    # a complaint and a land dispute (the v2 topic).
    assert DELIVERED.search(output).groups() == ("16", "16"), output  # type: ignore[union-attr]
    assert "📎 Tệp đính kèm (văn bản kết quả)" in output
    unwrapped = output.replace("\n│ ", " ")  # the chat bubbles wrap their lines
    assert "Đã có quyết định giải quyết khiếu nại lần đầu số 118/QĐ-UBND" in unwrapped
    assert "Thời hạn để Ông/Bà khiếu nại, khởi kiện: 30 ngày" in unwrapped
    assert "Ông/Bà được mời tham dự cuộc họp hòa giải đơn về tranh chấp đất đai số" in unwrapped
    assert "Not everything arrived" not in output
    assert "The chat scene did not complete" not in output
    assert "đã ngừng nhận thông báo về hồ sơ" in output  # the scene's last answer
    for pid in started_pids(output):
        assert not pid_alive(pid) or not ours(pid)


def started_pids(output: str) -> list[int]:
    return [int(pid) for pid in re.findall(r"stopped \w+ \(pid (\d+)\)", output)]


def ours(pid: int) -> bool:
    """A pid may be reused by another process; ours run the bridge or the emulator."""
    try:
        command = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False
    return b"bridge" in command or b"emulator" in command


def test_the_demo_shows_every_delivered_message_and_stops_what_it_started(
    kafka_bootstrap, tmp_path
):
    output = run_once(tmp_path, demo_env(kafka_bootstrap))
    assert_everything_shown(output, run=1)
    # 12 samples, 3 about a complaint and a land dispute, and the linked citizen's dossier: in
    # progress, then its result handed over (the result's PDF has no greeting), and the dossier
    # she filed through Zalo, opened by the centre
    assert output.count("Kính gửi Ông/Bà,") == 18
    # ... which brings the satisfaction survey, answered with a tap and thanked
    assert "có hài lòng với việc giải quyết hồ sơ" in output
    assert "[Rất hài lòng]  [Hài lòng]  [Chưa hài lòng]" in output
    assert "[bấm nút] Hài lòng" in output
    assert "Cảm ơn Ông/Bà đã dành thời gian đánh giá" in output
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
    # She files a birth registration in the chat: a PDF, two photos, XAC NHAN.
    assert "Ông/Bà muốn nộp hồ sơ thủ tục nào?" in output
    assert "[ảnh] căn cước, mặt sau" in output
    assert "Đã nhận đủ 2/2 tệp cho «Căn cước của người đi khai sinh»" in output
    assert re.search(r"Mã nộp hồ sơ: HS-\d{8}[0-9A-Z]{8}", output)
    assert len(list((tmp_path / "objects").rglob("*-0*"))) >= 3
    # The centre reads her submission off Kafka and opens the dossier; its first event reaches
    # her chat (linked by the submission id, the event carries only a phone without consent).
    [submission_id] = re.findall(r"Mã nộp hồ sơ: (HS-\w+)", output)
    assert re.search(
        rf"The centre reads {submission_id} from citizen-submission: procedure 1\.001193, "
        r"\d+ answers, 3 files",
        output,
    )
    filed = re.search(r"it opens a dossier\.\n(.*)", output, re.DOTALL)
    assert filed, output
    assert "→ Phạm Thị Dung" in filed.group(1)
    assert re.search(r"000\.20\.31\.H56-\d{6}-0078", filed.group(1).replace("\n│ ", " "))
    assert list(tmp_path.glob("receipt-*.png"))
    assert len(started_pids(output)) == 2
    log = (tmp_path / "bridge.log").read_text(encoding="utf-8")
    assert '"event": "event dead-lettered"' in log
    assert "2512523625412515" not in log
    assert not (tmp_path / "processes.json").exists()  # nothing left to stop
    # Run again in the same directory: the next test (and tests/devkit's run numbers).


class _Demo:
    """A `make run` that keeps running (no --once), in its own process group like a terminal's
    foreground job, read line by line."""

    def __init__(self, workdir: Path, env: dict[str, str]) -> None:
        self.process = subprocess.Popen(  # noqa: S603 - our interpreter, our arguments
            [sys.executable, "-m", "bridge_devkit.demo", "--workdir", str(workdir)],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
        )
        self.lines: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.append(line)

    @property
    def output(self) -> str:
        return "".join(self.lines)

    def wait_for(self, marker: str, timeout: float = 120) -> None:
        deadline = time.monotonic() + timeout
        while marker not in self.output:
            assert self.process.poll() is None, self.output
            assert time.monotonic() < deadline, f"no {marker!r} in:\n{self.output}"
            time.sleep(0.1)

    def finish(self, timeout: float = 60) -> int:
        code = self.process.wait(timeout=timeout)
        self._reader.join(timeout=10)
        assert self.process.stdout is not None
        self.process.stdout.close()
        return code


def test_runs_cut_short_by_ctrl_c_or_a_kill_are_followed_by_a_complete_one(
    kafka_bootstrap, tmp_path
):
    env = demo_env(kafka_bootstrap)
    record = ProcessRecord(tmp_path / "processes.json")
    try:
        # Ctrl-C in the middle of the deliveries: SIGINT to the terminal's foreground process
        # group (the demo and its children); everything stops, nothing is left behind.
        demo = _Demo(tmp_path, env)
        demo.wait_for("What the citizens received on Zalo")
        os.killpg(demo.process.pid, signal.SIGINT)
        assert demo.finish() == 0, demo.output
        assert "Stopping…" in demo.output
        stopped = started_pids(demo.output)
        assert len(stopped) == 2
        assert not any(pid_alive(pid) and ours(pid) for pid in stopped)
        assert not record.path.exists()

        # The terminal closed on the next one: the demo dies at once, its children live on.
        demo = _Demo(tmp_path, env)
        demo.wait_for("• bridge: ")
        os.kill(demo.process.pid, signal.SIGKILL)
        demo.finish()
        left = json.loads(record.path.read_text(encoding="utf-8"))
        assert {entry["name"] for entry in left} == {"emulator", "bridge"}
        assert all(pid_alive(entry["pid"]) for entry in left)

        # Then again: what was left is stopped first, and this run shows all of its messages.
        output = run_once(tmp_path, env)
        assert "• stopped the bridge an earlier run left running (pid " in output
        assert "• stopped the emulator an earlier run left running (pid " in output
        assert_everything_shown(output, run=3)
        # New dossiers (run N numbers them 100 × (N − 1) above run 1's): the filed one is 0278.
        assert re.search(r"000\.20\.31\.H56-\d{6}-0278", output.replace("\n│ ", " "))
        assert not any(pid_alive(entry["pid"]) and ours(entry["pid"]) for entry in left)
    finally:
        record.stop_leftovers()  # whatever a failure above left, by the PIDs it recorded
