"""``zalo-bridge submissions check-forms``: the province's dossier forms, checked as at start."""

from __future__ import annotations

from pathlib import Path  # noqa: TC003 - typer reads the annotations at run time
from typing import Annotated

import typer

from bridge.cli.options import ConfigOption, settings_or_exit
from bridge.cli.output import JsonOption, emit_json

__all__ = ["submissions_cli"]

submissions_cli = typer.Typer(
    help="Dossiers citizens file in the chat (forms).", no_args_is_help=True
)


@submissions_cli.command("check-forms")
def check_forms_command(
    directory: Annotated[
        Path | None,
        typer.Argument(
            help="The province's form directory; default: submissions.forms_directory.",
            exists=True,
            file_okay=False,
        ),
    ] = None,
    config: ConfigOption = None,
    *,
    as_json: JsonOption = False,
) -> None:
    """Validate the forms (package's, then the province's over them); exit 1 when invalid."""
    from bridge.submissions.forms import check_forms  # noqa: PLC0415 - `--help` stays fast

    settings = settings_or_exit(config).submissions
    folder = directory or settings.forms_directory
    catalogue, problems = check_forms(folder, max_attachment_bytes=settings.max_attachment_bytes)
    if as_json:
        emit_json(
            {
                "directory": None if folder is None else str(folder),
                "valid": not problems,
                "problems": [str(problem) for problem in problems],
                "forms": [
                    {"code": form.code, "name": form.name, "source": catalogue.sources[form.code]}
                    for form in catalogue.forms
                ],
            }
        )
    if problems:
        lines = "\n  ".join(str(problem) for problem in problems)
        typer.echo(f"zalo-bridge: invalid submission forms:\n  {lines}", err=True)
        raise typer.Exit(code=1)
    if not as_json:
        for form in catalogue.forms:
            typer.echo(f"{form.code}  {form.name}  ({catalogue.sources[form.code]})")
        typer.echo(f"{folder or 'package forms'}: ok, {len(catalogue.forms)} forms")


@submissions_cli.command("preview")
def preview_command(
    code: Annotated[
        str | None, typer.Argument(help="A procedure code; default: every form.")
    ] = None,
    directory: Annotated[
        Path | None,
        typer.Option("--forms", help="The province's form directory; default: the settings'."),
    ] = None,
    config: ConfigOption = None,
    *,
    as_json: JsonOption = False,
) -> None:
    """Print the conversation of each form (or one) as the citizen sees it in the chat."""
    from datetime import UTC, datetime  # noqa: PLC0415 - `--help` stays fast

    from bridge.submissions.forms import check_forms  # noqa: PLC0415 - same
    from bridge.submissions.preview import conversation  # noqa: PLC0415 - same

    settings = settings_or_exit(config).submissions
    catalogue, problems = check_forms(
        directory or settings.forms_directory, max_attachment_bytes=settings.max_attachment_bytes
    )
    if problems:
        lines = "\n  ".join(str(problem) for problem in problems)
        typer.echo(f"zalo-bridge: invalid submission forms:\n  {lines}", err=True)
        raise typer.Exit(code=1)
    forms = [form for form in catalogue.forms if code in {None, form.code}]
    if not forms:
        typer.echo(f"zalo-bridge: no form for procedure {code}", err=True)
        raise typer.Exit(code=1)
    today = datetime.now(UTC).date()
    if as_json:
        emit_json(
            [
                {
                    "code": form.code,
                    "name": form.name,
                    "conversation": [
                        {"who": who, "text": text}
                        for who, text in conversation(catalogue, form, today=today)
                    ],
                }
                for form in forms
            ]
        )
        return
    for form in forms:
        typer.echo(f"=== {form.code} {form.name}")
        for who, text in conversation(catalogue, form, today=today):
            prefix = "Công dân" if who == "citizen" else "OA"
            typer.echo(f"[{prefix}] " + text.replace("\n", "\n    "))
        typer.echo("")
