"""What every command that prints data shares: ``--json``, the exit codes, and the JSON writer.

Exit codes, the same for every ``zalo-bridge`` command:

* ``0`` (``OK``): done; for a check, nothing is wrong.
* ``1`` (``FAILED``): the command ran and the answer is no: a check found a problem (stale
  schemas, invalid templates, invalid settings data), something asked for does not exist (an
  unknown announcement), or the broker, the store or Zalo refused or could not be reached.
* ``2`` (``USAGE``): the command could not run as called: an unknown option, a bad argument, or
  settings that do not load (typer's own usage errors are 2 too).
"""

from __future__ import annotations

import json
from enum import IntEnum
from typing import Annotated, Any

import typer

__all__ = ["ExitCode", "JsonOption", "emit_json", "fail"]


class ExitCode(IntEnum):
    """The exit codes of every command (see the module docstring)."""

    OK = 0
    FAILED = 1
    USAGE = 2


JsonOption = Annotated[
    bool,
    typer.Option(
        "--json", help="Print one JSON document on standard output instead of text lines."
    ),
]
"""The ``--json`` option of every command that prints data."""


def emit_json(document: Any) -> None:
    """Write ``document`` as one line of JSON (UTF-8 text kept as it is) on standard output."""
    typer.echo(json.dumps(document, ensure_ascii=False, sort_keys=True, default=str))


def fail(message: str, code: ExitCode = ExitCode.FAILED) -> typer.Exit:
    """Print ``zalo-bridge: message`` on standard error and return the exit to raise."""
    typer.echo(f"zalo-bridge: {message}", err=True)
    return typer.Exit(code=int(code))
