"""Zalo OA Open API: the client bridge sends with, and the meaning of Zalo's error codes."""

from bridge.zalo.client import SendReceipt, ZaloClient
from bridge.zalo.codes import classify_error

__all__ = ["SendReceipt", "ZaloClient", "classify_error"]
