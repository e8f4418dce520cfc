"""JSON answers for the emulator's aiohttp handlers, and the middleware turning errors into JSON."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from aiohttp import web

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable, Mapping

__all__ = ["json_errors_middleware", "json_response"]


def json_response(
    payload: object, *, status: int = 200, headers: Mapping[str, str] | None = None
) -> web.Response:
    """Return `payload` as compact UTF-8 JSON (non-ASCII text is sent as is, not escaped)."""
    return web.Response(
        text=json.dumps(payload, ensure_ascii=False, separators=(",", ":")),
        status=status,
        headers=headers,
        content_type="application/json",
    )


@web.middleware
async def json_errors_middleware(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    """Answer aiohttp's HTTP errors (unknown route 404, wrong method 405, 413...) as JSON."""
    try:
        return await handler(request)
    except web.HTTPException as exc:
        if exc.status < 400:  # noqa: PLR2004 - redirects and successes pass through
            raise
        headers = {"Allow": exc.headers["Allow"]} if "Allow" in exc.headers else None
        return json_response(
            {"error": exc.status, "message": exc.reason, "path": request.path},
            status=exc.status,
            headers=headers,
        )
