"""Zalo OA Open API: the client bridge sends with, and the meaning of Zalo's error codes."""

from bridge.zalo.client import (
    OaProfile,
    SendReceipt,
    StaticToken,
    TokenSource,
    ZaloClient,
    normalise_phone,
)
from bridge.zalo.codes import classify_error, classify_zns_error

__all__ = [
    "OaProfile",
    "SendReceipt",
    "StaticToken",
    "TokenSource",
    "ZaloClient",
    "classify_error",
    "classify_zns_error",
    "normalise_phone",
]
