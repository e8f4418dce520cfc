"""The aiohttp handlers of the emulated OAuth v4 host (`oauth.zaloapp.com`): token and consent."""

from __future__ import annotations

from functools import partial

from aiohttp import web

from bridge_devkit.emulator.calls import IncomingCall
from bridge_devkit.emulator.keys import STATE_KEY
from bridge_devkit.emulator.oauth import (
    OAUTH_PERMISSION_PATH,
    OAUTH_TOKEN_PATH,
    ConsentRedirect,
    consent,
    parse_form,
    reject_token_request_with_fault,
    request_token,
)
from bridge_devkit.emulator.responses import json_response
from bridge_devkit.emulator.zalo_api import answer_zalo_call

__all__ = ["add_oauth_routes"]


def add_oauth_routes(app: web.Application) -> None:
    """Register the OAuth endpoints on `app`."""
    app.router.add_post(OAUTH_TOKEN_PATH, _access_token)
    app.router.add_get(OAUTH_PERMISSION_PATH, _permission)


async def _access_token(request: web.Request) -> web.StreamResponse:
    # Form-encoded body, `secret_key` header. Latency applies; faults only when they name this
    # endpoint (it is another host than the OA API).
    state = request.app[STATE_KEY]
    raw = await request.read()
    call = IncomingCall(
        endpoint=OAUTH_TOKEN_PATH,
        access_token=None,
        body=parse_form(raw),
        raw_body=raw,
        now=state.clock(),
    )
    rule = partial(request_token, secret_key=request.headers.get("secret_key"))
    return await answer_zalo_call(
        request,
        call,
        rule,
        recipient=None,
        reject=reject_token_request_with_fault,
        named_faults_only=True,
    )


async def _permission(request: web.Request) -> web.StreamResponse:
    # The consent page: the OA admin always grants it here (no browser, no login).
    state = request.app[STATE_KEY]
    outcome = consent(state, request.query, state.clock())
    if isinstance(outcome, ConsentRedirect):
        return web.Response(status=302, headers={"Location": outcome.location})
    return json_response(outcome)
