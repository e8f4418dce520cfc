"""`zalo-bridge templates check` and `zalo-bridge preview`: message templates for operators."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from bridge.cli.output import JsonOption, emit_json
from bridge.errors import ConfigurationError, TemplateError

if TYPE_CHECKING:
    from collections.abc import Callable

    from bridge.settings import Settings
    from bridge.wording import MessageContext

__all__ = ["preview", "templates_cli"]

templates_cli = typer.Typer(help="The message templates.", no_args_is_help=True)

ConfigOption = Annotated[
    Path | None,
    typer.Option(
        "--config",
        "-c",
        help="YAML settings file: the province's link, signature and time zone count in lengths.",
        exists=True,
        dir_okay=False,
    ),
]


def _context(config: Path | None) -> tuple[Settings, MessageContext]:
    """The settings, and the province's context the templates are checked with."""
    from bridge.app import message_context  # noqa: PLC0415 - the app only when a command runs
    from bridge.settings import load_settings  # noqa: PLC0415 - same

    try:
        settings = load_settings(config)
    except ConfigurationError as exc:
        typer.echo(f"zalo-bridge: {exc}", err=True)
        raise typer.Exit(code=2) from exc
    return settings, message_context(settings)


@templates_cli.command("check")
def check(
    directory: Annotated[
        Path,
        typer.Argument(help="The province's template directory.", exists=True, file_okay=False),
    ],
    config: ConfigOption = None,
    *,
    as_json: JsonOption = False,
) -> None:
    """Validate a template directory as `zalo-bridge run` does at start; exit 1 when invalid."""
    from bridge.templates.renderer import card_limits, load_registry  # noqa: PLC0415 - `--help` fast

    settings, context = _context(config)
    try:
        registry = load_registry(
            directory,
            label=settings.province.slug,
            context=context,
            limits=card_limits(settings),
        )
    except TemplateError as exc:
        if as_json:
            emit_json({"directory": str(directory), "valid": False, "error": str(exc)})
        typer.echo(f"zalo-bridge: {exc}", err=True)
        raise typer.Exit(code=1) from exc
    count = sum(len(templates.entries) for templates in registry.all_sets())
    if as_json:
        emit_json(
            {
                "directory": str(directory),
                "valid": True,
                "templates": count,
                "sets": len(registry.all_sets()),
                "procedures": list(registry.procedures),
            }
        )
        return
    typer.echo(
        f"{directory}: ok, {count} templates in {len(registry.all_sets())} sets "
        f"(procedures: {', '.join(registry.procedures) or 'none'})"
    )


def _extra_messages(settings: Settings) -> Callable[[str, str], list[dict[str, Any]]]:
    """The survey's messages, then the conversation of the procedure's form (if it has one)."""
    from datetime import UTC, datetime  # noqa: PLC0415 - only when the preview runs

    from bridge.feedback.preview import survey_messages  # noqa: PLC0415 - same
    from bridge.submissions.forms import check_forms  # noqa: PLC0415 - same
    from bridge.submissions.preview import submission_messages  # noqa: PLC0415 - same

    survey = survey_messages(settings.feedback)
    wing = settings.submissions
    catalogue, problems = check_forms(
        wing.forms_directory, max_attachment_bytes=wing.max_attachment_bytes
    )
    if problems:  # `zalo-bridge submissions check-forms` names them; the page goes without
        return survey
    forms = submission_messages(catalogue, datetime.now(UTC).date())
    return lambda code, name: [*survey(code, name), *forms(code, name)]


def preview(
    templates: Annotated[
        list[Path] | None,
        typer.Option(
            "--templates",
            "-t",
            help="A province's template directory, or a directory of them; repeatable.",
            exists=True,
            file_okay=False,
        ),
    ] = None,
    port: Annotated[
        int | None, typer.Option(help="Port on 127.0.0.1; default templates.preview_port.")
    ] = None,
    config: ConfigOption = None,
) -> None:
    """Serve a page showing every template for a sample case as the Zalo chat shows it."""
    from bridge.templates.preview import PreviewServer, load_catalog  # noqa: PLC0415 - keep `--help` fast
    from bridge.templates.renderer import card_limits  # noqa: PLC0415 - same

    settings, context = _context(config)
    directories = list(templates or [])
    if not directories and settings.templates.directory is not None:
        directories = [settings.templates.directory]
    try:
        catalog = load_catalog(
            directories,
            context,
            card_limits(settings),
            more_messages=_extra_messages(settings),
        )
    except TemplateError as exc:
        typer.echo(f"zalo-bridge: {exc}", err=True)
        raise typer.Exit(code=1) from exc
    server = PreviewServer(catalog, settings.templates.preview_port if port is None else port)
    typer.echo(f"template preview: {server.url} (Ctrl-C stops it)")
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
