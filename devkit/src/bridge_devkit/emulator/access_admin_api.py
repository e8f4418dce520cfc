"""The admin calls (`/_emulator/…`) for OAuth, template messages, the webhook and user events."""

from __future__ import annotations

from typing import TYPE_CHECKING, TypeVar

from pydantic import BaseModel, ValidationError

from bridge_devkit.emulator.access_admin_models import (
    CodeIn,
    EventsIn,
    OAuthConfigPatch,
    RefreshTokenIn,
    TemplatesIn,
    WebhookPatch,
    ZbsPatch,
)
from bridge_devkit.emulator.access_views import (
    code_view,
    delivery_view,
    event_view,
    oauth_settings_view,
    refresh_attempt_view,
    refresh_token_view,
    template_view,
    webhook_view,
    zbs_view,
)
from bridge_devkit.emulator.events import emit_events
from bridge_devkit.emulator.keys import DISPATCHER_KEY, STATE_KEY
from bridge_devkit.emulator.oauth_store import RefreshTokenSource
from bridge_devkit.emulator.responses import json_response
from bridge_devkit.emulator.webhook import EventStatus
from bridge_devkit.emulator.zalo_api import base_url_of

if TYPE_CHECKING:
    from aiohttp import web

    from bridge_devkit.emulator.webhook import WebhookEvent

__all__ = ["add_access_admin_routes"]

_PREFIX = "/_emulator"

_Model = TypeVar("_Model", bound=BaseModel)


def add_access_admin_routes(app: web.Application) -> None:
    """Register the OAuth, template, webhook and event admin endpoints on `app`."""
    router = app.router
    router.add_get(f"{_PREFIX}/oauth/config", _get_oauth_config)
    router.add_put(f"{_PREFIX}/oauth/config", _update_oauth_config)
    router.add_get(f"{_PREFIX}/oauth/codes", _list_codes)
    router.add_post(f"{_PREFIX}/oauth/codes", _mint_code)
    router.add_get(f"{_PREFIX}/oauth/refresh-tokens", _list_refresh_tokens)
    router.add_post(f"{_PREFIX}/oauth/refresh-tokens", _seed_refresh_token)
    router.add_get(f"{_PREFIX}/oauth/refresh-log", _refresh_log)
    router.add_delete(f"{_PREFIX}/oauth/refresh-log", _clear_refresh_log)
    router.add_get(f"{_PREFIX}/templates", _list_templates)
    router.add_put(f"{_PREFIX}/templates", _upsert_templates)
    router.add_delete(f"{_PREFIX}/templates", _clear_templates)
    router.add_get(f"{_PREFIX}/zbs", _get_zbs)
    router.add_put(f"{_PREFIX}/zbs", _update_zbs)
    router.add_get(f"{_PREFIX}/webhook", _get_webhook)
    router.add_put(f"{_PREFIX}/webhook", _update_webhook)
    router.add_post(f"{_PREFIX}/webhook/run-due", _run_due)
    router.add_get(f"{_PREFIX}/events", _list_events)
    router.add_post(f"{_PREFIX}/events", _post_events)
    router.add_delete(f"{_PREFIX}/events", _clear_events)


# ---------------------------------------------------------------- OAuth


async def _get_oauth_config(request: web.Request) -> web.Response:
    return json_response(oauth_settings_view(request.app[STATE_KEY].oauth.settings))


async def _update_oauth_config(request: web.Request) -> web.Response:
    settings = request.app[STATE_KEY].oauth.settings
    patch = await _parse(request, OAuthConfigPatch)
    if isinstance(patch, _BadRequest):
        return patch.response
    if patch.access_token_lifetime_s is not None:
        settings.access_token_lifetime_s = patch.access_token_lifetime_s
    if patch.refresh_token_lifetime_s is not None:
        settings.refresh_token_lifetime_s = patch.refresh_token_lifetime_s
    if patch.code_lifetime_s is not None:
        settings.code_lifetime_s = patch.code_lifetime_s
    if patch.revoke_previous_access_token is not None:
        settings.revoke_previous_access_token = patch.revoke_previous_access_token
    if patch.redirect_uris is not None:
        settings.redirect_uris = tuple(patch.redirect_uris)
    if patch.error_codes is not None:
        settings.error_codes.update(patch.error_codes)
    return json_response(oauth_settings_view(settings))


async def _list_codes(request: web.Request) -> web.Response:
    state = request.app[STATE_KEY]
    now = state.clock()
    return json_response({"codes": [code_view(code, now) for code in state.oauth.codes()]})


async def _mint_code(request: web.Request) -> web.Response:
    # Stands in for the OA admin's consent in a browser: the code goes straight to the caller.
    state = request.app[STATE_KEY]
    payload = await _parse(request, CodeIn)
    if isinstance(payload, _BadRequest):
        return payload.response
    now = state.clock()
    code = state.oauth.issue_code(
        payload.challenge(),
        now,
        redirect_uri=payload.redirect_uri,
        value=payload.code,
        lifetime_s=payload.expires_in,
    )
    return json_response({**code_view(code, now), "oa_id": state.config.oa_id}, status=201)


async def _list_refresh_tokens(request: web.Request) -> web.Response:
    state = request.app[STATE_KEY]
    now = state.clock()
    tokens = state.oauth.refresh_tokens()
    return json_response({"refresh_tokens": [refresh_token_view(t, now) for t in tokens]})


async def _seed_refresh_token(request: web.Request) -> web.Response:
    state = request.app[STATE_KEY]
    payload = await _parse(request, RefreshTokenIn)
    if isinstance(payload, _BadRequest):
        return payload.response
    now = state.clock()
    token = state.oauth.add_refresh_token(
        payload.refresh_token,
        now,
        expires_at=payload.expiry(now, state.oauth.settings.refresh_token_lifetime_s),
        source=RefreshTokenSource.SEEDED,
        access_token=payload.access_token,
    )
    return json_response(refresh_token_view(token, now), status=201)


async def _refresh_log(request: web.Request) -> web.Response:
    oauth = request.app[STATE_KEY].oauth
    attempts = oauth.attempts(request.query.get("refresh_token"))
    return json_response(
        {"count": len(attempts), "attempts": [refresh_attempt_view(a) for a in attempts]}
    )


async def _clear_refresh_log(request: web.Request) -> web.Response:
    return json_response({"deleted": request.app[STATE_KEY].oauth.clear_attempts()})


# ---------------------------------------------------------------- templates


async def _list_templates(request: web.Request) -> web.Response:
    templates = request.app[STATE_KEY].templates.all()
    return json_response({"templates": [template_view(t) for t in templates]})


async def _upsert_templates(request: web.Request) -> web.Response:
    store = request.app[STATE_KEY].templates
    payload = await _parse(request, TemplatesIn)
    if isinstance(payload, _BadRequest):
        return payload.response
    templates = [item.to_template() for item in payload.root]
    for template in templates:
        store.upsert(template)
    return json_response(
        {"upserted": len(templates), "templates": [template_view(t) for t in templates]}
    )


async def _clear_templates(request: web.Request) -> web.Response:
    return json_response({"deleted": request.app[STATE_KEY].templates.clear()})


async def _get_zbs(request: web.Request) -> web.Response:
    state = request.app[STATE_KEY]
    return json_response(zbs_view(state.templates, state.clock()))


async def _update_zbs(request: web.Request) -> web.Response:
    state = request.app[STATE_KEY]
    settings = state.templates.settings
    patch = await _parse(request, ZbsPatch)
    if isinstance(patch, _BadRequest):
        return patch.response
    if patch.daily_quota is not None:
        settings.daily_quota = patch.daily_quota
    if patch.phones_without_account is not None:
        settings.phones_without_account = set(patch.phones_without_account)
    if patch.token_error is not None:
        settings.token_error = patch.token_error
    if patch.admin_phones is not None:
        settings.admin_phones = set(patch.admin_phones)
    if patch.dev_quota is not None:
        settings.dev_quota = patch.dev_quota
    if patch.dev_mode_receipts is not None:
        settings.dev_mode_receipts = patch.dev_mode_receipts
    return json_response(zbs_view(state.templates, state.clock()))


# ---------------------------------------------------------------- webhook and events


async def _get_webhook(request: web.Request) -> web.Response:
    return json_response(webhook_view(request.app[STATE_KEY].webhook))


async def _update_webhook(request: web.Request) -> web.Response:
    outbox = request.app[STATE_KEY].webhook
    patch = await _parse(request, WebhookPatch)
    if isinstance(patch, _BadRequest):
        return patch.response
    settings = outbox.settings
    changes = patch.model_dump(exclude_none=True, exclude={"enabled", "retry_delays_s"})
    for name, value in changes.items():
        setattr(settings, name, value)
    if patch.retry_delays_s is not None:
        settings.retry_delays_s = tuple(patch.retry_delays_s)
    if patch.enabled is True:
        outbox.enable()
    elif patch.enabled is False:
        settings.enabled = False
    return json_response(webhook_view(outbox))


async def _run_due(request: web.Request) -> web.Response:
    # Makes every attempt due at the emulator's clock (retries included) and waits for them.
    attempts = await request.app[DISPATCHER_KEY].run_due()
    return json_response(
        {
            "attempted": len(attempts),
            "delivered": sum(attempt.ok for attempt in attempts),
            "attempts": [delivery_view(attempt) for attempt in attempts],
        }
    )


async def _list_events(request: web.Request) -> web.Response:
    outbox = request.app[STATE_KEY].webhook
    status_text = request.query.get("status")
    try:
        status = None if status_text is None else EventStatus(status_text)
    except ValueError:
        choices = ", ".join(s.value for s in EventStatus)
        return _error(f"status must be one of {choices}")
    events = outbox.events(event_name=request.query.get("event_name"), status=status)
    return json_response({"count": len(events), "events": [event_view(e) for e in events]})


async def _post_events(request: web.Request) -> web.Response:
    # Applies what the users did, queues the events, and makes their first attempts now (in
    # order) when the webhook is on; the answer shows each event with that attempt.
    state = request.app[STATE_KEY]
    payload = await _parse(request, EventsIn)
    if isinstance(payload, _BadRequest):
        return payload.response
    now = state.clock()
    events: list[WebhookEvent] = []
    problem = None
    base_url = base_url_of(request)
    for item in payload.items():
        try:
            events += emit_events(state, item.to_spec(base_url), now)
        except ValueError as exc:  # the events before this one stand
            problem = str(exc)
            break
    await request.app[DISPATCHER_KEY].deliver(events)
    views = [event_view(e) for e in events]
    if problem is not None:
        return json_response({"error": problem, "detail": None, "events": views}, status=400)
    return json_response({"events": views}, status=201)


async def _clear_events(request: web.Request) -> web.Response:
    return json_response({"deleted": request.app[STATE_KEY].webhook.clear()})


# ---------------------------------------------------------------- helpers


class _BadRequest:
    """A refused admin body, with the answer to send."""

    __slots__ = ("response",)

    def __init__(self, response: web.Response) -> None:
        self.response = response


async def _parse(request: web.Request, model: type[_Model]) -> _Model | _BadRequest:
    try:
        return model.model_validate_json(await request.read())
    except ValidationError as exc:
        detail = exc.errors(include_url=False, include_context=False, include_input=False)
        return _BadRequest(
            json_response({"error": "invalid request body", "detail": detail}, status=400)
        )


def _error(message: str) -> web.Response:
    return json_response({"error": message, "detail": None}, status=400)
