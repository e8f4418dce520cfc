"""A faithful local emulator of the Zalo OA Open API, for tests and benchmarks (not production)."""

from bridge_devkit.emulator.clock import Clock, ManualClock, system_clock
from bridge_devkit.emulator.config import DEV_ACCESS_TOKEN, EmulatorConfig, RuntimeSettings
from bridge_devkit.emulator.conversation import CONVERSATION_PATH
from bridge_devkit.emulator.followers import Follower
from bridge_devkit.emulator.oa_info import OA_INFO_PATH
from bridge_devkit.emulator.oauth import OAUTH_PERMISSION_PATH, OAUTH_TOKEN_PATH
from bridge_devkit.emulator.oauth_store import OAuthConfig, OAuthErrorKind, pkce_challenge
from bridge_devkit.emulator.runner import RunningEmulator, start_emulator
from bridge_devkit.emulator.state import EmulatorState
from bridge_devkit.emulator.template_store import (
    TEMPLATE_PHONE_PATH,
    TEMPLATE_UID_PATH,
    Template,
    TemplateParam,
    ZbsConfig,
)
from bridge_devkit.emulator.webhook import (
    SignatureFirstTerm,
    SignatureSecret,
    WebhookConfig,
    signature,
)
from bridge_devkit.emulator.zalo_api import CS_MESSAGE_PATH

__all__ = [
    "CONVERSATION_PATH",
    "CS_MESSAGE_PATH",
    "DEV_ACCESS_TOKEN",
    "OAUTH_PERMISSION_PATH",
    "OAUTH_TOKEN_PATH",
    "OA_INFO_PATH",
    "TEMPLATE_PHONE_PATH",
    "TEMPLATE_UID_PATH",
    "Clock",
    "EmulatorConfig",
    "EmulatorState",
    "Follower",
    "ManualClock",
    "OAuthConfig",
    "OAuthErrorKind",
    "RunningEmulator",
    "RuntimeSettings",
    "SignatureFirstTerm",
    "SignatureSecret",
    "Template",
    "TemplateParam",
    "WebhookConfig",
    "ZbsConfig",
    "pkce_challenge",
    "signature",
    "start_emulator",
    "system_clock",
]
