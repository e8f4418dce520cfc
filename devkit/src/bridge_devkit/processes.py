"""Process helpers of the local runners and the demo: liveness, pid files, leftovers, logs."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import sys
import time
from collections import deque
from pathlib import Path

__all__ = [
    "ProcessRecord",
    "pid_alive",
    "read_pid",
    "say",
    "start_ticks",
    "tail",
    "terminate_pid",
    "wait_gone",
]


def pid_alive(pid: int) -> bool:
    """Whether ``pid`` is a running (not zombie) process."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    with contextlib.suppress(ChildProcessError):  # our own child: reap it if it exited
        if os.waitpid(pid, os.WNOHANG)[0] == pid:
            return False
    try:
        status = Path(f"/proc/{pid}/stat").read_text(encoding="ascii", errors="replace")
    except OSError:
        return True  # no procfs: trust kill(0)
    return status.rpartition(")")[2].split()[0] != "Z"


def wait_gone(pid: int, timeout: float, *, poll: float = 0.05) -> bool:
    """Wait until ``pid`` is gone; False if it is still there after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while pid_alive(pid):
        if time.monotonic() >= deadline:
            return False
        time.sleep(poll)
    return True


def read_pid(pid_file: Path) -> int | None:
    """The PID written in ``pid_file``, or None when it is missing or unreadable."""
    try:
        return int(pid_file.read_text(encoding="ascii").strip())
    except (OSError, ValueError):
        return None


def tail(path: Path, lines: int) -> str:
    """The last ``lines`` lines of a log file, for error messages."""
    try:
        with path.open(encoding="utf-8", errors="replace") as handle:
            return "".join(deque(handle, maxlen=lines))
    except OSError:
        return f"(no log at {path})"


def say(text: object, *, err: bool = False) -> None:
    """Print a line of a CLI's output, flushed at once."""
    stream = sys.stderr if err else sys.stdout
    stream.write(f"{text}\n")
    stream.flush()


def start_ticks(pid: int) -> int | None:
    """When ``pid`` started (clock ticks since boot), or None when it is gone or unknown.

    With the PID, it identifies one process: a PID reused by another process has another start.
    """
    try:
        stat = Path(f"/proc/{pid}/stat").read_text(encoding="ascii", errors="replace")
    except OSError:
        return None
    fields = stat.rpartition(")")[2].split()  # the name (field 2) may hold spaces
    return int(fields[19])  # field 22 of proc(5): starttime


def terminate_pid(pid: int, timeout: float) -> bool:
    """SIGTERM ``pid``, SIGKILL after ``timeout`` s; True when it is gone."""
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
    if wait_gone(pid, timeout):
        return True
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)
    return wait_gone(pid, 10.0)


class ProcessRecord:
    """The processes one run started, written down for the next run.

    The next run stops those an interrupted run left behind: by PID, and only if the PID still
    names the same process (same start time).

    Args:
        path: The file (``processes.json`` in the run's directory).
    """

    def __init__(self, path: Path) -> None:
        self.path = path

    def _read(self) -> list[dict[str, object]]:
        try:
            entries = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return []
        return [e for e in entries if isinstance(e, dict)] if isinstance(entries, list) else []

    def _write(self, entries: list[dict[str, object]]) -> None:
        if not entries:
            self.path.unlink(missing_ok=True)
            return
        partial = self.path.with_suffix(".tmp")
        partial.write_text(json.dumps(entries), encoding="utf-8")
        partial.replace(self.path)

    def add(self, name: str, pid: int) -> None:
        """Remember that this run started ``pid`` (``name`` for the messages)."""
        entries = self._read()
        entries.append({"name": name, "pid": pid, "start": start_ticks(pid)})
        self._write(entries)

    def remove(self, pid: int) -> None:
        """Forget ``pid`` (it was stopped)."""
        self._write([e for e in self._read() if e.get("pid") != pid])

    def stop_leftovers(self, timeout: float = 20.0) -> list[tuple[str, int]]:
        """Stop what an earlier run recorded and left running; the name and PID of each.

        A recorded PID whose process is gone, or now another process (another start time), is
        only forgotten.
        """
        stopped = []
        for entry in self._read():
            pid, start = entry.get("pid"), entry.get("start")
            if not isinstance(pid, int) or start is None or start_ticks(pid) != start:
                continue
            if pid_alive(pid) and terminate_pid(pid, timeout):
                stopped.append((str(entry.get("name")), pid))
        self._write([])
        return stopped
