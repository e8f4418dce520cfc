"""The emulator's aiohttp application: Zalo and OAuth endpoints, admin API, webhook, JSON errors."""

from __future__ import annotations

from typing import TYPE_CHECKING

from aiohttp import web

from bridge_devkit.emulator.access_admin_api import add_access_admin_routes
from bridge_devkit.emulator.admin_api import add_admin_routes
from bridge_devkit.emulator.citizen_api import add_citizen_routes
from bridge_devkit.emulator.keys import DISPATCHER_KEY, STATE_KEY
from bridge_devkit.emulator.oauth_api import add_oauth_routes
from bridge_devkit.emulator.responses import json_errors_middleware
from bridge_devkit.emulator.webhook_delivery import WebhookDispatcher
from bridge_devkit.emulator.zalo_api import add_zalo_routes

if TYPE_CHECKING:
    from bridge_devkit.emulator.state import EmulatorState

__all__ = ["MAX_BODY_BYTES", "create_app"]

MAX_BODY_BYTES = 64 * 1024 * 1024
"""Largest request body accepted (aiohttp answers 413 above it): room for uploads over Zalo's
limits, so that those get Zalo's -210 rather than a gateway's 413."""


def create_app(state: EmulatorState) -> web.Application:
    """Build the aiohttp application serving `state`."""
    app = web.Application(middlewares=[json_errors_middleware], client_max_size=MAX_BODY_BYTES)
    app[STATE_KEY] = state
    dispatcher = WebhookDispatcher(state)
    app[DISPATCHER_KEY] = dispatcher
    app.on_startup.append(dispatcher.on_startup)
    app.on_cleanup.append(dispatcher.on_cleanup)
    add_zalo_routes(app)
    add_oauth_routes(app)
    add_admin_routes(app)
    add_access_admin_routes(app)
    add_citizen_routes(app)
    return app
