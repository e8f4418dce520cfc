"""The admin calls for the way in: uploads, hosted files, button taps, scripted citizens.

Also serves the hosted files themselves (`GET /_zdn/…`), standing in for Zalo's CDN.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from bridge_devkit.emulator.attachments import CDN_PREFIX
from bridge_devkit.emulator.citizen_models import ScriptIn
from bridge_devkit.emulator.citizen_runner import ScriptRegistry, run_view
from bridge_devkit.emulator.clock import to_iso
from bridge_devkit.emulator.events import tap
from bridge_devkit.emulator.keys import DISPATCHER_KEY, STATE_KEY
from bridge_devkit.emulator.responses import json_response
from bridge_devkit.emulator.upload_store import FileResponseKey, NoExtension
from bridge_devkit.emulator.zalo_api import base_url_of

if TYPE_CHECKING:
    from bridge_devkit.emulator.attachments import HostedFile
    from bridge_devkit.emulator.upload_store import Upload, UploadAttempt

__all__ = ["SCRIPTS_KEY", "add_citizen_routes"]

_PREFIX = "/_emulator"

SCRIPTS_KEY = web.AppKey("zalo_oa_emulator_scripts", ScriptRegistry)
"""The scripted citizens of an application."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class UploadsPatch(_Strict):
    """Upload knobs to change (`PUT /_emulator/uploads/config`); absent fields stay."""

    image_types: list[str] | None = None
    gif_types: list[str] | None = None
    file_types: list[str] | None = None
    image_max_bytes: int | None = Field(default=None, ge=1)
    gif_max_bytes: int | None = Field(default=None, ge=1)
    file_max_bytes: int | None = Field(default=None, ge=1)
    asset_lifetime_s: float | None = Field(default=None, gt=0)
    monthly_quota: int | None = Field(default=None, ge=0)
    check_content: bool | None = None
    file_response_key: FileResponseKey | None = None
    no_extension: NoExtension | None = None
    unknown_asset_error: int | None = Field(default=None, lt=0)


class AttachmentsPatch(_Strict):
    """File-host knobs to change (`PUT /_emulator/attachments/config`); absent fields stay."""

    url_ttl_s: float | None = Field(default=None, gt=0)
    expired_status: int | None = Field(default=None, ge=400, le=599)
    base_url: str | None = Field(default=None, description='"" = the admin call\'s host.')


class TapIn(_Strict):
    """A button tap (`POST /_emulator/taps`)."""

    user_id: str = Field(min_length=1)
    message_id: str | None = None
    index: int | None = Field(default=None, ge=0)
    title: str | None = None
    payload: str | None = None


def add_citizen_routes(app: web.Application) -> None:
    """Register the upload, file-host, tap and script endpoints on `app`."""
    router = app.router
    router.add_get(f"{_PREFIX}/uploads", _list_uploads)
    router.add_delete(f"{_PREFIX}/uploads", _clear_uploads)
    router.add_get(f"{_PREFIX}/uploads/config", _get_upload_config)
    router.add_put(f"{_PREFIX}/uploads/config", _update_upload_config)
    router.add_get(f"{_PREFIX}/uploads/content", _upload_content)
    router.add_post(f"{_PREFIX}/uploads/expire", _expire_upload)
    router.add_get(f"{_PREFIX}/attachments", _list_hosted)
    router.add_get(f"{_PREFIX}/attachments/config", _get_host_config)
    router.add_put(f"{_PREFIX}/attachments/config", _update_host_config)
    router.add_post(f"{_PREFIX}/attachments/{{key}}/expire", _expire_hosted)
    router.add_post(f"{_PREFIX}/taps", _tap)
    router.add_post(f"{_PREFIX}/scripts", _start_script)
    router.add_get(f"{_PREFIX}/scripts", _list_scripts)
    router.add_get(f"{_PREFIX}/scripts/schema", _script_schema)
    router.add_get(f"{_PREFIX}/scripts/{{run_id}}", _get_script)
    router.add_delete(f"{_PREFIX}/scripts/{{run_id}}", _cancel_script)
    router.add_get(f"{CDN_PREFIX}/t/{{key}}/{{name}}", _serve_hosted)
    router.add_get(f"{CDN_PREFIX}/{{key}}/{{name}}", _serve_hosted)
    app.on_startup.append(_start_registry)
    app.on_cleanup.append(_stop_registry)


async def _start_registry(app: web.Application) -> None:
    app[SCRIPTS_KEY] = ScriptRegistry(app[STATE_KEY], app[DISPATCHER_KEY])


async def _stop_registry(app: web.Application) -> None:
    await app[SCRIPTS_KEY].close()


# ---------------------------------------------------------------- uploads


def _upload_view(upload: Upload, now: float) -> dict[str, object]:
    return {
        "asset_id": upload.asset_id,
        "kind": upload.kind.value,
        "name": upload.name,
        "content_type": upload.content_type,
        "size": upload.size,
        "sha256": upload.sha256,
        "uploaded_at": to_iso(upload.uploaded_at),
        "expires_at": to_iso(upload.expires_at),
        "status": "expired" if upload.expired(now) else "valid",
        "sends": upload.sends,
    }


def _attempt_view(attempt: UploadAttempt) -> dict[str, object]:
    return {
        "seq": attempt.seq,
        "at": to_iso(attempt.at),
        "kind": attempt.kind.value,
        "name": attempt.name,
        "size": attempt.size,
        "error": attempt.error,
        "asset_id": attempt.asset_id,
        "fault": attempt.fault,
    }


async def _list_uploads(request: web.Request) -> web.Response:
    state = request.app[STATE_KEY]
    now = state.clock()
    store = state.uploads
    return json_response(
        {
            "uploads": [_upload_view(upload, now) for upload in store.all()],
            "attempts": [_attempt_view(attempt) for attempt in store.attempts()],
            "used_this_month": store.used_this_month(now),
        }
    )


async def _clear_uploads(request: web.Request) -> web.Response:
    return json_response({"deleted": request.app[STATE_KEY].uploads.clear()})


def _upload_settings_view(request: web.Request) -> dict[str, object]:
    settings = request.app[STATE_KEY].uploads.settings
    return {
        "image_types": list(settings.image_types),
        "gif_types": list(settings.gif_types),
        "file_types": list(settings.file_types),
        "image_max_bytes": settings.image_max_bytes,
        "gif_max_bytes": settings.gif_max_bytes,
        "file_max_bytes": settings.file_max_bytes,
        "asset_lifetime_s": settings.asset_lifetime_s,
        "monthly_quota": settings.monthly_quota,
        "check_content": settings.check_content,
        "file_response_key": settings.file_response_key.value,
        "no_extension": settings.no_extension.value,
        "unknown_asset_error": settings.unknown_asset_error,
    }


async def _get_upload_config(request: web.Request) -> web.Response:
    return json_response(_upload_settings_view(request))


async def _update_upload_config(request: web.Request) -> web.Response:
    try:
        patch = UploadsPatch.model_validate_json(await request.read())
    except ValidationError as exc:
        return _bad_request(exc)
    settings = request.app[STATE_KEY].uploads.settings
    for name, value in patch.model_dump(exclude_none=True).items():
        setattr(settings, name, tuple(value) if isinstance(value, list) else value)
    return json_response(_upload_settings_view(request))


async def _upload_content(request: web.Request) -> web.Response:
    # The id goes in the query (`?asset_id=`): ids may hold `/`, `+` and `=` (part 2 §1.3).
    upload = request.app[STATE_KEY].uploads.get(request.query.get("asset_id", ""))
    if upload is None:
        return json_response({"error": "unknown asset", "detail": None}, status=404)
    return web.Response(body=upload.data, content_type="application/octet-stream")


class _AssetRef(_Strict):
    asset_id: str = Field(min_length=1)


async def _expire_upload(request: web.Request) -> web.Response:
    # The id goes in the body: ids may hold `/`, `+` and `=` (part 2 §1.3).
    state = request.app[STATE_KEY]
    try:
        ref = _AssetRef.model_validate_json(await request.read())
    except ValidationError as exc:
        return _bad_request(exc)
    upload = state.uploads.expire(ref.asset_id, state.clock())
    if upload is None:
        return json_response({"error": "unknown asset", "detail": None}, status=404)
    return json_response(_upload_view(upload, state.clock()))


# ---------------------------------------------------------------- hosted files


def _hosted_view(hosted: HostedFile, now: float, base_url: str) -> dict[str, object]:
    return {
        "key": hosted.key,
        "url": base_url + hosted.path(),
        "name": hosted.name,
        "content_type": hosted.content_type,
        "size": hosted.size,
        "user_id": hosted.user_id,
        "created_at": to_iso(hosted.created_at),
        "expires_at": to_iso(hosted.expires_at),
        "status": "expired" if now >= hosted.expires_at else "valid",
        "downloads": hosted.downloads,
    }


async def _list_hosted(request: web.Request) -> web.Response:
    state = request.app[STATE_KEY]
    now = state.clock()
    base = base_url_of(request)
    files = [_hosted_view(hosted, now, base) for hosted in state.attachments.all()]
    return json_response({"attachments": files})


def _host_settings_view(request: web.Request) -> dict[str, object]:
    settings = request.app[STATE_KEY].attachments.settings
    return {
        "url_ttl_s": settings.url_ttl_s,
        "expired_status": settings.expired_status,
        "base_url": settings.base_url,
    }


async def _get_host_config(request: web.Request) -> web.Response:
    return json_response(_host_settings_view(request))


async def _update_host_config(request: web.Request) -> web.Response:
    try:
        patch = AttachmentsPatch.model_validate_json(await request.read())
    except ValidationError as exc:
        return _bad_request(exc)
    settings = request.app[STATE_KEY].attachments.settings
    if patch.url_ttl_s is not None:
        settings.url_ttl_s = patch.url_ttl_s
    if patch.expired_status is not None:
        settings.expired_status = patch.expired_status
    if patch.base_url is not None:
        settings.base_url = patch.base_url or None
    return json_response(_host_settings_view(request))


async def _expire_hosted(request: web.Request) -> web.Response:
    state = request.app[STATE_KEY]
    hosted = state.attachments.expire(request.match_info["key"], state.clock())
    if hosted is None:
        return json_response({"error": "unknown file", "detail": None}, status=404)
    return json_response(_hosted_view(hosted, state.clock(), base_url_of(request)))


async def _serve_hosted(request: web.Request) -> web.Response:
    state = request.app[STATE_KEY]
    hosted = state.attachments.get(request.match_info["key"])
    if hosted is None:
        return web.Response(status=404, text="Not Found")
    if state.clock() >= hosted.expires_at:
        status = state.attachments.settings.expired_status
        return web.Response(status=status, text="Expired")
    hosted.downloads += 1
    return web.Response(body=hosted.data, headers={"Content-Type": hosted.content_type})


# ---------------------------------------------------------------- taps and scripts


async def _tap(request: web.Request) -> web.Response:
    state = request.app[STATE_KEY]
    try:
        payload = TapIn.model_validate_json(await request.read())
    except ValidationError as exc:
        return _bad_request(exc)
    try:
        result = tap(
            state,
            payload.user_id,
            state.clock(),
            message_id=payload.message_id,
            index=payload.index,
            title=payload.title,
            payload=payload.payload,
        )
    except ValueError as exc:
        return json_response({"error": str(exc), "detail": None}, status=400)
    await request.app[DISPATCHER_KEY].deliver(result.events)
    button = result.button
    return json_response(
        {
            "message_id": result.message_id,
            "index": result.index,
            "button": {"title": button.title, "type": button.type, "payload": button.payload},
            "events": [{"seq": e.seq, "status": e.status.value} for e in result.events],
        },
        status=201,
    )


async def _start_script(request: web.Request) -> web.Response:
    try:
        script = ScriptIn.model_validate_json(await request.read())
    except ValidationError as exc:
        return _bad_request(exc)
    registry = request.app[SCRIPTS_KEY]
    registry.set_base_url(base_url_of(request))
    run = registry.start(script)
    if script.wait:
        await registry.wait(run, script.timeout_s + 5.0)
        return json_response(run_view(run), status=200)
    return json_response(run_view(run), status=202)


async def _list_scripts(request: web.Request) -> web.Response:
    runs = request.app[SCRIPTS_KEY].all()
    return json_response({"scripts": [run_view(run) for run in runs]})


async def _script_schema(_request: web.Request) -> web.Response:
    return json_response(ScriptIn.model_json_schema())


async def _get_script(request: web.Request) -> web.Response:
    registry = request.app[SCRIPTS_KEY]
    run = registry.get(request.match_info["run_id"])
    if run is None:
        return json_response({"error": "unknown script", "detail": None}, status=404)
    wait_text = request.query.get("wait_s")
    if wait_text is not None:
        try:
            wait_s = min(float(wait_text), 600.0)
        except ValueError:
            return json_response({"error": "wait_s must be a number", "detail": None}, status=400)
        await registry.wait(run, max(wait_s, 0.0))
    return json_response(run_view(run))


async def _cancel_script(request: web.Request) -> web.Response:
    registry = request.app[SCRIPTS_KEY]
    run = registry.get(request.match_info["run_id"])
    if run is None:
        return json_response({"error": "unknown script", "detail": None}, status=404)
    registry.cancel(run)
    await registry.wait(run, 5.0)
    return json_response(run_view(run))


def _bad_request(exc: ValidationError) -> web.Response:
    detail = exc.errors(include_url=False, include_context=False, include_input=False)
    return json_response({"error": "invalid request body", "detail": detail}, status=400)
