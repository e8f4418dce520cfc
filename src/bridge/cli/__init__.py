"""The ``zalo-bridge`` command line, one module per command group.

The package's face is empty on purpose: the process starts in ``bridge.cli.entry`` (its SIGTERM
handler before any heavy import), the commands live in ``bridge.cli.main``.
"""

__all__: list[str] = []
