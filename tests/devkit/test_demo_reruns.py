"""`make run` again: new dossiers each run, and what an interrupted run left is stopped."""

from __future__ import annotations

import json
import subprocess
import sys

from bridge_devkit.demo import next_run_number
from bridge_devkit.processes import ProcessRecord, pid_alive, start_ticks
from bridge_devkit.samples import linking_case_code, linking_sample_event, sample_events


def _sleeper() -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])


def test_a_recorded_process_left_running_is_stopped_and_forgotten(tmp_path):
    record = ProcessRecord(tmp_path / "processes.json")
    left = _sleeper()
    try:
        record.add("bridge", left.pid)
        assert record.stop_leftovers(timeout=5) == [("bridge", left.pid)]
        assert left.wait(timeout=5) is not None
        assert not record.path.exists()
        assert record.stop_leftovers() == []  # nothing twice
    finally:
        left.kill()
        left.wait()


def test_a_process_that_reused_a_recorded_pid_is_left_alone(tmp_path):
    other = _sleeper()
    try:
        # The recorded process had this PID but another start time: not the same process.
        entry = {"name": "bridge", "pid": other.pid, "start": (start_ticks(other.pid) or 0) - 1}
        (tmp_path / "processes.json").write_text(json.dumps([entry]), encoding="utf-8")
        record = ProcessRecord(tmp_path / "processes.json")
        assert record.stop_leftovers(timeout=1) == []
        assert pid_alive(other.pid)
        assert not record.path.exists()
    finally:
        other.kill()
        other.wait()


def test_a_cleanly_stopped_process_is_forgotten(tmp_path):
    record = ProcessRecord(tmp_path / "processes.json")
    first, second = _sleeper(), _sleeper()
    try:
        record.add("emulator", first.pid)
        record.add("bridge", second.pid)
        record.remove(first.pid)
        names = [e["name"] for e in json.loads(record.path.read_text(encoding="utf-8"))]
        assert names == ["bridge"]
        record.remove(second.pid)
        assert not record.path.exists()
    finally:
        for process in (first, second):
            process.kill()
            process.wait()


def test_an_unreadable_record_is_an_empty_one(tmp_path):
    (tmp_path / "processes.json").write_text("{not json", encoding="utf-8")
    assert ProcessRecord(tmp_path / "processes.json").stop_leftovers() == []


def test_each_run_of_the_demo_files_new_dossiers(tmp_path):
    runs = [next_run_number(tmp_path) for _ in range(3)]
    assert runs == [1, 2, 3]
    codes = [
        {event["case"]["code"] for event in sample_events(run=run)} | {linking_case_code(run=run)}
        for run in runs
    ]
    assert all(len(c) == 5 for c in codes)  # four sample dossiers and the linked one
    assert not codes[0] & codes[1]
    assert not codes[1] & codes[2]
    assert not codes[0] & codes[2]
    assert linking_sample_event(run=2)["case"]["code"] == linking_case_code(run=2)
