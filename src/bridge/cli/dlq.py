"""The ``zalo-bridge dlq`` commands: inspect the dead-letter topic and replay records from it."""

from __future__ import annotations

import asyncio
import unicodedata
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Annotated
from zoneinfo import ZoneInfo

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

from bridge.cli.options import ConfigOption, settings_or_exit
from bridge.cli.output import JsonOption, emit_json
from bridge.delivery.replay import (
    InvalidSelectionError,
    ReplayCriteria,
    ReplayError,
    list_dead_letters,
    parse_time,
    replay_dead_letters,
)
from bridge.errors import InvalidEventReason

if TYPE_CHECKING:
    from collections import Counter

    from bridge.delivery.replay import DeadLetterListing, DeadLetterRecord, ReplaySummary

__all__ = ["dlq_cli"]

dlq_cli = typer.Typer(
    help="Inspect the dead-letter topic and replay records from it to the input topic.",
    no_args_is_help=True,
)

_REASONS = tuple(reason.value for reason in InvalidEventReason)


def _reasons(values: list[str] | None) -> list[str] | None:
    for value in values or ():
        if value not in _REASONS:
            raise typer.BadParameter(f"{value!r} is not one of {', '.join(_REASONS)}")
    return values


def _time(value: str | None) -> str | None:
    if value is not None:
        try:
            parse_time(value, now=datetime.now(UTC))
        except InvalidSelectionError as exc:
            raise typer.BadParameter(str(exc)) from exc
    return value


ReasonOption = Annotated[
    list[str] | None,
    typer.Option(
        "--reason",
        help=f"Only records with this x-dlq-reason, repeat for any of: {', '.join(_REASONS)}.",
        callback=_reasons,
    ),
]
SinceOption = Annotated[
    str | None,
    typer.Option(
        "--since",
        help="Dead-lettered at or after: ISO 8601 with offset (2026-03-10T09:00:00+07:00) or "
        "a duration ago (30m, 2h, 3d, 1w).",
        callback=_time,
    ),
]
UntilOption = Annotated[
    str | None,
    typer.Option("--until", help="Dead-lettered before: same forms as --since.", callback=_time),
]
CaseOption = Annotated[
    list[str] | None,
    typer.Option("--case", help="Only this dossier code (the record key); repeat for several."),
]


def _criteria(
    reasons: list[str] | None,
    since: str | None,
    until: str | None,
    cases: list[str] | None,
    limit: int | None = None,
) -> ReplayCriteria:
    now = datetime.now(UTC)
    try:
        return ReplayCriteria(
            reasons=frozenset(reasons or ()),
            cases=frozenset(cases or ()),
            since=None if since is None else parse_time(since, now=now),
            until=None if until is None else parse_time(until, now=now),
            limit=limit,
        )
    except InvalidSelectionError as exc:
        typer.echo(f"zalo-bridge: {exc}", err=True)
        raise typer.Exit(code=2) from exc


def _printable(text: str) -> str:
    """Replace control characters, so a record's bytes cannot drive the operator's terminal."""
    return "".join("?" if unicodedata.category(c).startswith("C") else c for c in text)


def _counts(counter: Counter[str]) -> str:
    ordered = sorted(counter.items(), key=lambda item: (-item[1], item[0]))
    return ", ".join(f"{_printable(name)} {count}" for name, count in ordered) or "none"


def _describe(record: DeadLetterRecord, zone: ZoneInfo) -> list[str]:
    at = record.dead_lettered_at
    when = at.astimezone(zone).isoformat(timespec="seconds") if at else "unknown time"
    line = "  ".join(
        [
            when,
            _printable(record.reason or "(no reason)"),
            _printable(record.case_code or "(no key)"),
            f"from {_printable(record.original or 'unknown')}",
            f"dlq {_printable(record.coordinates)}",
        ]
    )
    detail = record.detail
    return [line] if not detail else [line, f"    {_printable(detail)}"]


@dlq_cli.command("list")
def list_command(  # noqa: PLR0913 - one option per filter, all with defaults
    *,
    reason: ReasonOption = None,
    since: SinceOption = None,
    until: UntilOption = None,
    case: CaseOption = None,
    newest: Annotated[
        int, typer.Option("--newest", min=0, help="How many of the newest records to show.")
    ] = 20,
    config: ConfigOption = None,
    as_json: JsonOption = False,
) -> None:
    """Count dead-lettered records by reason and show the newest (never their contents)."""
    settings = settings_or_exit(config)
    criteria = _criteria(reason, since, until, case)
    try:
        listing = asyncio.run(list_dead_letters(settings.kafka, criteria, newest=newest))
    except ReplayError as exc:
        typer.echo(f"zalo-bridge: {exc}", err=True)
        raise typer.Exit(code=1) from exc
    zone = ZoneInfo(settings.province.timezone)
    if as_json:
        emit_json(_listing_document(listing, zone))
        return
    typer.echo(f"{listing.topic}: {listing.scanned} records read, {listing.matched} matching")
    for name, count in sorted(listing.by_reason.items(), key=lambda item: (-item[1], item[0])):
        typer.echo(f"  {_printable(name):<22}{count:>8}")
    if listing.newest:
        typer.echo(f"newest {len(listing.newest)}:")
        for record in listing.newest:
            for line in _describe(record, zone):
                typer.echo(f"  {line}")


@dlq_cli.command("replay")
def replay_command(  # noqa: PLR0913 - one option per filter, all with defaults
    *,
    reason: ReasonOption = None,
    since: SinceOption = None,
    until: UntilOption = None,
    case: CaseOption = None,
    limit: Annotated[
        int | None, typer.Option("--limit", min=1, help="Replay at most this many records.")
    ] = None,
    to_topic: Annotated[
        str | None,
        typer.Option("--to-topic", help="Publish there instead of the configured input topic."),
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Select and report; publish nothing.")
    ] = False,
    config: ConfigOption = None,
    as_json: JsonOption = False,
) -> None:
    """Re-publish the selected dead-lettered records, unchanged, to the input topic.

    Copies keep the value bytes, key and original headers, plus x-replayed-from and x-replay-id.

    The delivery ledger keeps a citizen from receiving a message twice.
    """
    settings = settings_or_exit(config)
    criteria = _criteria(reason, since, until, case, limit)
    with Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=Console(stderr=True),
        disable=as_json,
    ) as bar:
        task = bar.add_task("dry run" if dry_run else "replaying", total=None)

        def advance(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        try:
            summary = asyncio.run(
                replay_dead_letters(
                    settings.kafka,
                    criteria,
                    target_topic=to_topic,
                    dry_run=dry_run,
                    progress=advance,
                )
            )
        except InvalidSelectionError as exc:
            bar.stop()
            typer.echo(f"zalo-bridge: {exc}", err=True)
            raise typer.Exit(code=2) from exc
        except ReplayError as exc:
            bar.stop()
            if exc.summary is not None:
                _print_summary(exc.summary, as_json=as_json)
            typer.echo(f"zalo-bridge: {exc}", err=True)
            raise typer.Exit(code=1) from exc
    _print_summary(summary, as_json=as_json)


def _listing_document(listing: DeadLetterListing, zone: ZoneInfo) -> dict[str, object]:
    """``dlq list --json``: the counts and the newest records' coordinates (never contents)."""
    return {
        "topic": listing.topic,
        "scanned": listing.scanned,
        "matched": listing.matched,
        "by_reason": dict(sorted(listing.by_reason.items())),
        "newest": [
            {
                "dead_lettered_at": (
                    record.dead_lettered_at.astimezone(zone).isoformat(timespec="seconds")
                    if record.dead_lettered_at
                    else None
                ),
                "reason": record.reason,
                "case_code": record.case_code,
                "original": record.original,
                "dead_letter": record.coordinates,
                "detail": record.detail,
            }
            for record in listing.newest
        ],
    }


def _print_summary(summary: ReplaySummary, *, as_json: bool = False) -> None:
    if as_json:
        emit_json(
            {
                "replay_id": summary.replay_id,
                "source_topic": summary.source_topic,
                "target_topic": summary.target_topic,
                "dry_run": summary.dry_run,
                "scanned": summary.scanned,
                "selected": summary.selected,
                "replayed": summary.replayed,
                "by_reason": dict(sorted(summary.by_reason.items())),
                "skipped": dict(sorted(summary.skipped.items())),
                "limit_reached": summary.limit_reached,
            }
        )
        return
    mode = "dry run, nothing published" if summary.dry_run else f"{summary.replayed} replayed"
    typer.echo(f"replay {summary.replay_id}: {summary.source_topic} -> {summary.target_topic}")
    typer.echo(f"  {summary.scanned} read, {summary.selected} selected, {mode}")
    typer.echo(f"  selected by reason: {_counts(summary.by_reason)}")
    typer.echo(f"  skipped by filter: {_counts(summary.skipped)}")
    if summary.limit_reached:
        typer.echo("  stopped at --limit")
