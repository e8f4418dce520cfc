"""Serve the app with uvicorn, whose SIGTERM ends a process still connecting at once."""

from __future__ import annotations

import logging
import signal
from typing import TYPE_CHECKING

import uvicorn

from bridge.cli.stopping import GracefulStop

if TYPE_CHECKING:
    from types import FrameType

    from faststream.asgi import AsgiFastStream

__all__ = ["serve"]


class _Server(uvicorn.Server):
    """uvicorn's server, but a SIGTERM before the service runs ends the process at once.

    uvicorn takes SIGTERM over when it starts serving, before the app's start-up (opening the
    stores, the Zalo client, the producer) and would only note it: the start-up would run to its
    end first, however long it waits for a broker or a database, and be stopped afterwards.
    Until ``GracefulStop.begin`` (the start-up has opened everything), nothing was taken, so
    the process exits 0 at once, as it does when stopped during its imports.
    """

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        """Exit 0 at once while connecting; uvicorn's graceful stop afterwards."""
        if sig == signal.SIGTERM and not GracefulStop.stopping:
            GracefulStop.handle(sig, frame)  # the loop raises SystemExit(0) next
            return
        super().handle_exit(sig, frame)


async def serve(app: AsgiFastStream, *, host: str, port: int) -> None:
    """Run ``app`` on ``host:port`` until stopped (what ``AsgiFastStream.run`` does, with ours).

    The health, metrics and webhook endpoints answer from the end of the start-up.
    """
    config = uvicorn.Config(app=app, host=host, port=port, access_log=False, log_level=logging.INFO)
    await _Server(config).serve()
