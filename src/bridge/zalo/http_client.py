"""The HTTP client under the Zalo OA client: pool, timeouts and transport (aiohttp or httpcore)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import httpx
from httpx_aiohttp import AiohttpTransport

if TYPE_CHECKING:
    from collections.abc import Callable

    from bridge.zalo.settings import ZaloSettings

__all__ = ["zalo_http_client", "zalo_http_transport"]


def zalo_http_transport(
    zalo: ZaloSettings,
    *,
    instrument: Callable[[httpx.AsyncBaseTransport], httpx.AsyncBaseTransport] | None = None,
) -> httpx.AsyncBaseTransport:
    """The transport under the OA API client: aiohttp's pool or httpx's, as ``zalo`` says.

    Args:
        zalo: Pool size and ``http_transport``.
        instrument: Wraps the transport (``Metrics.instrument`` times every call).
    """
    limits = _limits(zalo)
    transport: httpx.AsyncBaseTransport = (
        AiohttpTransport(limits=limits)
        if zalo.http_transport == "aiohttp"
        else httpx.AsyncHTTPTransport(limits=limits)
    )
    return instrument(transport) if instrument is not None else transport


def zalo_http_client(
    zalo: ZaloSettings,
    *,
    instrument: Callable[[httpx.AsyncBaseTransport], httpx.AsyncBaseTransport] | None = None,
    transport: httpx.AsyncBaseTransport | None = None,
) -> httpx.AsyncClient:
    """An ``httpx.AsyncClient`` for the OA API host, as ``zalo`` configures it.

    Args:
        zalo: Base URL, timeouts, pool size and ``http_transport`` (aiohttp's pool or httpx's).
        instrument: Wraps the transport (``Metrics.instrument`` times every call).
        transport: The transport ``zalo_http_transport`` built (``instrument`` is then unused),
            for a ``ZaloClient`` that sends on it directly.

    Returns:
        The client; the caller closes it (which closes the transport).
    """
    return httpx.AsyncClient(
        base_url=str(zalo.base_url),
        timeout=httpx.Timeout(zalo.timeout_seconds, connect=zalo.connect_timeout_seconds),
        limits=_limits(zalo),
        transport=transport or zalo_http_transport(zalo, instrument=instrument),
        headers={"user-agent": "zalo-bridge"},
    )


def _limits(zalo: ZaloSettings) -> httpx.Limits:
    return httpx.Limits(
        max_connections=zalo.max_connections,
        max_keepalive_connections=zalo.max_connections,
    )
