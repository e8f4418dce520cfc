"""The aiohttp handlers of the emulated Zalo OA API: latency, injected faults, Zalo's answers."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from aiohttp import web

from bridge_devkit.emulator.faults import DelayFault, Fault
from bridge_devkit.emulator.keys import STATE_KEY
from bridge_devkit.emulator.responses import json_response
from bridge_devkit.emulator.rules import (
    ApiReply,
    IncomingCall,
    reject_with_fault,
    send_consultation,
)
from bridge_devkit.emulator.state import EmulatorState
from bridge_devkit.emulator.validation import decode_json, peek_user_id

__all__ = ["CS_MESSAGE_PATH", "SendRule", "add_zalo_routes", "serve_zalo_call"]

CS_MESSAGE_PATH = "/v3.0/oa/message/cs"
"""The consultation (customer-service) message endpoint on `openapi.zalo.me`."""

SendRule = Callable[[EmulatorState, IncomingCall, Fault | None], ApiReply]
"""The pure rules of one endpoint: state, call, and a non-replacing fault (a delay) → answer."""


def add_zalo_routes(app: web.Application) -> None:
    """Register the emulated Zalo endpoints on `app`."""
    app.router.add_post(CS_MESSAGE_PATH, _message_cs)


async def _message_cs(request: web.Request) -> web.StreamResponse:
    return await serve_zalo_call(request, CS_MESSAGE_PATH, _cs_rule)


def _cs_rule(state: EmulatorState, call: IncomingCall, fault: Fault | None) -> ApiReply:
    return send_consultation(state, call, fault=fault)


async def serve_zalo_call(
    request: web.Request, endpoint: str, rule: SendRule
) -> web.StreamResponse:
    """Run one Zalo API call through faults, `rule` and latency, and answer it.

    The call is decided and logged as soon as it arrives; the answer then waits for the
    configured latency (plus a delay fault's time) before it is written. An error or HTTP
    fault replaces the answer; a drop fault closes the connection without answering.
    """
    state = request.app[STATE_KEY]
    raw = await request.read()
    body = decode_json(raw)
    call = IncomingCall(
        endpoint=endpoint,
        access_token=request.headers.get("access_token"),
        body=body,
        raw_body=raw,
        now=state.clock(),
    )
    fault = state.faults.take(endpoint, peek_user_id(body))
    delay_s = state.latency_s()
    reply: ApiReply | None
    if fault is None or isinstance(fault, DelayFault):
        reply = rule(state, call, fault)
        if fault is not None:
            delay_s += fault.ms / 1000.0
    else:
        reply = reject_with_fault(state, call, fault)
    if delay_s > 0:
        await asyncio.sleep(delay_s)
    if reply is None:
        return _drop(request)
    if isinstance(reply.payload, str):
        return web.Response(
            text=reply.payload, status=reply.status, headers=reply.headers, content_type="text/html"
        )
    return json_response(reply.payload, status=reply.status, headers=reply.headers)


def _drop(request: web.Request) -> web.StreamResponse:
    # Closing the transport makes aiohttp's write of the (never sent) response fail with a
    # ConnectionError, which it handles quietly: the client sees the connection end unanswered.
    transport = request.transport
    if transport is not None:
        transport.close()
    return web.Response(status=200)
