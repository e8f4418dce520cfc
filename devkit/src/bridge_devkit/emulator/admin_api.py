"""The aiohttp handlers of the `/_emulator/` admin API (not part of Zalo): inspect and steer."""

from __future__ import annotations

from typing import TYPE_CHECKING

from pydantic import ValidationError

from bridge_devkit.emulator.admin_models import (
    ConfigPatch,
    FaultsIn,
    FollowersIn,
    TokenIn,
    TokenRef,
)
from bridge_devkit.emulator.clock import to_iso
from bridge_devkit.emulator.keys import STATE_KEY
from bridge_devkit.emulator.message_log import RecordFilter
from bridge_devkit.emulator.responses import json_response
from bridge_devkit.emulator.views import (
    fault_view,
    follower_view,
    read_view,
    record_view,
    settings_view,
    token_view,
)

if TYPE_CHECKING:
    from aiohttp import web

__all__ = ["ADMIN_PREFIX", "add_admin_routes"]

ADMIN_PREFIX = "/_emulator"
"""The path prefix of every admin endpoint."""


def add_admin_routes(app: web.Application) -> None:
    """Register the admin endpoints on `app`."""
    router = app.router
    router.add_get(f"{ADMIN_PREFIX}/health", _health)
    router.add_get(f"{ADMIN_PREFIX}/messages", _list_messages)
    router.add_delete(f"{ADMIN_PREFIX}/messages", _clear_messages)
    router.add_get(f"{ADMIN_PREFIX}/reads", _list_reads)
    router.add_delete(f"{ADMIN_PREFIX}/reads", _clear_reads)
    router.add_get(f"{ADMIN_PREFIX}/followers", _list_followers)
    router.add_put(f"{ADMIN_PREFIX}/followers", _upsert_followers)
    router.add_delete(f"{ADMIN_PREFIX}/followers", _clear_followers)
    router.add_get(f"{ADMIN_PREFIX}/faults", _list_faults)
    router.add_post(f"{ADMIN_PREFIX}/faults", _add_faults)
    router.add_delete(f"{ADMIN_PREFIX}/faults", _clear_faults)
    router.add_delete(f"{ADMIN_PREFIX}/faults/{{fault_id}}", _delete_fault)
    router.add_get(f"{ADMIN_PREFIX}/config", _get_config)
    router.add_put(f"{ADMIN_PREFIX}/config", _update_config)
    router.add_get(f"{ADMIN_PREFIX}/tokens", _list_tokens)
    router.add_post(f"{ADMIN_PREFIX}/tokens", _put_token)
    router.add_post(f"{ADMIN_PREFIX}/tokens/revoke", _revoke_token)
    router.add_post(f"{ADMIN_PREFIX}/tokens/restore", _restore_token)
    router.add_post(f"{ADMIN_PREFIX}/tokens/forget", _forget_token)


async def _health(request: web.Request) -> web.Response:
    state = request.app[STATE_KEY]
    return json_response(
        {
            "status": "ok",
            "app_id": state.config.app_id,
            "oa_id": state.config.oa_id,
            "time": to_iso(state.clock()),
            "messages": len(state.messages),
        }
    )


async def _list_messages(request: web.Request) -> web.Response:
    state = request.app[STATE_KEY]
    status = request.query.get("status", RecordFilter.ACCEPTED.value)
    try:
        which = RecordFilter(status)
    except ValueError:
        return _bad_request("status must be one of accepted, rejected, all")
    try:
        after_seq = _non_negative_query(request, "after_seq")
        limit = _non_negative_query(request, "limit")
    except ValueError as exc:
        return _bad_request(str(exc))
    records = state.messages.query(
        user_id=request.query.get("user_id"),
        which=which,
        phone=request.query.get("phone"),
        endpoint=request.query.get("endpoint"),
    )
    if after_seq is not None:
        records = [r for r in records if r.seq > after_seq]
    if limit is not None:
        records = records[:limit]
    return json_response({"count": len(records), "messages": [record_view(r) for r in records]})


def _non_negative_query(request: web.Request, name: str) -> int | None:
    """Read the optional integer query parameter `name` (>= 0)."""
    text = request.query.get(name)
    if text is None:
        return None
    if not text.isdigit():
        raise ValueError(f"{name} must be an integer >= 0")
    return int(text)


async def _clear_messages(request: web.Request) -> web.Response:
    return json_response({"deleted": request.app[STATE_KEY].messages.clear()})


async def _list_reads(request: web.Request) -> web.Response:
    reads = request.app[STATE_KEY].reads.query(user_id=request.query.get("user_id"))
    return json_response({"count": len(reads), "reads": [read_view(r) for r in reads]})


async def _clear_reads(request: web.Request) -> web.Response:
    return json_response({"deleted": request.app[STATE_KEY].reads.clear()})


async def _list_followers(request: web.Request) -> web.Response:
    followers = request.app[STATE_KEY].followers.all()
    return json_response({"followers": [follower_view(f) for f in followers]})


async def _upsert_followers(request: web.Request) -> web.Response:
    state = request.app[STATE_KEY]
    try:
        payload = FollowersIn.model_validate_json(await request.read())
    except ValidationError as exc:
        return _bad_request("invalid request body", exc)
    now = state.clock()
    followers = [item.to_follower(now) for item in payload.root]
    for follower in followers:
        state.followers.upsert(follower)
    return json_response(
        {"upserted": len(followers), "followers": [follower_view(f) for f in followers]}
    )


async def _clear_followers(request: web.Request) -> web.Response:
    return json_response({"deleted": request.app[STATE_KEY].followers.clear()})


async def _list_faults(request: web.Request) -> web.Response:
    state = request.app[STATE_KEY]
    rules = state.faults.pending(state.clock())
    return json_response({"faults": [fault_view(rule) for rule in rules]})


async def _add_faults(request: web.Request) -> web.Response:
    state = request.app[STATE_KEY]
    now = state.clock()
    try:
        payload = FaultsIn.model_validate_json(await request.read())
        items = [(item, item.to_fault(), item.expiry(now)) for item in payload.items()]
    except ValidationError as exc:
        return _bad_request("invalid request body", exc)
    except ValueError as exc:
        return _bad_request(str(exc))
    rules = [
        state.faults.add(
            fault,
            count=item.resolved_count(),
            user_id=item.user_id,
            endpoint=item.endpoint,
            probability=item.probability,
            expires_at=expires_at,
        )
        for item, fault, expires_at in items
    ]
    return json_response({"queued": [fault_view(rule) for rule in rules]})


async def _clear_faults(request: web.Request) -> web.Response:
    return json_response({"deleted": request.app[STATE_KEY].faults.clear()})


async def _delete_fault(request: web.Request) -> web.Response:
    fault_id = request.match_info["fault_id"]
    if not request.app[STATE_KEY].faults.remove(fault_id):
        return json_response({"error": f"no pending fault {fault_id}", "detail": None}, status=404)
    return json_response({"deleted": 1})


async def _get_config(request: web.Request) -> web.Response:
    state = request.app[STATE_KEY]
    return json_response(
        {
            "app_id": state.config.app_id,
            "oa_id": state.config.oa_id,
            **settings_view(state.settings),
        }
    )


async def _update_config(request: web.Request) -> web.Response:
    state = request.app[STATE_KEY]
    try:
        patch = ConfigPatch.model_validate_json(await request.read())
    except ValidationError as exc:
        return _bad_request("invalid request body", exc)
    settings = state.update_settings(**patch.model_dump(exclude_none=True))
    return json_response(
        {"app_id": state.config.app_id, "oa_id": state.config.oa_id, **settings_view(settings)}
    )


async def _list_tokens(request: web.Request) -> web.Response:
    tokens = request.app[STATE_KEY].tokens.all()
    return json_response({"tokens": [token_view(token) for token in tokens]})


async def _put_token(request: web.Request) -> web.Response:
    state = request.app[STATE_KEY]
    try:
        payload = TokenIn.model_validate_json(await request.read())
    except ValidationError as exc:
        return _bad_request("invalid request body", exc)
    token = state.tokens.put(payload.access_token, payload.expiry(state.clock()))
    return json_response(token_view(token), status=201)


async def _revoke_token(request: web.Request) -> web.Response:
    # The token stays known but is refused with -220 ("expired or removed") until restored.
    state = request.app[STATE_KEY]
    try:
        ref = TokenRef.model_validate_json(await request.read())
    except ValidationError as exc:
        return _bad_request("invalid request body", exc)
    if not state.tokens.revoke(ref.access_token):
        return _unknown_token()
    token = state.tokens.get(ref.access_token)
    assert token is not None  # noqa: S101 - just revoked
    return json_response(token_view(token))


async def _restore_token(request: web.Request) -> web.Response:
    # Undoes a revocation; the expiry stays as it was.
    state = request.app[STATE_KEY]
    try:
        ref = TokenRef.model_validate_json(await request.read())
    except ValidationError as exc:
        return _bad_request("invalid request body", exc)
    token = state.tokens.restore(ref.access_token)
    if token is None:
        return _unknown_token()
    return json_response(token_view(token))


async def _forget_token(request: web.Request) -> web.Response:
    # The token becomes unknown (-216) until it is posted again.
    state = request.app[STATE_KEY]
    try:
        ref = TokenRef.model_validate_json(await request.read())
    except ValidationError as exc:
        return _bad_request("invalid request body", exc)
    if not state.tokens.remove(ref.access_token):
        return _unknown_token()
    return json_response({"access_token": ref.access_token, "forgotten": True})


def _unknown_token() -> web.Response:
    return json_response({"error": "unknown access token", "detail": None}, status=404)


def _bad_request(message: str, exc: ValidationError | None = None) -> web.Response:
    detail = (
        None
        if exc is None
        else exc.errors(include_url=False, include_context=False, include_input=False)
    )
    return json_response({"error": message, "detail": detail}, status=400)
