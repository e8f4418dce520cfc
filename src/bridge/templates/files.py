"""Template files: read, check their shape, and layer them (package → province → procedure)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from importlib import resources
from typing import TYPE_CHECKING, Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError

from bridge.errors import TemplateProblem

if TYPE_CHECKING:
    from pathlib import Path

__all__ = [
    "MESSAGES_FILE",
    "PACKAGE_SOURCE",
    "Layer",
    "Merged",
    "TemplateFile",
    "merge_layers",
    "package_layer",
    "read_directory",
]

MESSAGES_FILE = "messages.yaml"
"""The file of a directory that applies to every procedure."""

PACKAGE_SOURCE = "package"
"""How the package's default templates are named in versions and errors."""

_PROCEDURE_FILE = re.compile(r"^procedure-(?P<code>[0-9A-Za-z._-]{1,60})\.ya?ml$")

Style = Literal["green", "blue", "yellow", "red", "grey"]
Identifier = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{0,62}$")]
"""A snippet's or a parameter's name: lower-case letters, digits and underscores."""


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class EntryModel(_Model):
    """What one state or event type says."""

    headline: str | None = Field(
        default=None, description="The sentence that tells the news; may be clipped to fit."
    )
    style: Style | None = Field(default=None, description="Colour of the card's status row.")
    template_data: dict[Identifier, str] = Field(
        default_factory=dict, description="Template-message parameters overridden for this one."
    )


class RowModel(_Model):
    """One table row of the template card: a label and the parameter shown."""

    key: str = Field(min_length=1)
    param: str = Field(min_length=1)


class ButtonModel(_Model):
    """A button of the template card, opening the URL held by a parameter."""

    title: str = Field(min_length=1)
    param: str = Field(min_length=1)


class CardModel(_Model):
    """How the approved Zalo template looks (for the preview and the row-length checks)."""

    title: str = Field(min_length=1)
    rows: list[RowModel] = Field(default_factory=list)
    buttons: list[ButtonModel] = Field(default_factory=list)


class TemplateMessageModel(_Model):
    """The Zalo template message (ZBS by user id, ZNS by phone) telling the same news."""

    params: dict[Identifier, Annotated[int, Field(ge=1)]] = Field(
        description="The approved template's parameters and their maximum lengths."
    )
    data: dict[Identifier, str] = Field(description="Parameter name → Jinja template of its value.")
    card: CardModel | None = None


class TemplateFile(_Model):
    """One template file (``messages.yaml`` or ``procedure-<code>.yaml``); every key optional."""

    description: str | None = None
    base: Literal["package", "none"] = Field(
        default="package",
        description="package: layer over the package's defaults; none: this file is complete.",
    )
    snippets: dict[Identifier, str] = Field(default_factory=dict)
    layout: str | None = None
    states: dict[str, EntryModel] = Field(default_factory=dict)
    events: dict[str, EntryModel | None] = Field(default_factory=dict)
    template_message: TemplateMessageModel | None = None


@dataclass(frozen=True, slots=True)
class Layer:
    """One parsed file, with the name it is reported under."""

    source: str
    content: TemplateFile


@dataclass(slots=True)
class Directory:
    """A province's template directory: its common file and its per-procedure files."""

    common: Layer | None = None
    procedures: dict[str, Layer] = field(default_factory=dict)


def _parse(text: str, source: str, problems: list[TemplateProblem]) -> Layer | None:
    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        problems.append(TemplateProblem(source, "(file)", "(yaml)", f"not valid YAML: {exc}"))
        return None
    if document is None:
        document = {}
    if not isinstance(document, dict):
        problems.append(TemplateProblem(source, "(file)", "(root)", "expected a mapping"))
        return None
    try:
        return Layer(source, TemplateFile.model_validate(document))
    except ValidationError as exc:
        for error in exc.errors(include_url=False):
            loc = [str(part) for part in error["loc"]]
            template = ".".join(loc[:2]) if loc and loc[0] in {"states", "events"} else loc[0]
            key = ".".join(loc[2:] if loc and loc[0] in {"states", "events"} else loc[1:])
            problems.append(TemplateProblem(source, template, key or "(value)", error["msg"]))
        return None


def package_layer(problems: list[TemplateProblem]) -> Layer | None:
    """The Vietnamese defaults shipped inside the package."""
    text = (
        resources.files("bridge.templates").joinpath("defaults", MESSAGES_FILE).read_text("utf-8")
    )
    return _parse(text, f"{PACKAGE_SOURCE}:{MESSAGES_FILE}", problems)


def read_directory(directory: Path, problems: list[TemplateProblem]) -> Directory:
    """Read a template directory (flat, as a ConfigMap is mounted; dot-files are skipped)."""
    found = Directory()
    if not directory.is_dir():
        problems.append(TemplateProblem(str(directory), "(directory)", "(path)", "not a directory"))
        return found
    for path in sorted(directory.iterdir()):
        if path.name.startswith(".") or path.is_dir():
            continue  # ConfigMap mounts hold ..data and timestamped directories
        match = _PROCEDURE_FILE.match(path.name)
        if path.name != MESSAGES_FILE and match is None:
            problems.append(
                TemplateProblem(
                    str(path),
                    "(file)",
                    "(name)",
                    f"unexpected file; expected {MESSAGES_FILE} or procedure-<code>.yaml",
                )
            )
            continue
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            problems.append(TemplateProblem(str(path), "(file)", "(read)", str(exc)))
            continue
        layer = _parse(text, str(path), problems)
        if layer is None:
            continue
        if match is None:
            found.common = layer
        else:
            found.procedures[match["code"]] = layer
    return found


@dataclass(slots=True)
class Merged:
    """The layers of one template set, combined; ``origin`` tells which file set each part."""

    snippets: dict[str, str] = field(default_factory=dict)
    layout: str | None = None
    states: dict[str, dict[str, Any]] = field(default_factory=dict)
    events: dict[str, dict[str, Any]] = field(default_factory=dict)
    template_message: TemplateMessageModel | None = None
    origin: dict[tuple[str, ...], str] = field(default_factory=dict)
    sources: list[str] = field(default_factory=list)

    def source_of(self, *path: str) -> str:
        """The file that set ``path`` (or the closest part above it)."""
        for end in range(len(path), 0, -1):
            if path[:end] in self.origin:
                return self.origin[path[:end]]
        return self.sources[-1] if self.sources else PACKAGE_SOURCE


def _merge_entries(
    merged: Merged,
    kind: str,
    target: dict[str, dict[str, Any]],
    entries: dict[str, Any],
    source: str,
) -> None:
    for name, entry in entries.items():
        if entry is None:  # `EVENT: null` turns a message off
            target.pop(name, None)
            merged.origin[(kind, name)] = source
            continue
        current = target.setdefault(name, {"template_data": {}})
        merged.origin.setdefault((kind, name), source)
        for key in ("headline", "style"):
            value = getattr(entry, key)
            if value is not None:
                current[key] = value
                merged.origin[(kind, name, key)] = source
        for param, expression in entry.template_data.items():
            current["template_data"][param] = expression
            merged.origin[(kind, name, "template_data", param)] = source


def merge_layers(layers: list[Layer]) -> Merged:
    """Combine ``layers``, later ones winning key by key (``template_message`` as a whole)."""
    merged = Merged()
    for layer in layers:
        content, source = layer.content, layer.source
        merged.sources.append(source)
        for name, snippet in content.snippets.items():
            merged.snippets[name] = snippet
            merged.origin[("snippets", name)] = source
        if content.layout is not None:
            merged.layout = content.layout
            merged.origin[("layout",)] = source
        _merge_entries(merged, "states", merged.states, dict(content.states), source)
        _merge_entries(merged, "events", merged.events, dict(content.events), source)
        if content.template_message is not None:
            merged.template_message = content.template_message
            merged.origin[("template_message",)] = source
    return merged
