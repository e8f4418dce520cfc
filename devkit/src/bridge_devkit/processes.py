"""Process helpers shared by the local Kafka and PostgreSQL runners: liveness, pid files, logs."""

from __future__ import annotations

import contextlib
import os
import sys
import time
from collections import deque
from pathlib import Path

__all__ = ["pid_alive", "read_pid", "say", "tail", "wait_gone"]


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
