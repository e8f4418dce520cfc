"""The aiohttp application keys through which the emulator's handlers reach the state."""

from __future__ import annotations

from aiohttp import web

from bridge_devkit.emulator.state import EmulatorState

__all__ = ["STATE_KEY"]

STATE_KEY = web.AppKey("zalo_oa_emulator_state", EmulatorState)
"""The `EmulatorState` served by an application."""
