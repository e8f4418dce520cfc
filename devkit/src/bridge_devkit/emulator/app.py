"""The emulator's aiohttp application: Zalo endpoints, admin endpoints and JSON errors."""

from __future__ import annotations

from typing import TYPE_CHECKING

from aiohttp import web

from bridge_devkit.emulator.admin_api import add_admin_routes
from bridge_devkit.emulator.keys import STATE_KEY
from bridge_devkit.emulator.responses import json_errors_middleware
from bridge_devkit.emulator.zalo_api import add_zalo_routes

if TYPE_CHECKING:
    from bridge_devkit.emulator.state import EmulatorState

__all__ = ["MAX_BODY_BYTES", "create_app"]

MAX_BODY_BYTES = 1024 * 1024
"""Largest request body accepted (aiohttp answers 413 above it)."""


def create_app(state: EmulatorState) -> web.Application:
    """Build the aiohttp application serving `state`."""
    app = web.Application(middlewares=[json_errors_middleware], client_max_size=MAX_BODY_BYTES)
    app[STATE_KEY] = state
    add_zalo_routes(app)
    add_admin_routes(app)
    return app
