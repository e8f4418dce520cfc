"""The ``zalo-bridge`` command line, one module per command group."""

from __future__ import annotations

__all__ = ["main"]


def main() -> None:
    """Entry point of the ``zalo-bridge`` console script and ``python -m bridge``.

    The SIGTERM handler goes in first, before the command line's imports: a process stopped
    while it starts up has nothing to hand over and exits 0, as one stopped later does.
    """
    import signal  # noqa: PLC0415 - the package's face exports only main

    from bridge.cli.stopping import GracefulStop  # noqa: PLC0415 - a few lines, no imports

    signal.signal(signal.SIGTERM, GracefulStop.handle)
    from bridge.cli.main import main as run_command_line  # noqa: PLC0415 - after the handler

    run_command_line()
