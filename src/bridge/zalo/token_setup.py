"""Build the managed token source, its store and its OAuth client from the settings."""

from __future__ import annotations

from typing import TYPE_CHECKING

import httpx

from bridge.errors import ConfigurationError
from bridge.zalo.managed_token import ManagedToken
from bridge.zalo.oauth import TokenLifetimes, ZaloOAuth
from bridge.zalo.token_cipher import TokenCipher
from bridge.zalo.token_store import TokenStore

if TYPE_CHECKING:
    from collections.abc import Callable

    from bridge.store.database import Database
    from bridge.zalo.settings import TokensConfig, ZaloSettings

__all__ = ["managed_tokens_enabled", "open_managed_token", "open_oauth", "open_token_store"]


def managed_tokens_enabled(zalo: ZaloSettings) -> bool:
    """True when the tokens live in the store (``zalo.token_encryption_key`` is set)."""
    return zalo.token_encryption_key is not None


def _required(value: str | None, name: str) -> str:
    if not value:
        raise ConfigurationError(f"zalo.{name} is required for managed tokens")
    return value


async def open_token_store(
    settings: TokensConfig, *, database: Database | None = None
) -> TokenStore:
    """Open (and migrate) the token store in ``store.url``, on ``database`` when given.

    The row lock is waited for longer than a refresh call may last, so a replica waiting behind
    another one's refresh sees its result instead of failing.
    """
    zalo = settings.zalo
    if zalo.token_encryption_key is None:
        raise ConfigurationError("zalo.token_encryption_key is required for managed tokens")
    cipher = TokenCipher(zalo.token_encryption_key.get_secret_value())
    lock_timeout = 2 * zalo.oauth_timeout_seconds + 10
    if database is not None:
        return TokenStore(database, cipher, lock_timeout_seconds=lock_timeout)
    return await TokenStore.open(
        settings.store.url.get_secret_value(), cipher, lock_timeout_seconds=lock_timeout
    )


def open_oauth(zalo: ZaloSettings) -> tuple[ZaloOAuth, httpx.AsyncClient]:
    """Zalo's token endpoint, and the HTTP client under it (the caller closes it)."""
    secret = zalo.app_secret.get_secret_value() if zalo.app_secret else None
    app_id, app_secret = _required(zalo.app_id, "app_id"), _required(secret, "app_secret")
    http = httpx.AsyncClient(
        base_url=str(zalo.oauth_base_url),
        timeout=httpx.Timeout(zalo.oauth_timeout_seconds, connect=zalo.connect_timeout_seconds),
        headers={"user-agent": "zalo-bridge"},
    )
    oauth = ZaloOAuth(
        http,
        app_id=app_id,
        app_secret=app_secret,
        lifetimes=TokenLifetimes(
            access_seconds=zalo.access_token_lifetime_seconds,
            refresh_seconds=zalo.refresh_token_lifetime_seconds,
        ),
    )
    return oauth, http


async def open_managed_token(
    settings: TokensConfig,
    *,
    owner: str,
    on_health: Callable[[bool], None] | None = None,
    database: Database | None = None,
) -> ManagedToken:
    """The managed token source of ``settings``, started (its refresher runs until ``stop``).

    ``database`` is the process's one database (its schema migrated); without it the store
    opens a database of its own.
    """
    zalo = settings.zalo
    oa_id = _required(zalo.oa_id, "oa_id")
    store = await open_token_store(settings, database=database)
    oauth, http = open_oauth(zalo)
    tokens = ManagedToken(
        store,
        oauth,
        oa_id=oa_id,
        owner=owner,
        refresh_at_fraction=zalo.token_refresh_at_fraction,
        retry_max_seconds=zalo.token_retry_max_seconds,
        on_health=on_health,
        owned=(http.aclose, store.close),
    )
    await tokens.start()
    return tokens
