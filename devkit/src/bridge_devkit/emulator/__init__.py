"""A faithful local emulator of the Zalo OA Open API, for tests and benchmarks (not production)."""

from bridge_devkit.emulator.clock import Clock, ManualClock, system_clock
from bridge_devkit.emulator.config import DEV_ACCESS_TOKEN, EmulatorConfig, RuntimeSettings
from bridge_devkit.emulator.conversation import CONVERSATION_PATH
from bridge_devkit.emulator.followers import Follower
from bridge_devkit.emulator.runner import RunningEmulator, start_emulator
from bridge_devkit.emulator.state import EmulatorState
from bridge_devkit.emulator.zalo_api import CS_MESSAGE_PATH

__all__ = [
    "CONVERSATION_PATH",
    "CS_MESSAGE_PATH",
    "DEV_ACCESS_TOKEN",
    "Clock",
    "EmulatorConfig",
    "EmulatorState",
    "Follower",
    "ManualClock",
    "RunningEmulator",
    "RuntimeSettings",
    "start_emulator",
    "system_clock",
]
