"""The aiohttp application keys through which the emulator's handlers reach the state."""

from __future__ import annotations

from aiohttp import web

from bridge_devkit.emulator.state import EmulatorState
from bridge_devkit.emulator.webhook_delivery import WebhookDispatcher

__all__ = ["DISPATCHER_KEY", "STATE_KEY"]

STATE_KEY = web.AppKey("zalo_oa_emulator_state", EmulatorState)
"""The `EmulatorState` served by an application."""

DISPATCHER_KEY = web.AppKey("zalo_oa_emulator_webhook", WebhookDispatcher)
"""The `WebhookDispatcher` delivering the application's webhook events."""
