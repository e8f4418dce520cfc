"""The ``zalo-bridge`` command line: run, check settings, migrate, schemas, the DLQ."""

from __future__ import annotations

import asyncio
import json
import os
import signal
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from bridge import __version__
from bridge.asyncapi import DOCUMENT_PATH, default_settings, render_asyncapi, stale_asyncapi
from bridge.cli.announce import announce_cli
from bridge.cli.citizens import forget, purge, qr, unlock
from bridge.cli.dlq import dlq_cli
from bridge.cli.event_loop import loop_factory
from bridge.cli.feedback import feedback_cli
from bridge.cli.options import ConfigOption, settings_or_exit
from bridge.cli.output import JsonOption, emit_json
from bridge.cli.stopping import GracefulStop
from bridge.cli.submissions import submissions_cli
from bridge.cli.templates import preview, templates_cli
from bridge.cli.zalo import zalo_cli
from bridge.errors import ConfigurationError
from bridge.observability.logs import configure_logging
from bridge.schemas import stale_schemas, write_schemas

if TYPE_CHECKING:
    from bridge.settings import Settings

__all__ = ["main"]

cli = typer.Typer(
    name="zalo-bridge",
    help="Tell citizens through Zalo OA what happens to their one-stop-shop dossiers.",
    no_args_is_help=True,
    add_completion=False,
)


def _print_version(wanted: bool) -> None:  # noqa: FBT001 - typer passes the flag's value
    if wanted:
        typer.echo(f"zalo-bridge {__version__}")
        raise typer.Exit


@cli.callback()
def _main(
    *,
    version: Annotated[
        bool,
        typer.Option(
            "--version",
            help="Print the version and exit.",
            callback=_print_version,
            is_eager=True,
        ),
    ] = False,
) -> None:
    """Tell citizens through Zalo OA what happens to their one-stop-shop dossiers.

    Exit codes: 0 done; 1 the command ran and the answer is no (a check found a problem,
    something asked for does not exist, a broker, store or Zalo failure); 2 it could not run as
    called (a bad option or argument, settings that do not load).
    """
    del version


schemas_cli = typer.Typer(help="The JSON Schemas of the Kafka contracts.", no_args_is_help=True)
cli.add_typer(schemas_cli, name="schemas")
cli.add_typer(dlq_cli, name="dlq")
cli.add_typer(zalo_cli, name="zalo")
cli.add_typer(announce_cli, name="announce")
cli.add_typer(feedback_cli, name="feedback")
cli.add_typer(submissions_cli, name="submissions")
cli.add_typer(templates_cli, name="templates")
cli.command("preview")(preview)
db_cli = typer.Typer(help="The delivery ledger's database.", no_args_is_help=True)
cli.add_typer(db_cli, name="db")
cli.command("qr")(qr)
cli.command("purge")(purge)
cli.command("forget")(forget)
cli.command("unlock")(unlock)


@cli.command()
def run(
    config: ConfigOption = None,
    host: Annotated[
        str, typer.Option(help="Address of the health and webhook endpoints.")
    ] = "0.0.0.0",  # noqa: S104 - a pod must answer its kubelet's probes
    port: Annotated[int, typer.Option(help="Port of the health and webhook endpoints.")] = 8080,
) -> None:
    """Consume case-state events and deliver them to citizens until stopped (SIGTERM, Ctrl-C).

    Exits 0 after a graceful stop on SIGTERM (what Kubernetes sends), and 1 when bridge stopped
    itself because it could not go on (fenced by another replica, a committer that failed).
    """
    from bridge.app import create_app, terminate  # noqa: PLC0415 - keep `--help` fast
    from bridge.cli.serving import serve  # noqa: PLC0415 - idem

    settings = settings_or_exit(config)
    configure_logging(settings.log.level, settings.log.format)
    if settings.process.workers > 1:
        raise typer.Exit(code=_supervise(settings, host=host, port=port, config=config))
    failures: list[BaseException] = []

    def on_fatal(error: BaseException) -> None:
        failures.append(error)
        terminate(error)

    app = create_app(settings, on_fatal=on_fatal)
    # Once the start-up has opened everything, a SIGTERM stops it gracefully (uvicorn's
    # handler); the consumers start right after, and the graceful stop waits for them.
    app.on_startup(GracefulStop.begin)
    signal.signal(signal.SIGTERM, GracefulStop.handle)  # again, if a test replaced it
    with asyncio.Runner(loop_factory=loop_factory(settings.process.event_loop)) as runner:
        runner.run(serve(app, host=host, port=port))
    if failures:
        raise typer.Exit(code=1)


def _supervise(settings: Settings, *, host: str, port: int, config: Path | None) -> int:
    """Run ``process.workers`` workers behind a supervisor (bridge.workers); its exit status."""
    from bridge.store.migrate import upgrade_sync  # noqa: PLC0415 - only with workers
    from bridge.workers.supervisor import Supervisor, worker_specs  # noqa: PLC0415 - idem

    # The schema is migrated once, here, before the workers race to do it.
    upgrade_sync(settings.store.url.get_secret_value())
    specs = worker_specs(settings, environ=os.environ)
    supervisor = Supervisor(
        specs,
        host=host,
        port=port,
        config=config,
        grace=settings.delivery.lease_seconds + 15,
        on_serving=GracefulStop.begin,
    )
    signal.signal(signal.SIGTERM, GracefulStop.handle)
    with asyncio.Runner(loop_factory=loop_factory(settings.process.event_loop)) as runner:
        return runner.run(supervisor.run())


@cli.command("check-config")
def check_config(config: ConfigOption = None, *, as_json: JsonOption = False) -> None:
    """Validate the settings and print them, secrets hidden; exit 2 when they are invalid.

    The settings are printed as JSON either way; ``--json`` prints them on one line.
    """
    settings = settings_or_exit(config)
    if as_json:
        emit_json(settings.model_dump(mode="json"))
        return
    typer.echo(json.dumps(settings.model_dump(mode="json"), indent=2, ensure_ascii=False))


@db_cli.command("upgrade")
def db_upgrade(
    config: ConfigOption = None,
    revision: Annotated[str, typer.Option(help="Target schema version.")] = "head",
    *,
    as_json: JsonOption = False,
) -> None:
    """Migrate the ledger's schema (``zalo-bridge run`` also does it at start)."""
    from bridge.store.migrate import upgrade_sync  # noqa: PLC0415 - alembic only when needed

    settings = settings_or_exit(config)
    try:
        upgrade_sync(settings.store.url.get_secret_value(), revision)
    except ConfigurationError as exc:
        typer.echo(f"zalo-bridge: {exc}", err=True)
        raise typer.Exit(code=1) from exc
    if as_json:
        emit_json({"revision": revision})
    else:
        typer.echo(f"ledger schema at {revision}")


@schemas_cli.command("export")
def export_schemas(
    directory: Annotated[Path, typer.Argument(help="Where to write the files.")] = Path("schemas"),
    *,
    check: Annotated[
        bool, typer.Option("--check", help="Write nothing; exit 1 when a file is stale.")
    ] = False,
    as_json: JsonOption = False,
) -> None:
    """Write the JSON Schemas generated from the models (or check that the files match them)."""
    if check:
        stale = stale_schemas(directory)
        if as_json:
            emit_json({"stale": [str(directory / name) for name in stale]})
        for name in stale:
            typer.echo(f"stale: {directory / name} (run `zalo-bridge schemas export`)", err=True)
        raise typer.Exit(code=1 if stale else 0)
    written = write_schemas(directory)
    if as_json:
        emit_json({"written": [str(path) for path in written]})
        return
    for path in written:
        typer.echo(f"wrote {path}")


@schemas_cli.command("asyncapi")
def export_asyncapi(
    path: Annotated[Path, typer.Argument(help="Where to write the document.")] = Path(
        DOCUMENT_PATH
    ),
    *,
    check: Annotated[
        bool, typer.Option("--check", help="Write nothing; exit 1 when the file is stale.")
    ] = False,
    as_json: JsonOption = False,
) -> None:
    """Write the AsyncAPI document of every topic (or check that the file matches the code)."""
    settings = default_settings()
    if check:
        stale = stale_asyncapi(path, settings)
        if as_json:
            emit_json({"stale": [str(path)] if stale else []})
        if stale:
            typer.echo(f"stale: {path} (run `zalo-bridge schemas asyncapi`)", err=True)
        raise typer.Exit(code=1 if stale else 0)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render_asyncapi(settings), encoding="utf-8")
    if as_json:
        emit_json({"written": [str(path)]})
    else:
        typer.echo(f"wrote {path}")


def main() -> None:
    """Entry point of the ``zalo-bridge`` console script and ``python -m bridge``."""
    cli()
