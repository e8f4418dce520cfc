"""Zalo OA Open API: the client bridge sends with, and the meaning of Zalo's error codes."""

from bridge.zalo.client import (
    OaProfile,
    SendReceipt,
    StaticToken,
    TokenSource,
    ZaloClient,
    normalise_phone,
)
from bridge.zalo.codes import ACCOUNT_WIDE_CODES, classify_error, classify_zns_error, zns_classifier
from bridge.zalo.http_client import zalo_http_client, zalo_http_transport
from bridge.zalo.managed_token import ManagedToken, describe_error, refresh_due_at
from bridge.zalo.metrics import watch_tokens
from bridge.zalo.oauth import Pkce, consent_url
from bridge.zalo.read_back import DocumentQuery
from bridge.zalo.settings import TokensConfig, ZaloSettings
from bridge.zalo.token_cipher import new_key
from bridge.zalo.token_setup import (
    managed_tokens_enabled,
    open_managed_token,
    open_oauth,
    open_token_store,
)
from bridge.zalo.token_store import StoredTokens, TokenPair, TokenStore
from bridge.zalo.transport_failures import transport_outcome

__all__ = [
    "ACCOUNT_WIDE_CODES",
    "DocumentQuery",
    "ManagedToken",
    "OaProfile",
    "Pkce",
    "SendReceipt",
    "StaticToken",
    "StoredTokens",
    "TokenPair",
    "TokenSource",
    "TokenStore",
    "TokensConfig",
    "ZaloClient",
    "ZaloSettings",
    "classify_error",
    "classify_zns_error",
    "consent_url",
    "describe_error",
    "managed_tokens_enabled",
    "new_key",
    "normalise_phone",
    "open_managed_token",
    "open_oauth",
    "open_token_store",
    "refresh_due_at",
    "transport_outcome",
    "watch_tokens",
    "zalo_http_client",
    "zalo_http_transport",
    "zns_classifier",
]
