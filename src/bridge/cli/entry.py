"""The process's entry point: the SIGTERM handler first, then the command line."""

from __future__ import annotations

import signal

from bridge.cli.stopping import GracefulStop

__all__ = ["main"]


def main() -> None:
    """Entry point of the ``zalo-bridge`` console script and ``python -m bridge``.

    The SIGTERM handler goes in before the command line's imports: a process stopped while it
    starts up has nothing to hand over and exits 0, as one stopped later does.
    """
    signal.signal(signal.SIGTERM, GracefulStop.handle)
    from bridge.cli.main import main as run_command_line  # noqa: PLC0415 - after the handler

    run_command_line()
