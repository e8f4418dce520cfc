"""Which asyncio event loop `zalo-bridge run` uses: uvloop where installed, else the standard."""

from __future__ import annotations

import asyncio
import importlib
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from collections.abc import Callable

__all__ = ["loop_factory"]


def loop_factory(
    choice: Literal["auto", "uvloop", "asyncio"],
) -> Callable[[], asyncio.AbstractEventLoop]:
    """The factory of the event loop ``choice`` names (``auto``: uvloop if it imports).

    uvloop keeps asyncio's semantics (tasks, cancellation, timeouts, signals); only the loop's
    machinery is libuv's. Asking for ``uvloop`` where it is not installed is an error.

    Raises:
        ModuleNotFoundError: ``uvloop`` was asked for and is not installed.
    """
    if choice == "asyncio":
        return asyncio.new_event_loop
    try:
        uvloop = importlib.import_module("uvloop")
    except ModuleNotFoundError:
        if choice == "uvloop":
            raise
        return asyncio.new_event_loop
    factory: Callable[[], asyncio.AbstractEventLoop] = uvloop.new_event_loop
    return factory
