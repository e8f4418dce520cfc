"""The ``zalo-bridge announce`` commands: how far an announcement's fan-out has got."""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Annotated

import typer

from bridge.announcements.store import AnnouncementStore
from bridge.cli.options import ConfigOption, settings_or_exit
from bridge.cli.output import JsonOption  # noqa: TC001 - typer reads annotations at run time
from bridge.store.database import open_database

if TYPE_CHECKING:
    from bridge.announcements.store import Progress

__all__ = ["announce_cli", "describe_progress"]

announce_cli = typer.Typer(help="Government announcements sent to citizens.", no_args_is_help=True)


def _when(moment: float | None) -> str:
    if moment is None:
        return "-"
    return datetime.fromtimestamp(moment, UTC).isoformat(timespec="seconds")


def describe_progress(progress: Progress) -> str:
    """The human-readable status of one announcement (pure)."""
    rate = progress.per_minute
    eta = progress.eta_seconds
    lines = [
        f"announcement {progress.announcement_id}: {progress.status} ({progress.urgency})",
        f"title:    {progress.title}",
        f"total:    {progress.total if progress.total is not None else 'listing…'}",
        f"sent:     {progress.sent}",
        f"failed:   {progress.failed}",
        f"pending:  {progress.pending}",
    ]
    if progress.expired:
        lines.append(f"expired:  {progress.expired}")
    lines.append(f"rate:     {f'{rate:.0f}/min' if rate is not None else '-'}")
    lines.append(f"eta:      {f'{eta:.0f} s' if eta is not None else '-'}")
    lines.append(f"started:  {_when(progress.started_at)}")
    lines.append(f"finished: {_when(progress.finished_at)}")
    for reason, count in sorted(progress.reasons.items()):
        lines.append(f"  {reason}: {count}")
    return "\n".join(lines)


async def _progress(url: str, announcement_id: str) -> Progress | None:
    database = open_database(url, pool_size=1)
    try:
        return await AnnouncementStore(database).progress(announcement_id)
    finally:
        await database.dispose()


@announce_cli.command("status")
def status(
    announcement_id: Annotated[str, typer.Argument(help="The announcement's id (a UUID).")],
    config: ConfigOption = None,
    *,
    as_json: JsonOption = False,
) -> None:
    """Print total, sent, failed, pending, rate and ETA of one announcement (exit 1: unknown)."""
    try:
        uuid.UUID(announcement_id)
    except ValueError as exc:
        raise typer.BadParameter("not a UUID", param_hint="ANNOUNCEMENT_ID") from exc
    settings = settings_or_exit(config)
    progress = asyncio.run(_progress(settings.store.url.get_secret_value(), announcement_id))
    if progress is None:
        typer.echo(f"zalo-bridge: no announcement {announcement_id}", err=True)
        raise typer.Exit(code=1)
    if as_json:
        document = {
            "announcement_id": progress.announcement_id,
            "status": progress.status,
            "total": progress.total,
            "sent": progress.sent,
            "failed": progress.failed,
            "pending": progress.pending,
            "expired": progress.expired,
            "per_minute": progress.per_minute,
            "eta_seconds": progress.eta_seconds,
            "reasons": progress.reasons,
        }
        typer.echo(json.dumps(document, ensure_ascii=False))
        return
    typer.echo(describe_progress(progress))
