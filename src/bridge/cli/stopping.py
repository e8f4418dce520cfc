"""How ``zalo-bridge`` ends on SIGTERM: status 0 however early or late it comes."""

from __future__ import annotations

import contextlib
import os
import sys
from typing import TYPE_CHECKING, ClassVar, cast

if TYPE_CHECKING:
    from asyncio import AbstractEventLoop

__all__ = ["GracefulStop"]

_STOPPED_EARLY = b"zalo-bridge: stopped (SIGTERM)\n"
"""Every command gets this handler (``bridge.cli.entry``), not only ``run`` while it starts: a
``dlq replay`` stopped half-way has taken something, so the line claims nothing about it."""


class GracefulStop:
    """The process's SIGTERM handler outside uvicorn's own.

    Before the service runs (imports, settings, connecting), SIGTERM ends the process at once
    with status 0: nothing was taken, so nothing is handed over. While it runs, uvicorn's handler
    stands in for this one and stops it gracefully; afterwards uvicorn raises SIGTERM again for
    this handler, which then does nothing, so the command returns its own status (0, or 1 when
    bridge stopped itself after a fault).

    The handler never raises where the signal lands: Python ignores an exception raised inside a
    garbage-collection callback or a ``__del__``, and the SIGTERM would be lost. Without an event
    loop (imports, settings) nothing is open, and the process exits there and then; with one
    (connecting), the loop raises ``SystemExit(0)`` from a callback of its own, so its tasks are
    cancelled and what they started closes (a supervisor's workers are stopped).
    """

    stopping: ClassVar[bool] = False
    """Set once the service has started: a SIGTERM after that is uvicorn's (graceful) one."""

    @classmethod
    def handle(cls, _signo: int, _frame: object) -> None:
        """End the process with status 0 before the service runs; nothing after."""
        if cls.stopping:
            return
        loop = _running_loop()
        if loop is None:
            for stream in (sys.stdout, sys.stderr):
                with contextlib.suppress(Exception):  # a write the signal interrupted
                    stream.flush()
            os.write(2, _STOPPED_EARLY)
            os._exit(0)
        loop.call_soon_threadsafe(_exit_from_the_loop)

    @classmethod
    def begin(cls) -> None:
        """The service runs: uvicorn stops it gracefully, then raises SIGTERM again for us."""
        cls.stopping = True


def _running_loop() -> AbstractEventLoop | None:
    """The event loop running in this (the main) thread, if asyncio is loaded and one runs."""
    asyncio = sys.modules.get("asyncio")
    if asyncio is None:
        return None
    try:
        return cast("AbstractEventLoop", asyncio.get_running_loop())
    except RuntimeError:
        return None


def _exit_from_the_loop() -> None:
    os.write(2, _STOPPED_EARLY)
    raise SystemExit(0)
