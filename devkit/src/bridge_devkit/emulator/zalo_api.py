"""The aiohttp handlers of the emulated Zalo OA API: latency, injected faults, Zalo's answers."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from functools import partial

from aiohttp import BodyPartReader, web

from bridge_devkit.emulator.calls import ApiReply, IncomingCall
from bridge_devkit.emulator.conversation import (
    CONVERSATION_PATH,
    RECENT_CHATS_PATH,
    peek_query_user_id,
    read_conversation,
    reject_read_with_fault,
)
from bridge_devkit.emulator.events import receipt_for
from bridge_devkit.emulator.faults import DelayFault, Fault
from bridge_devkit.emulator.keys import DISPATCHER_KEY, STATE_KEY
from bridge_devkit.emulator.oa_info import OA_INFO_PATH, read_oa_info, reject_oa_info_with_fault
from bridge_devkit.emulator.responses import json_response
from bridge_devkit.emulator.rules import reject_with_fault, send_consultation
from bridge_devkit.emulator.state import EmulatorState
from bridge_devkit.emulator.template_store import TEMPLATE_PHONE_PATH, TEMPLATE_UID_PATH
from bridge_devkit.emulator.templates import (
    peek_template_recipient,
    reject_template_with_fault,
    send_template_by_phone,
    send_template_by_uid,
)
from bridge_devkit.emulator.upload_store import UPLOAD_PATHS, UploadKind
from bridge_devkit.emulator.uploads import UploadedFile, reject_upload_with_fault, upload
from bridge_devkit.emulator.validation import decode_json, peek_user_id

__all__ = [
    "CONVERSATION_PATH",
    "CS_MESSAGE_PATH",
    "OA_INFO_PATH",
    "RECENT_CHATS_PATH",
    "TEMPLATE_PHONE_PATH",
    "TEMPLATE_UID_PATH",
    "FaultReply",
    "SendRule",
    "add_zalo_routes",
    "answer_zalo_call",
    "base_url_of",
    "serve_zalo_call",
]

CS_MESSAGE_PATH = "/v3.0/oa/message/cs"
"""The consultation (customer-service) message endpoint on `openapi.zalo.me`."""

SendRule = Callable[[EmulatorState, IncomingCall, Fault | None], ApiReply]
"""The pure rules of one endpoint: state, call, and a non-replacing fault (a delay) → answer."""

FaultReply = Callable[[EmulatorState, IncomingCall, Fault], ApiReply | None]
"""Logs a call answered by a replacing fault and returns that answer (None to drop it)."""


def add_zalo_routes(app: web.Application) -> None:
    """Register the emulated Zalo endpoints on `app`."""
    app.router.add_post(CS_MESSAGE_PATH, _message_cs)
    app.router.add_get(CONVERSATION_PATH, _conversation)
    app.router.add_get(RECENT_CHATS_PATH, _conversation)
    app.router.add_get(OA_INFO_PATH, _oa_info)
    for kind, path in UPLOAD_PATHS.items():
        app.router.add_post(path, partial(_upload, kind=kind))
    app.router.add_post(TEMPLATE_UID_PATH, _template_by_uid)
    app.router.add_post(TEMPLATE_PHONE_PATH, _template_by_phone)


async def _message_cs(request: web.Request) -> web.StreamResponse:
    response = await serve_zalo_call(request, CS_MESSAGE_PATH, _with_receipt(_cs_rule))
    request.app[DISPATCHER_KEY].kick()
    return response


def _cs_rule(state: EmulatorState, call: IncomingCall, fault: Fault | None) -> ApiReply:
    return send_consultation(state, call, fault=fault)


async def _template_by_uid(request: web.Request) -> web.StreamResponse:
    return await _serve_template(request, TEMPLATE_UID_PATH, send_template_by_uid)


async def _template_by_phone(request: web.Request) -> web.StreamResponse:
    return await _serve_template(request, TEMPLATE_PHONE_PATH, send_template_by_phone)


async def _serve_template(
    request: web.Request, endpoint: str, rule: SendRule
) -> web.StreamResponse:
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
    response = await answer_zalo_call(
        request,
        call,
        _with_receipt(rule),
        recipient=peek_template_recipient(body),
        reject=reject_template_with_fault,
    )
    request.app[DISPATCHER_KEY].kick()
    return response


def _with_receipt(rule: SendRule) -> SendRule:
    """Wrap `rule` so that a message it accepts is followed by a receipt event, if configured."""

    def rule_then_receipt(
        state: EmulatorState, call: IncomingCall, fault: Fault | None
    ) -> ApiReply:
        before = state.messages.latest()
        reply = rule(state, call, fault)
        record = state.messages.latest()
        if record is not None and record is not before and record.accepted:
            receipt_for(state, record, call.now)
        return reply

    return rule_then_receipt


async def _conversation(request: web.Request) -> web.StreamResponse:
    # The JSON arrives URL-encoded in the `data` query parameter (reference §2).
    state = request.app[STATE_KEY]
    data = request.query.get("data")
    raw = b"" if data is None else data.encode()
    body = decode_json(raw)
    call = IncomingCall(
        endpoint=request.path,
        access_token=request.headers.get("access_token"),
        body=body,
        raw_body=raw,
        now=state.clock(),
        base_url=base_url_of(request),
    )
    return await answer_zalo_call(
        request,
        call,
        read_conversation,
        recipient=peek_query_user_id(body),
        reject=reject_read_with_fault,
    )


async def _oa_info(request: web.Request) -> web.StreamResponse:
    # No parameter: the call is about the OA itself, so it has no recipient for faults.
    state = request.app[STATE_KEY]
    call = IncomingCall(
        endpoint=OA_INFO_PATH,
        access_token=request.headers.get("access_token"),
        body=None,
        raw_body=b"",
        now=state.clock(),
    )
    return await answer_zalo_call(
        request, call, read_oa_info, recipient=None, reject=reject_oa_info_with_fault
    )


async def serve_zalo_call(
    request: web.Request, endpoint: str, rule: SendRule
) -> web.StreamResponse:
    """Run one Zalo API call with a JSON body through faults, `rule` and latency, and answer it.

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
    return await answer_zalo_call(request, call, rule, recipient=peek_user_id(body))


async def answer_zalo_call(  # noqa: PLR0913 - the options are keyword-only
    request: web.Request,
    call: IncomingCall,
    rule: SendRule,
    *,
    recipient: str | None,
    reject: FaultReply = reject_with_fault,
    named_faults_only: bool = False,
) -> web.StreamResponse:
    """Answer a decoded call: pick a fault for `recipient`, apply `rule` or `reject`, then wait.

    Args:
        request: The aiohttp request (for the state and the transport).
        call: The decoded call.
        rule: The endpoint's rules, run when no fault replaces the answer.
        recipient: The user the call is about, for faults restricted to one user.
        reject: Logs and answers a call whose answer a fault replaces.
        named_faults_only: Only faults naming the call's endpoint apply (the OAuth host).
    """
    state = request.app[STATE_KEY]
    fault = state.faults.take(call.endpoint, recipient, call.now, named_only=named_faults_only)
    delay_s = state.latency_s()
    reply: ApiReply | None
    if fault is None or isinstance(fault, DelayFault):
        reply = rule(state, call, fault)
        if fault is not None:
            delay_s += fault.ms / 1000.0
    else:
        reply = reject(state, call, fault)
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


async def _upload(request: web.Request, *, kind: UploadKind) -> web.StreamResponse:
    # multipart/form-data with one part named `file` (part 2 §1.1). The body is read up to the
    # app's size cap; a larger one gets HTTP 413 (a gateway's answer), a smaller one the rules.
    state = request.app[STATE_KEY]
    file = await _read_file_part(request)
    call = IncomingCall(
        endpoint=UPLOAD_PATHS[kind],
        access_token=request.headers.get("access_token"),
        body=file,
        raw_body=b"",
        now=state.clock(),
        base_url=base_url_of(request),
    )
    return await answer_zalo_call(
        request,
        call,
        partial(upload, kind=kind),
        recipient=None,
        reject=partial(reject_upload_with_fault, kind=kind),
    )


async def _read_file_part(request: web.Request) -> UploadedFile | None:
    if not request.content_type.startswith("multipart/"):
        await request.read()
        return None
    try:
        reader = await request.multipart()
        while (part := await reader.next()) is not None:
            if isinstance(part, BodyPartReader) and part.name == "file":
                data = await part.read(decode=False)
                return UploadedFile(
                    name=part.filename or "",
                    content_type=part.headers.get("Content-Type", "application/octet-stream"),
                    data=bytes(data),
                )
            if isinstance(part, BodyPartReader):
                await part.release()
    except ValueError:  # a malformed multipart body
        return None
    return None


def base_url_of(request: web.Request) -> str:
    """Return the scheme and host a request came to (for the URLs of hosted files)."""
    configured = request.app[STATE_KEY].attachments.settings.base_url
    return configured.rstrip("/") if configured else str(request.url.origin())
