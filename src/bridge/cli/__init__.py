"""The ``zalo-bridge`` command line, one module per command group."""

from bridge.cli.main import main

__all__ = ["main"]
