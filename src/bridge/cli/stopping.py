"""How ``zalo-bridge`` ends on SIGTERM: status 0 however early or late it comes."""

from __future__ import annotations

from typing import ClassVar

__all__ = ["GracefulStop"]


class GracefulStop:
    """The process's SIGTERM handler outside uvicorn's own.

    Before the service runs (imports, settings, connecting), SIGTERM ends the process at once
    with status 0: nothing was taken, so nothing is handed over. While it runs, uvicorn's handler
    stands in for this one and stops it gracefully; afterwards uvicorn raises SIGTERM again for
    this handler, which then does nothing, so the command returns its own status (0, or 1 when
    bridge stopped itself after a fault).
    """

    stopping: ClassVar[bool] = False
    """Set once the service has started: a SIGTERM after that is uvicorn's (graceful) one."""

    @classmethod
    def handle(cls, _signo: int, _frame: object) -> None:
        """Exit 0 before the service runs; nothing after its graceful stop."""
        if not cls.stopping:
            raise SystemExit(0)

    @classmethod
    def begin(cls) -> None:
        """The service runs: uvicorn stops it gracefully, then raises SIGTERM again for us."""
        cls.stopping = True
