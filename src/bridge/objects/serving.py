"""Serves the local backend's signed links on bridge's HTTP port (``GET <local_url_path>``).

A genuine, unexpired link gets the object's bytes with its content type, a SHA-256 header, and
headers that keep a browser from running what it reads (``nosniff``, a sandboxing
Content-Security-Policy, ``attachment``). A forged, altered, expired or malformed link and a
missing object all get the same 404, so a prober learns nothing; stored bytes that no longer
match their SHA-256 get a 500 and are never served.
"""

from __future__ import annotations

import json
import time
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs

from bridge.errors import ObjectIntegrityError, ObjectNotFoundError, ObjectStoreError
from bridge.observability.logs import get_logger

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from bridge.objects.local import LocalObjectStore
    from bridge.objects.signing import LinkSigner

    Scope = dict[str, Any]
    Receive = Callable[[], Awaitable[dict[str, Any]]]
    Send = Callable[[dict[str, Any]], Awaitable[None]]

__all__ = ["signed_link_endpoint"]

_log = get_logger("bridge.objects")
_MAX_QUERY = 4096


def signed_link_endpoint(
    store: LocalObjectStore,
    signer: LinkSigner,
    *,
    clock: Callable[[], float] = time.time,
) -> Callable[[Scope, Receive, Send], Awaitable[None]]:
    """The ASGI app answering ``GET``/``HEAD`` of the local backend's signed links."""

    async def app(scope: Scope, _receive: Receive, send: Send) -> None:
        method = scope.get("method")
        if method not in {"GET", "HEAD"}:
            await _answer(send, 405, "method not allowed", allow=b"GET, HEAD")
            return
        raw = scope.get("query_string") or b""
        if len(raw) > _MAX_QUERY:
            await _answer(send, 404, "not found")
            return
        query = parse_qs(raw.decode("latin-1"), keep_blank_values=True)
        try:
            key = signer.verify(query, clock())
            content = await store.get(key)
        except ObjectNotFoundError:
            await _answer(send, 404, "not found")
            return
        except ObjectIntegrityError:
            _log.error("stored object failed its SHA-256 check; not served")
            await _answer(send, 500, "object damaged")
            return
        except ObjectStoreError:
            _log.warning("object storage failed while serving a link", exc_info=True)
            await _answer(send, 503, "object storage unavailable")
            return
        info = content.info
        headers = [
            (b"content-type", info.content_type.encode("ascii")),
            (b"content-length", str(info.size).encode()),
            (b"x-content-sha256", info.sha256.encode("ascii")),
            (b"content-disposition", b"attachment"),
            (b"x-content-type-options", b"nosniff"),
            (b"content-security-policy", b"default-src 'none'; sandbox"),
            (b"cache-control", b"private, no-store"),
        ]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        body = b"" if method == "HEAD" else content.data
        await send({"type": "http.response.body", "body": body})

    return app


async def _answer(send: Send, status: int, reason: str, *, allow: bytes | None = None) -> None:
    body = json.dumps({"status": reason}).encode()
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
        (b"cache-control", b"no-store"),
    ]
    if allow is not None:
        headers.append((b"allow", allow))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
