"""The citizens' commands: ``qr``, ``purge``, ``forget`` and ``unlock`` (linking, retention)."""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import asdict
from pathlib import Path
from typing import Annotated, Literal

import typer

from bridge.citizens.receipt_qr import is_case_code, oa_chat_link, render_qr
from bridge.citizens.second_factor import receipt_secret
from bridge.cli.options import ConfigOption, settings_or_exit
from bridge.cli.output import JsonOption, emit_json
from bridge.errors import BridgeError

__all__ = ["forget", "purge", "qr", "unlock"]


def qr(  # noqa: PLR0913 - one option per choice, all with defaults
    case_code: Annotated[str, typer.Argument(help="The dossier code printed on the receipt.")],
    config: ConfigOption = None,
    image_format: Annotated[
        Literal["png", "svg"], typer.Option("--format", help="Image format.")
    ] = "png",
    out: Annotated[
        Path | None, typer.Option("--out", help="Image file; default <case-code>.<format>.")
    ] = None,
    scale: Annotated[int, typer.Option(min=1, max=50, help="Pixels per module.")] = 8,
    *,
    as_json: JsonOption = False,
) -> None:
    """Write the receipt's QR code (it opens the OA chat) and print the link and the secret."""
    settings = settings_or_exit(config)
    code = case_code.strip().upper()
    if not is_case_code(code):
        typer.echo(f"zalo-bridge: {case_code!r} is not a dossier code", err=True)
        raise typer.Exit(code=2)
    linking = settings.linking
    try:
        link = oa_chat_link(linking.qr_url_template, oa_id=settings.webhook.oa_id, case_code=code)
    except ValueError as exc:
        typer.echo(f"zalo-bridge: {exc} (BRIDGE_WEBHOOK__OA_ID)", err=True)
        raise typer.Exit(code=2) from exc
    target = out or Path(f"{code}.{image_format}")
    target.write_bytes(render_qr(link, image_format, scale=scale))
    secret: str | None = None
    if linking.second_factor == "receipt_secret":
        if linking.hmac_key is None:
            typer.echo(
                "zalo-bridge: linking.hmac_key is not set (BRIDGE_LINKING__HMAC_KEY)", err=True
            )
            raise typer.Exit(code=2)
        secret = receipt_secret(
            linking.hmac_key.get_secret_value(), code, length=linking.receipt_secret_length
        )
    if as_json:
        emit_json(
            {
                "case_code": code,
                "image": str(target),
                "link": link,
                "second_factor": linking.second_factor,
                "secret": secret,
                "message": f"{code} {secret}" if secret else None,
            }
        )
        return
    typer.echo(f"QR code: {target}")
    typer.echo(f"Link: {link}")
    if secret is not None:
        typer.echo(f"Mã bí mật: {secret}")
        typer.echo(f"Nhắn vào Zalo OA: {code} {secret}")
    else:
        typer.echo(f"Nhắn vào Zalo OA: {code} <4 số cuối điện thoại>")


def purge(config: ConfigOption = None, *, as_json: JsonOption = False) -> None:
    """Delete what outlived the retention settings (the running bridge also does it).

    Prints the rows deleted per kind as JSON (``--json`` is accepted for uniformity).
    """
    del as_json
    from bridge.citizens.services import retention_policy  # noqa: PLC0415 - keep --help fast
    from bridge.citizens.store import CitizenStore  # noqa: PLC0415 - keep --help fast

    settings = settings_or_exit(config)

    async def run() -> dict[str, int]:
        store = await CitizenStore.open(settings.store.url.get_secret_value())
        try:
            counts = await store.purge(now=time.time(), policy=retention_policy(settings.retention))
        finally:
            await store.close()
        return asdict(counts)

    try:
        counts = asyncio.run(run())
    except BridgeError as exc:
        typer.echo(f"zalo-bridge: {exc}", err=True)
        raise typer.Exit(code=1) from exc
    typer.echo(json.dumps(counts))


def forget(
    user_id: Annotated[str, typer.Argument(help="The citizen's OA-scoped Zalo user id.")],
    config: ConfigOption = None,
    *,
    as_json: JsonOption = False,
) -> None:
    """Delete everything the bridge keeps about one Zalo user (a deletion request).

    Prints the rows deleted as JSON (``--json`` is accepted for uniformity).
    """
    del as_json
    from bridge.citizens.store import CitizenStore  # noqa: PLC0415 - keep --help fast
    from bridge.feedback.store import SurveyStore  # noqa: PLC0415 - same
    from bridge.objects.factory import open_object_store  # noqa: PLC0415 - same
    from bridge.store.database import open_database  # noqa: PLC0415 - same
    from bridge.submissions.store import SubmissionStore  # noqa: PLC0415 - same

    settings = settings_or_exit(config)
    if not user_id.isdigit():
        typer.echo("zalo-bridge: a Zalo user id is a string of digits", err=True)
        raise typer.Exit(code=2)

    async def run() -> int:
        store = await CitizenStore.open(settings.store.url.get_secret_value())
        try:
            deleted = await store.forget(user_id)
        finally:
            await store.close()
        database = open_database(settings.store.url.get_secret_value())
        try:  # the satisfaction survey's rows (its answers, the opt-out) go too
            deleted += await SurveyStore(database).forget(user_id)
            # ... and her submissions: drafts, filed dossiers, their stored files.
            rows, keys = await SubmissionStore(database).forget(user_id)
        finally:
            await database.dispose()
        objects = open_object_store(settings.objects)
        for key in keys:
            await objects.delete(key)
        return deleted + rows

    try:
        deleted = asyncio.run(run())
    except BridgeError as exc:
        typer.echo(f"zalo-bridge: {exc}", err=True)
        raise typer.Exit(code=1) from exc
    typer.echo(json.dumps({"deleted_rows": deleted}))


def unlock(
    case_code: Annotated[str, typer.Argument(help="The dossier code locked against linking.")],
    config: ConfigOption = None,
    *,
    as_json: JsonOption = False,
) -> None:
    """Lift a dossier's lock against linking and forget its wrong attempts (docs/citizens.md).

    For the one-stop desk, once it has checked that the citizen asking holds the dossier: a
    guesser can lock any dossier whose code it knows. Prints the answer as JSON (``--json`` is
    accepted for uniformity).
    """
    del as_json
    from bridge.citizens.store import CitizenStore  # noqa: PLC0415 - keep --help fast

    settings = settings_or_exit(config)
    code = case_code.strip().upper()
    if not is_case_code(code):
        typer.echo(f"zalo-bridge: {case_code!r} is not a dossier code", err=True)
        raise typer.Exit(code=2)

    async def run() -> dict[str, object]:
        store = await CitizenStore.open(settings.store.url.get_secret_value())
        try:
            guard = await store.link_guard(code)
            lifted = await store.unlock(code)
        finally:
            await store.close()
        now = time.time()
        locked = bool(guard and guard["locked_until"] and guard["locked_until"] > now)
        return {"case_code": code, "was_locked": locked, "cleared": lifted}

    try:
        answer = asyncio.run(run())
    except BridgeError as exc:
        typer.echo(f"zalo-bridge: {exc}", err=True)
        raise typer.Exit(code=1) from exc
    typer.echo(json.dumps(answer))
