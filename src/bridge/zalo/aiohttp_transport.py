"""An httpx transport on one aiohttp session that reads each (small) answer whole."""

from __future__ import annotations

from typing import TYPE_CHECKING

import aiohttp
import httpx
from httpx_aiohttp.transport import map_aiohttp_exceptions

if TYPE_CHECKING:
    import ssl

__all__ = ["WholeAnswerTransport"]


class WholeAnswerTransport(httpx.AsyncBaseTransport):
    """httpx's ``Request``/``Response`` over aiohttp's pool, for an API of small answers.

    What ``httpx_aiohttp.AiohttpTransport`` does for a call, less what the OA API never needs,
    measured per event (docs/performance.md, issue 16's fourth stop):

    - the answer is read whole inside the call (``ClientResponse.read``) and handed over as
      httpx's in-memory body, so the connection goes back to the pool at once; no async
      iterator of chunks, no exception-mapping context per chunk, no stream to close later;
    - the timeouts are built once per distinct value, not per call;
    - no cookie jar: the OA API authenticates with a header and sets no cookie (aiohttp's
      default jar filters its cookies for every request and parses every answer's);
    - a streamed request body (a multipart upload) is read into memory first (the client holds
      the file already), so aiohttp sends it with its length, as httpx does.

    Everything else is as ``AiohttpTransport``: the same request headers (httpx's), redirects
    never followed (a 3xx is an answer), no decompression by aiohttp (httpx decodes), httpx's
    timeouts mapped the same way (``pool`` bounds getting a connection, ``connect`` the
    socket's connect, ``read`` each read), and aiohttp's errors raised as the same httpx errors
    ``from`` the original, so ``classify_transport_failure`` reads the same chain.

    Args:
        limits: ``max_connections`` bounds the pool; ``keepalive_expiry`` idle connections.
        ssl_context: For HTTPS; None: httpx's default context (certifi, no client cert).
    """

    def __init__(self, *, limits: httpx.Limits, ssl_context: ssl.SSLContext | None = None) -> None:
        self._limits = limits
        self._ssl = ssl_context if ssl_context is not None else httpx.create_ssl_context()
        self._session: aiohttp.ClientSession | None = None
        self._timeouts: dict[tuple[float | None, ...], aiohttp.ClientTimeout] = {}

    def _open(self) -> aiohttp.ClientSession:
        """The session, made on first use (aiohttp binds it to the running loop)."""
        connector = aiohttp.TCPConnector(
            limit=self._limits.max_connections or 0,
            keepalive_timeout=self._limits.keepalive_expiry,
            ssl=self._ssl,
        )
        self._session = aiohttp.ClientSession(
            connector=connector, cookie_jar=aiohttp.DummyCookieJar()
        )
        return self._session

    def _timeout(self, request: httpx.Request) -> aiohttp.ClientTimeout:
        spec = request.extensions.get("timeout", {})
        key = (spec.get("pool"), spec.get("connect"), spec.get("read"))
        timeout = self._timeouts.get(key)
        if timeout is None:
            timeout = self._timeouts[key] = aiohttp.ClientTimeout(
                connect=key[0], sock_connect=key[1], sock_read=key[2]
            )
        return timeout

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        """Send ``request`` and read its whole answer; aiohttp's errors as httpx's."""
        session = self._session or self._open()
        streamed = not isinstance(request.stream, httpx.ByteStream)
        headers = request.headers.multi_items()
        if streamed:  # read whole below: aiohttp sends it with its length
            headers = [(k, v) for k, v in headers if k.lower() != "transfer-encoding"]
        with map_aiohttp_exceptions():
            body = await request.aread()
            async with session.request(
                request.method,
                str(request.url),
                headers=headers,
                data=body or None,
                allow_redirects=False,
                auto_decompress=False,
                compress=False,
                timeout=self._timeout(request),
                server_hostname=request.extensions.get("sni_hostname"),
            ) as answer:
                content = await answer.read()
        extensions: dict[str, object] = {"http_version": b"HTTP/1.1"}
        if answer.reason:
            extensions["reason_phrase"] = answer.reason.encode()
        return httpx.Response(
            answer.status,
            headers=answer.raw_headers,
            stream=httpx.ByteStream(content),
            request=request,
            extensions=extensions,
        )

    async def aclose(self) -> None:
        """Close the pool."""
        if self._session is not None:
            await self._session.close()
