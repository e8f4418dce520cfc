"""The template registry: every template set of a province, compiled, rendering events."""

from __future__ import annotations

import hashlib
import json
import unicodedata
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from jinja2 import TemplateError as JinjaTemplateError

from bridge.errors import TemplateProblem
from bridge.events import CaseStateEvent, EventType
from bridge.templates.environment import TIMEZONE_VARIABLE, template_environment
from bridge.templates.files import (
    PACKAGE_SOURCE,
    Layer,
    Merged,
    merge_layers,
    package_layer,
    read_directory,
)
from bridge.templates.variables import message_variables
from bridge.wording import MAX_TEXT_LENGTH, CitizenMessage, clip

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping
    from pathlib import Path

    from jinja2 import Template
    from jinja2.sandbox import ImmutableSandboxedEnvironment

    from bridge.templates.files import CardModel
    from bridge.wording import MessageContext

__all__ = [
    "CardRow",
    "RenderedCard",
    "RenderedMessage",
    "TemplateRegistry",
    "TemplateRenderer",
    "TemplateSet",
    "build_registry",
    "entry_name",
    "is_news",
]

HEADLINE = "headline"
"""The layout's variable holding the rendered headline."""


def is_news(event: CaseStateEvent) -> bool:
    """False for a complaint's, denunciation's or land dispute's internal step.

    The law does not have the citizen told of it (``Notice.NONE``); its wording exists, and the
    preview shows it, for a province that chooses to tell.
    """
    details = event.kind_details
    return details is None or details.told


def entry_name(event: CaseStateEvent) -> str:
    """The template an event is worded with: ``states.<STATE>`` or ``events.<EVENT_TYPE>``.

    A complaint's, denunciation's or land dispute's state is ``states.<KIND>.<STATE>``
    (``states.COMPLAINT.FIRST_DECISION``); its other event types are not news.
    """
    details = event.kind_details
    if details is not None:
        if event.event_type is not EventType.STATE_CHANGED:
            return "events.NOT_NEWS"
        return f"states.{details.kind}.{details.state}"
    if event.event_type is EventType.STATE_CHANGED:
        return f"states.{event.state.value}"
    return f"events.{event.event_type.value}"


@dataclass(frozen=True, slots=True)
class CardRow:
    """A table row of the template card; ``style`` only on the status row."""

    key: str
    value: str
    style: str | None = None


@dataclass(frozen=True, slots=True)
class RenderedCard:
    """The template card as the Zalo chat shows it."""

    title: str
    rows: tuple[CardRow, ...]
    buttons: tuple[tuple[str, str], ...]


@dataclass(frozen=True, slots=True)
class RenderedMessage:
    """Everything one event renders to: the text, the template data and how the card looks."""

    template: str
    text: str
    template_version: str
    template_data: Mapping[str, str]
    style: str | None
    card_of: Callable[[], RenderedCard | None] = field(repr=False, compare=False)
    """Draws the card when asked (the preview does; delivering does not, ≈ 2 % of the loop)."""

    @property
    def card(self) -> RenderedCard | None:
        """The template card as the Zalo chat shows it (None when the province has none)."""
        return self.card_of()

    def citizen_message(self) -> CitizenMessage:
        """The message the delivery use case sends."""
        return CitizenMessage(
            text=self.text,
            template_version=self.template_version,
            template_data=dict(self.template_data),
        )


@dataclass(frozen=True, slots=True)
class Entry:
    """One state's or event type's templates, compiled."""

    name: str
    headline: Template
    style: str | None
    template_data: dict[str, Template]
    version: str
    program: Template
    """Snippets, headline, every parameter and (when ``worded``) the layout in one render."""
    worded: bool = False
    """Whether ``program`` also renders the layout around the headline (one render per event)."""


STATUS_ROW_KEY = "Trạng thái"
"""The only table row that may carry a colour (Zalo's table rules)."""


@dataclass(slots=True)
class TemplateSet:
    """The templates that apply to one procedure (or to all) in one province."""

    label: str
    merged: Merged
    snippets: list[tuple[str, Template]] = field(default_factory=list)
    layout: Template | None = None
    entries: dict[str, Entry] = field(default_factory=dict)

    def entry_for(self, event: CaseStateEvent) -> Entry | None:
        """The templates of ``event``, or None when it is not news for the citizen."""
        return self.entries.get(entry_name(event))

    def render(self, event: CaseStateEvent, context: MessageContext) -> RenderedMessage | None:
        """Word ``event``; None when its type has no template (not news for the citizen)."""
        entry = self.entry_for(event)
        if entry is None or self.layout is None:
            return None
        variables: dict[str, Any] = message_variables(event, context)
        variables[TIMEZONE_VARIABLE] = context.timezone
        module = entry.program.make_module(variables)
        headline = str(getattr(module, _PROGRAM_HEADLINE)).strip()
        if entry.worded:  # the layout ran in the program, with this very headline
            text = _tidy(str(getattr(module, _PROGRAM_TEXT)))
        else:
            text = self._layout(variables, module, headline)
        if len(text) > MAX_TEXT_LENGTH:
            # Everything but the headline always fits (validation checks it for the longest
            # values); the headline, which carries the free-text reason, gives way.
            frame = self._layout(variables, module, "")
            text = self._layout(variables, module, clip(headline, MAX_TEXT_LENGTH - len(frame)))
        data = {
            name: _nfc(str(getattr(module, f"{_PROGRAM_DATA}{index}")))
            for index, name in enumerate(entry.template_data)
        }
        return RenderedMessage(
            template=entry.name,
            text=clip(text, MAX_TEXT_LENGTH),
            template_version=entry.version,
            template_data=data,
            style=entry.style,
            card_of=lambda: self._card(data, entry.style),
        )

    def _layout(self, variables: dict[str, Any], module: Any, headline: str) -> str:
        """The layout rendered on its own around ``headline`` (the snippets from ``module``)."""
        assert self.layout is not None  # noqa: S101 - only called for an entry with a layout
        for name, _snippet in self.snippets:
            variables[name] = getattr(module, name)
        return _tidy(self.layout.render({**variables, HEADLINE: headline}))

    def _card(self, data: Mapping[str, str], style: str | None) -> RenderedCard | None:
        message = self.merged.template_message
        card: CardModel | None = message.card if message else None
        if card is None:
            return None
        rows = tuple(
            CardRow(row.key, data.get(row.param, ""), style if row.key == STATUS_ROW_KEY else None)
            for row in card.rows
        )
        buttons = tuple((button.title, data.get(button.param, "")) for button in card.buttons)
        return RenderedCard(card.title, rows, buttons)


def _nfc(text: str) -> str:
    return unicodedata.normalize("NFC", text)


def _tidy(text: str) -> str:
    """NFC, no trailing spaces on a line, no blank lines at either end."""
    return _nfc("\n".join(line.rstrip() for line in text.strip().splitlines()))


def _version(label: str, name: str, parts: Mapping[str, Any]) -> str:
    digest = hashlib.sha256(
        json.dumps(parts, ensure_ascii=False, sort_keys=True).encode("utf-8")
    ).hexdigest()
    return f"{label}:{name}@{digest[:10]}"


def compile_set(
    label: str,
    layers: list[Layer],
    environment: ImmutableSandboxedEnvironment,
    problems: list[TemplateProblem],
) -> TemplateSet:
    """Combine and compile ``layers``; what does not compile is reported in ``problems``."""
    merged = merge_layers(layers)
    result = TemplateSet(label=label, merged=merged)

    def compiled(source: str, path: tuple[str, ...], template: str, key: str) -> Template | None:
        try:
            return environment.from_string(source)
        except JinjaTemplateError as exc:
            line = getattr(exc, "lineno", None)
            where = f" (line {line})" if line else ""
            problem = TemplateProblem(merged.source_of(*path), template, key, f"{exc}{where}")
            if problem not in problems:
                problems.append(problem)
            return None

    for name, source in merged.snippets.items():
        snippet = compiled(source, ("snippets", name), f"snippets.{name}", name)
        if snippet is not None:
            result.snippets.append((name, snippet))
    if merged.layout is not None:
        result.layout = compiled(merged.layout, ("layout",), "layout", "layout")
    for kind, entries in (("states", merged.states), ("events", merged.events)):
        for key, entry in entries.items():
            compiled_entry = _compile_entry(result, (kind, key), entry, compiled)
            if compiled_entry is not None:
                result.entries[compiled_entry.name] = compiled_entry
    return result


_PROGRAM_HEADLINE = "bridge_headline"
_PROGRAM_DATA = "bridge_data_"
_PROGRAM_TEXT = "bridge_text"


def _program(
    snippets: Mapping[str, str],
    headline: str,
    data: Mapping[str, str],
    layout: str | None = None,
) -> str:
    """One template assigning every snippet, the headline and each parameter (in order).

    With ``layout``, the program then words the whole text too: ``headline`` set to the
    rendered headline stripped (``trim`` is ``str.strip``), the layout rendered into
    ``bridge_text`` in a block of its own (its own assignments stay inside it, as in a
    template of its own). Trimmed at both ends and per line, the text is the one a separate
    render of the layout gives (proved for every default entry and for generated layouts in
    tests/templates/test_one_render.py); a text too long for Zalo still renders the layout on
    its own to clip the headline.
    """
    parts = [f"{{% set {name} %}}{source}{{% endset %}}" for name, source in snippets.items()]
    parts.append(f"{{% set {_PROGRAM_HEADLINE} %}}{headline}{{% endset %}}")
    parts += [
        f"{{% set {_PROGRAM_DATA}{index} %}}{source}{{% endset %}}"
        for index, source in enumerate(data.values())
    ]
    if layout is not None:
        parts.append(f"{{% set {HEADLINE} = {_PROGRAM_HEADLINE}|trim %}}")
        parts.append(f"{{% set {_PROGRAM_TEXT} %}}{layout}{{% endset %}}")
    return "".join(parts)


def _compile_entry(
    result: TemplateSet,
    path: tuple[str, str],
    entry: Mapping[str, Any],
    compiled: Callable[[str, tuple[str, ...], str, str], Template | None],
) -> Entry | None:
    """One state's or event type's templates; None when its headline is missing or broken."""
    merged = result.merged
    kind, key = path
    name = f"{kind}.{key}"
    source = entry.get("headline")
    if source is None:
        return None  # reported by validation as a missing headline
    headline = compiled(source, (*path, "headline"), name, "headline")
    own = entry["template_data"]
    data_sources = {**(merged.template_message.data if merged.template_message else {}), **own}
    data: dict[str, Template] = {}
    for param, expression in data_sources.items():
        where = (*path, "template_data", param) if param in own else ("template_message",)
        template = compiled(expression, where, name, f"template_data.{param}")
        if template is not None:
            data[param] = template
    pieces_compiled = len(result.snippets) == len(merged.snippets) and len(data) == len(
        data_sources
    )
    if headline is None or not pieces_compiled:
        return None  # each broken piece is already reported
    worded = _worded(result, merged.snippets, source, data_sources)
    program = worded or compiled(
        _program(merged.snippets, source, data_sources), (*path, "headline"), name, "headline"
    )
    if program is None:
        return None
    parts = {
        "snippets": merged.snippets,
        "layout": merged.layout,
        "headline": source,
        "template_data": data_sources,
    }
    return Entry(
        name=name,
        headline=headline,
        style=entry.get("style"),
        template_data=data,
        version=_version(result.label, name, parts),
        program=program,
        worded=worded is not None,
    )


def _worded(
    result: TemplateSet, snippets: Mapping[str, str], headline: str, data: Mapping[str, str]
) -> Template | None:
    """The entry's program with the layout in it, or None.

    None when the layout does not compile on its own (reported once, as the layout's problem) or
    not inside the program (``extends``): the layout is then rendered on its own.
    """
    layout = result.merged.layout
    if result.layout is None or layout is None:
        return None
    environment = result.layout.environment
    try:
        return environment.from_string(_program(snippets, headline, data, layout))
    except JinjaTemplateError:
        return None


@dataclass(slots=True)
class TemplateRegistry:
    """A province's template sets: one for every procedure, one per procedure override."""

    label: str
    common: TemplateSet
    procedures: dict[str, TemplateSet] = field(default_factory=dict)
    descriptions: dict[str, str] = field(default_factory=dict)
    description: str | None = None

    def for_procedure(self, procedure_code: str) -> TemplateSet:
        """The set that words the events of ``procedure_code``."""
        return self.procedures.get(procedure_code, self.common)

    def render(self, event: CaseStateEvent, context: MessageContext) -> RenderedMessage | None:
        """Word ``event`` with the set of its procedure."""
        return self.for_procedure(event.case.procedure_code).render(event, context)

    def all_sets(self) -> list[TemplateSet]:
        """The common set first, then the procedure overrides."""
        return [self.common, *self.procedures.values()]


def build_registry(
    directory: Path | None, *, label: str
) -> tuple[TemplateRegistry, list[TemplateProblem]]:
    """Read and compile (without validating) the package defaults under ``directory``'s files."""
    problems: list[TemplateProblem] = []
    environment = template_environment()
    base = package_layer(problems)
    layers = [base] if base is not None else []
    procedures: dict[str, Layer] = {}
    description = base.content.description if base is not None else None
    if directory is not None:
        found = read_directory(directory, problems)
        if found.common is not None:
            description = found.common.content.description
            over_package = found.common.content.base == "package"
            layers = [*layers, found.common] if over_package else [found.common]
        procedures = found.procedures
    else:
        label = PACKAGE_SOURCE
    common = compile_set(label, layers, environment, problems)
    registry = TemplateRegistry(label=label, common=common, description=description)
    for code, layer in procedures.items():
        registry.procedures[code] = compile_set(
            f"{label}/{code}", [*layers, layer], environment, problems
        )
        if layer.content.description:
            registry.descriptions[code] = layer.content.description
    return registry, problems


@dataclass(frozen=True, slots=True)
class TemplateRenderer:
    """The delivery use case's ``MessageRenderer``: a registry and the province's context."""

    registry: TemplateRegistry
    context: MessageContext

    def render(self, event: CaseStateEvent) -> CitizenMessage | None:
        """The message about ``event``, or None when it is not news for the citizen.

        A complaint's, denunciation's or land dispute's internal step (the law does not have the
        citizen told of it) is not news; its wording exists for provinces that choose to tell.
        """
        if not is_news(event):
            return None
        rendered = self.registry.render(event, self.context)
        return None if rendered is None else rendered.citizen_message()
