"""Zalo OA Open API error codes and the exact message texts Zalo sends with them (reference §5)."""

from __future__ import annotations

from enum import IntEnum
from types import MappingProxyType
from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    from collections.abc import Mapping

__all__ = [
    "ERROR_MESSAGES",
    "LEGACY_ERROR_MESSAGES",
    "ZaloCode",
    "invalid_field_message",
    "message_for",
]


class ZaloCode(IntEnum):
    """The error codes the emulator's rules produce; any code of the table can be injected."""

    SUCCESS = 0
    RATE_LIMITED = -32
    ASSET_EXPIRED = -100
    SEND_FAILED = -200
    INVALID_PARAMETER = -201
    PARAMETER_TOO_LONG = -210
    OUT_OF_QUOTA = -211
    NOT_FOLLOWER = -213
    TOKEN_INVALID = -216
    TOKEN_EXPIRED = -220
    OUTSIDE_INTERACTION_WINDOW = -230
    MESSAGE_TYPE_NOT_SUPPORTED = -233
    TEMPLATE_NOT_FOR_UID = -249


ERROR_MESSAGES: Final[Mapping[int, str]] = MappingProxyType(
    {
        0: "Success",
        # Zalo also sends "Your OA reached limit call api" for the OA-level limit.
        -32: "Your application reached limit call api",
        -100: "attachment_id was expired",
        -200: "Send message failed",
        # -201 names the field: see invalid_field_message().
        -201: "message is invalid!",
        -204: "Offical Account is disable",
        -205: "Offical Account is not exist",
        -209: "Not supported this api",
        -210: "Parameter exceeds allowable limit",
        -211: "Out of quota",
        -212: "App has not registed this api",
        -213: "User has not followed OA",
        -214: "Article is being processed",
        -216: "Access token is invalid",
        -217: "User has blocked invitation from OA",
        -218: "Out of quota receive",
        -219: "App is removed or disabled",
        -220: "access_token is expired or removed",
        -221: "The OA needs to be verified to use this feature",
        -223: "Official Account has not authorized this API",
        -224: "The OA needs to upgrade OA Tier Package to use this feature",
        -227: "User is banned or has been inactive for more than 45 days",
        -230: "User has not interacted with the OA in the past 7 days",
        -232: "User has not interacted with the OA, or the last interaction has expired",
        -233: "message type is invalid or not support",
        -234: "This message cannot be sent at night (10:00PM - 6:00AM)",
        -235: "This API does not support this type of OA",
        -237: "The group is disabled",
        -238: "asset_id is already used",
        -240: "MessageV2 API has been shut down, please switch to MessageV3",
        -241: "asset_id is disabled",
        -242: "Invalid appsecret_proof provided in the API argument",
        -244: "User has restricted this message type from your OA",
        -248: "Violates our platform standards",
        -249: "Template does not support send via UID",
        -320: "Your app needs to connect with Zalo Cloud Account to use paid features",
        -321: "Zalo Cloud Account is out of money or unable to be charged",
        -403: "OA is not in group",
    }
)
"""Zalo's message text for each OA API code, spelling (and misspelling) as Zalo sends it."""


LEGACY_ERROR_MESSAGES: Final[Mapping[int, str]] = MappingProxyType(
    {
        # Older codes that clients still meet (part 2 §7.1, all UNCERTAIN). The texts are those
        # of the PyPI package zalo-sdk 0.3.0 (ZaloOAException.py), which says its table follows
        # developers.zalo.me/docs/api/official-account-api/phu-luc/ma-loi-post-735.
        -202: "Invalid Mac",
        -207: "Official Account has not been registered as a 3rd party",
        -208: "Official Account does not have secret key",
        -215: "Invalid App ID",
        -222: "User is blocked or inactive for more than 45 days",
        -305: "Official Account cannot response to user after 48 hours",
        -311: "Out of quota for responding to user message",
        # The sign and magnitude variants of the invalid-token error one integration saw in live
        # traffic (part 2 §7.2, GC): the text is that of -216.
        216: "Access token is invalid",
        -401: "Access token is invalid",
        401: "Access token is invalid",
    }
)
"""The text of each older or variant code, for faults and `error_code_overrides` (UNCERTAIN)."""


def invalid_field_message(field: str) -> str:
    """Return the -201 message naming `field`, e.g. `recipient.user_id is invalid!`."""
    return f"{field} is invalid!"


def message_for(code: int) -> str | None:
    """Return Zalo's message text for `code` (current table, then older codes), or None."""
    return ERROR_MESSAGES.get(code) or LEGACY_ERROR_MESSAGES.get(code)
