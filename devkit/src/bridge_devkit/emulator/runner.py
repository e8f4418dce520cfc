"""Running the emulator inside an event loop: start it on a socket, find its URL, stop it."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Self

from aiohttp import web

from bridge_devkit.emulator.app import create_app
from bridge_devkit.emulator.clock import Clock, system_clock
from bridge_devkit.emulator.config import EmulatorConfig
from bridge_devkit.emulator.state import EmulatorState

if TYPE_CHECKING:
    import random
    from types import TracebackType

__all__ = ["RunningEmulator", "start_emulator"]

_ACCESS_LOGGER = "bridge_devkit.emulator.access"


class RunningEmulator:
    """An emulator listening on a socket; stop it with `await stop()` or `async with`."""

    def __init__(self, runner: web.AppRunner, state: EmulatorState, host: str, port: int) -> None:
        """Wrap a started `runner` serving `state` on `host`:`port` (use `start_emulator`)."""
        self._runner = runner
        self.state = state
        self.host = host
        self.port = port

    @property
    def base_url(self) -> str:
        """The root URL, e.g. `http://127.0.0.1:41234` (stands for `https://openapi.zalo.me`)."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    async def stop(self) -> None:
        """Stop listening, let in-flight answers finish (briefly), and release the socket."""
        await self._runner.cleanup()

    async def __aenter__(self) -> Self:
        """Return the emulator itself."""
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Stop the emulator."""
        await self.stop()


async def start_emulator(  # noqa: PLR0913 - every knob is keyword-only and has a default
    config: EmulatorConfig | None = None,
    host: str = "127.0.0.1",
    port: int = 0,
    *,
    clock: Clock = system_clock,
    rng: random.Random | None = None,
    access_log: bool = False,
    shutdown_timeout: float = 1.0,
    backlog: int = 2048,
) -> RunningEmulator:
    """Start an emulator in the running event loop and return once it is listening.

    Args:
        config: Identity, tokens, followers and knobs; the defaults if None.
        host: Address to bind; loopback by default (no check here, the CLI checks).
        port: Port to bind; 0 picks a free one (read it back from `.port`).
        clock: Wall-clock source for tokens, windows and timestamps.
        rng: Randomness for latency jitter.
        access_log: Log one line per request (costly under load).
        shutdown_timeout: Seconds `stop()` waits for in-flight answers before cancelling them.
        backlog: Listen backlog; large so that hundreds of clients can connect at once.

    Returns:
        The running emulator, with its `state` and `base_url`.
    """
    state = EmulatorState(config or EmulatorConfig(), clock=clock, rng=rng)
    runner = web.AppRunner(
        create_app(state),
        handle_signals=False,
        shutdown_timeout=shutdown_timeout,
        access_log=logging.getLogger(_ACCESS_LOGGER) if access_log else None,
    )
    await runner.setup()
    try:
        site = web.TCPSite(runner, host, port, backlog=backlog)
        await site.start()
        bound_port = int(runner.addresses[0][1])
    except BaseException:
        await runner.cleanup()
        raise
    return RunningEmulator(runner, state, host, bound_port)
