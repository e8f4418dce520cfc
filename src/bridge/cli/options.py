"""What every ``zalo-bridge`` command shares: the ``--config`` option and loading the settings."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from bridge.errors import ConfigurationError
from bridge.settings import Settings, load_settings

__all__ = ["ConfigOption", "settings_or_exit"]

ConfigOption = Annotated[
    Path | None,
    typer.Option(
        "--config",
        "-c",
        help="YAML settings file (BRIDGE_CONFIG_FILE also names it).",
        exists=True,
        dir_okay=False,
    ),
]


def settings_or_exit(config: Path | None) -> Settings:
    """The validated settings, or the reason they are invalid on stderr and exit status 2."""
    try:
        return load_settings(config)
    except ConfigurationError as exc:
        typer.echo(f"zalo-bridge: {exc}", err=True)
        raise typer.Exit(code=2) from exc
