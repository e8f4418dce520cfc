"""The HTTP client under the Zalo OA client: pool, timeouts and transport (aiohttp or httpcore)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import httpx
from httpx_aiohttp import AiohttpTransport

if TYPE_CHECKING:
    from collections.abc import Callable

    from bridge.zalo.settings import ZaloSettings

__all__ = ["zalo_http_client"]


def zalo_http_client(
    zalo: ZaloSettings,
    *,
    instrument: Callable[[httpx.AsyncBaseTransport], httpx.AsyncBaseTransport] | None = None,
) -> httpx.AsyncClient:
    """An ``httpx.AsyncClient`` for the OA API host, as ``zalo`` configures it.

    Args:
        zalo: Base URL, timeouts, pool size and ``http_transport`` (aiohttp's pool or httpx's).
        instrument: Wraps the transport (``Metrics.instrument`` times every call).

    Returns:
        The client; the caller closes it.
    """
    limits = httpx.Limits(
        max_connections=zalo.max_connections,
        max_keepalive_connections=zalo.max_connections,
    )
    transport: httpx.AsyncBaseTransport = (
        AiohttpTransport(limits=limits)
        if zalo.http_transport == "aiohttp"
        else httpx.AsyncHTTPTransport(limits=limits)
    )
    return httpx.AsyncClient(
        base_url=str(zalo.base_url),
        timeout=httpx.Timeout(zalo.timeout_seconds, connect=zalo.connect_timeout_seconds),
        limits=limits,
        transport=instrument(transport) if instrument is not None else transport,
        headers={"user-agent": "zalo-bridge"},
    )
