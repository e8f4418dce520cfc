"""``zalo-bridge feedback report``: satisfaction per agency, department and procedure."""

from __future__ import annotations

import asyncio
from dataclasses import asdict
from datetime import UTC, date, datetime, timedelta
from pathlib import Path  # noqa: TC003 - typer reads the annotations at run time
from typing import Annotated

import typer

from bridge.cli.options import ConfigOption, settings_or_exit
from bridge.cli.output import ExitCode, JsonOption, emit_json, fail
from bridge.errors import BridgeError
from bridge.feedback.report import ReportRow, satisfaction_report, to_csv
from bridge.feedback.store import Survey, SurveyStore
from bridge.store.database import open_database

__all__ = ["feedback_cli"]

feedback_cli = typer.Typer(help="The satisfaction survey's answers.", no_args_is_help=True)


def _day(value: str, option: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError as exc:
        raise fail(f"{option} expects a date YYYY-MM-DD, got {value!r}", ExitCode.USAGE) from exc


def _percent(value: float | None) -> str:
    return "–" if value is None else f"{value * 100:.0f} %"


@feedback_cli.command("report")
def report(
    date_from: Annotated[str, typer.Option("--from", help="First day (YYYY-MM-DD, inclusive).")],
    date_to: Annotated[str, typer.Option("--to", help="Last day (YYYY-MM-DD, inclusive).")],
    config: ConfigOption = None,
    csv_out: Annotated[
        Path | None, typer.Option("--csv", help="Also write the rows to this CSV file.")
    ] = None,
    *,
    as_json: JsonOption = False,
) -> None:
    """Print satisfaction per agency, department and procedure for surveys planned in a period.

    Days are the province's (``province.timezone``). Figures: asked (reached the citizen),
    answered, response rate, mean score (1-5), counts per level, share of "chưa hài lòng".
    """
    settings = settings_or_exit(config)
    first, last = _day(date_from, "--from"), _day(date_to, "--to")
    if last < first:
        raise fail("--to is before --from", ExitCode.USAGE)
    from zoneinfo import ZoneInfo  # noqa: PLC0415 - only here

    zone = ZoneInfo(settings.province.timezone)
    start = datetime.combine(first, datetime.min.time(), tzinfo=zone).timestamp()
    end = datetime.combine(last + timedelta(days=1), datetime.min.time(), tzinfo=zone).timestamp()

    async def read() -> list[Survey]:
        database = open_database(settings.store.url.get_secret_value())
        try:
            return await SurveyStore(database).between(start, end)
        finally:
            await database.dispose()

    try:
        surveys = asyncio.run(read())
    except BridgeError as exc:
        raise fail(str(exc)) from exc
    rows = satisfaction_report(surveys)
    if csv_out is not None:
        csv_out.write_text(to_csv(rows), encoding="utf-8")
    if as_json:
        emit_json(
            {
                "from": first.isoformat(),
                "to": last.isoformat(),
                "generated_at": datetime.now(UTC).isoformat(),
                "rows": [asdict(row) for row in rows],
            }
        )
        return
    _print(rows, first, last)


def _print(rows: list[ReportRow], first: date, last: date) -> None:
    typer.echo(f"Mức độ hài lòng {first.isoformat()} → {last.isoformat()}")
    if not rows:
        typer.echo("(chưa có khảo sát nào trong khoảng này)")
        return
    header = (
        f"{'phạm vi':<11} {'tên':<40} {'hỏi':>5} {'trả lời':>8} {'tỷ lệ':>6} "
        f"{'điểm TB':>7} {'chưa HL':>8}"
    )
    typer.echo(header)
    typer.echo("-" * len(header))
    for row in rows:
        mean = "–" if row.mean_score is None else f"{row.mean_score:.2f}"
        typer.echo(
            f"{row.scope:<11} {row.name[:40]:<40} {row.asked:>5} {row.answered:>8} "
            f"{_percent(row.response_rate):>6} {mean:>7} {_percent(row.unsatisfied_share):>8}"
        )
