"""Validation of a template registry: what a bad template directory is refused for at start."""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from jinja2 import TemplateError as JinjaTemplateError
from jinja2 import nodes

from bridge.case_kinds.lifecycles import CaseKind, lifecycle
from bridge.errors import TemplateProblem
from bridge.events import CaseState, EventType
from bridge.templates.environment import TIMEZONE_VARIABLE, template_environment
from bridge.templates.samples import Variant, sample_event
from bridge.templates.variables import Schema, message_variables, variable_schema
from bridge.wording import MAX_TEXT_LENGTH

if TYPE_CHECKING:
    from jinja2.sandbox import ImmutableSandboxedEnvironment

    from bridge.templates.files import TemplateMessageModel
    from bridge.templates.registry import TemplateRegistry, TemplateSet
    from bridge.wording import MessageContext

__all__ = [
    "MAX_ROW_KEY",
    "MIN_HEADLINE_ROOM",
    "CardLimits",
    "kind_state_keys",
    "unknown_placeholders",
    "validate_registry",
]

MIN_HEADLINE_ROOM = 200
"""Characters the layout must leave for the headline when every value is at its longest."""

MAX_ROW_KEY = 25
"""Longest table-row label of a Zalo template card (ESMS table rules, VERIFIED partner doc)."""


@dataclass(frozen=True, slots=True)
class CardLimits:
    """Zalo's UNCERTAIN card limits (settings ``templates.card_max_buttons`` and ``…_title``)."""

    max_buttons: int = 4
    """Most buttons of a transaction template (ESMS; the v3 cap is UNCERTAIN)."""
    max_button_title: int = 35
    """Longest button title (UNCERTAIN, SPEC for promotion messages)."""


_JINJA_NAMES = frozenset({"loop", "self", "varargs", "kwargs", "caller"})


def _chain(node: nodes.Node) -> tuple[str, list[str]] | None:
    """``case.agency.upper`` → ("case", ["agency", "upper"]); None when not rooted in a name."""
    attrs: list[str] = []
    while True:
        if isinstance(node, nodes.Getattr):
            attrs.append(node.attr)
            node = node.node
        elif isinstance(node, nodes.Getitem) and isinstance(node.arg, nodes.Const):
            attrs.append(str(node.arg.value))
            node = node.node
        elif isinstance(node, nodes.Name) and node.ctx == "load":
            return node.name, attrs[::-1]
        else:
            return None


def _walk(shape: Any, attrs: list[str]) -> str | None:
    """The first attribute of ``attrs`` that ``shape`` lacks, dotted; None when all exist."""
    for depth, attr in enumerate(attrs):
        if isinstance(shape, dict):
            if attr not in shape:
                return ".".join(attrs[: depth + 1])
            shape = shape[attr]
        elif isinstance(shape, type):
            if not hasattr(shape, attr) or attr.startswith("_"):
                return ".".join(attrs[: depth + 1])
            return None
        else:
            return None
    return None


def unknown_placeholders(
    environment: ImmutableSandboxedEnvironment, source: str, known: Schema
) -> list[str]:
    """Names, attributes, filters and tests that ``source`` uses but no template provides."""
    try:
        tree = environment.parse(source)
    except JinjaTemplateError:
        return []  # reported when the template was compiled
    local = {n.name for n in tree.find_all(nodes.Name) if n.ctx in {"store", "param"}}
    provided = known.keys() | local | _JINJA_NAMES | environment.globals.keys()
    found = [
        f"unknown placeholder {name.name!r}"
        for name in tree.find_all(nodes.Name)
        if name.ctx == "load" and name.name not in provided
    ]
    for node in tree.find_all((nodes.Getattr, nodes.Getitem)):
        chain = _chain(node)
        missing = (
            None if chain is None or chain[0] not in known else _walk(known[chain[0]], chain[1])
        )
        if chain is not None and missing is not None:
            found.append(f"unknown placeholder {chain[0] + '.' + missing!r}")
    found += [
        f"unknown filter {used.name!r}"
        for used in tree.find_all(nodes.Filter)
        if used.name not in environment.filters
    ]
    found += [
        f"unknown test {used.name!r}"
        for used in tree.find_all(nodes.Test)
        if used.name not in environment.tests
    ]
    return list(dict.fromkeys(found))


class _Checker:
    """Collects the problems of one template set."""

    def __init__(
        self, templates: TemplateSet, problems: list[TemplateProblem], limits: CardLimits
    ) -> None:
        self.limits = limits
        self.set = templates
        self.merged = templates.merged
        self.problems = problems
        self.environment = template_environment()
        self.too_long = False

    def add(self, path: tuple[str, ...], template: str, key: str, problem: str) -> None:
        entry = TemplateProblem(self.merged.source_of(*path), template, key, problem)
        if entry not in self.problems:
            self.problems.append(entry)

    def placeholders(
        self, source: str, schema: Schema, path: tuple[str, ...], template: str, key: str
    ) -> None:
        for problem in unknown_placeholders(self.environment, source, schema):
            self.add(path, template, key, problem)

    def names(self) -> None:
        schema = variable_schema() | {TIMEZONE_VARIABLE: object}
        merged = self.merged
        for name, source in merged.snippets.items():
            self.placeholders(source, schema, ("snippets", name), f"snippets.{name}", name)
            schema = schema | {name: str}
        if merged.layout is not None:
            layout_schema = schema | {"headline": str}
            self.placeholders(merged.layout, layout_schema, ("layout",), "layout", "layout")
        common = merged.template_message.data if merged.template_message else {}
        for kind, entries in (("states", merged.states), ("events", merged.events)):
            for key, entry in entries.items():
                name = f"{kind}.{key}"
                if entry.get("headline") is not None:
                    at = (kind, key, "headline")
                    self.placeholders(entry["headline"], schema, at, name, "headline")
                own = entry["template_data"]
                for param, source in {**common, **own}.items():
                    where = (kind, key, "template_data", param) if param in own else None
                    path = where or ("template_message",)
                    self.placeholders(source, schema, path, name, f"template_data.{param}")

    def completeness(self) -> None:
        merged = self.merged
        if merged.layout is None:
            self.add(("layout",), "layout", "layout", "missing: no file gives the layout")
        elif "headline" not in merged.layout:
            self.add(("layout",), "layout", "layout", "the layout never shows {{ headline }}")
        states = {state.value for state in CaseState} | kind_state_keys()
        events = {t.value for t in EventType if t is not EventType.STATE_CHANGED}
        for key, entry in merged.states.items():
            if key not in states:
                self.add(("states", key), f"states.{key}", key, "unknown state")
            elif entry.get("headline") is None:
                self.add(("states", key), f"states.{key}", "headline", "missing")
        for state in sorted(states - merged.states.keys()):
            self.add(("states",), f"states.{state}", state, "missing state: no template words it")
        for key, entry in merged.events.items():
            if key not in events:
                self.add(("events", key), f"events.{key}", key, "unknown event type")
            elif entry.get("headline") is None:
                self.add(("events", key), f"events.{key}", "headline", "missing")
        self.template_message()

    def template_message(self) -> None:
        message = self.merged.template_message
        params: dict[str, int] = message.params if message else {}
        declared = ", ".join(params) or "none declared"
        for kind, entries in (("states", self.merged.states), ("events", self.merged.events)):
            for key, entry in entries.items():
                name = f"{kind}.{key}"
                own = entry["template_data"]
                data = {**(message.data if message else {}), **own}
                for param in sorted(data.keys() - params.keys()):
                    where = (kind, key, "template_data", param) if param in own else None
                    problem = f"unknown key: not a parameter of the template ({declared})"
                    self.add(
                        where or ("template_message",), name, f"template_data.{param}", problem
                    )
                for param in sorted(params.keys() - data.keys()):
                    problem = "missing key: the template declares this parameter"
                    self.add(("template_message",), name, f"template_data.{param}", problem)
        if message is not None:
            self.card(message)

    def card(self, message: TemplateMessageModel) -> None:
        if message.card is None:
            return
        card = message.card
        for row in card.rows:
            if row.param not in message.params:
                problem = f"row {row.key!r} shows an undeclared parameter"
                self.add(
                    ("template_message",), "template_message", f"card.rows.{row.param}", problem
                )
            if len(row.key) > MAX_ROW_KEY:
                problem = f"row label longer than {MAX_ROW_KEY} characters"
                self.add(("template_message",), "template_message", f"card.rows.{row.key}", problem)
        if len(card.buttons) > self.limits.max_buttons:
            problem = f"more than {self.limits.max_buttons} buttons"
            self.add(("template_message",), "template_message", "card.buttons", problem)
        for button in card.buttons:
            if button.param not in message.params:
                problem = f"button {button.title!r} opens an undeclared parameter"
                self.add(("template_message",), "template_message", "card.buttons", problem)
            if len(button.title) > self.limits.max_button_title:
                problem = f"button title longer than {self.limits.max_button_title} characters"
                self.add(("template_message",), "template_message", "card.buttons", problem)

    def rendering(self, context: MessageContext) -> None:
        """Render every template with realistic, longest and barest values."""
        code = self.set.label.partition("/")[2] or None
        for name in self.set.entries:
            kind, _, key = name.partition(".")
            for variant in Variant:
                event = sample_event(name, variant, procedure_code=code)
                if not self._render(name, (kind, key), event, context, variant):
                    break

    def _render(
        self,
        name: str,
        path: tuple[str, str],
        event: Any,
        context: MessageContext,
        variant: Variant,
    ) -> bool:
        entry = self.set.entries[name]
        variables: dict[str, Any] = message_variables(event, context)
        variables[TIMEZONE_VARIABLE] = context.timezone
        current: tuple[tuple[str, ...], str] = ((*path, "headline"), "headline")
        try:
            for snippet_name, snippet in self.set.snippets:
                current = (("snippets", snippet_name), f"snippets.{snippet_name}")
                variables[snippet_name] = snippet.render(variables)
            current = ((*path, "headline"), "headline")
            entry.headline.render(variables)
            current = (("layout",), "layout")
            assert self.set.layout is not None  # noqa: S101 - only compiled sets are rendered
            frame = self.set.layout.render({**variables, "headline": ""})
            data: dict[str, str] = {}
            for param, template in entry.template_data.items():
                current = ((*path, "template_data", param), f"template_data.{param}")
                data[param] = template.render(variables)
        except (JinjaTemplateError, TypeError, ValueError, AttributeError) as exc:
            self.add(current[0], name, current[1], f"fails with {variant} values: {exc}")
            return False
        frame = unicodedata.normalize("NFC", frame.strip())
        if len(frame) > MAX_TEXT_LENGTH - MIN_HEADLINE_ROOM and not self.too_long:
            self.too_long = True
            problem = (
                f"text over {MAX_TEXT_LENGTH:,} characters for the longest realistic values "
                f"({name}): without the headline it has {len(frame):,}, leaving less than "
                f"{MIN_HEADLINE_ROOM} for the headline"
            )
            self.add(("layout",), "layout", "text", problem)
        message = self.merged.template_message
        limits = message.params if message else {}
        for param, value in data.items():
            limit = limits.get(param)
            if limit is not None and len(value) > limit:
                problem = (
                    f"{len(value)} characters with {variant} values, over the parameter's "
                    f"maximum of {limit}"
                )
                self.add((*path, "template_data", param), name, f"template_data.{param}", problem)
        return True


def validate_registry(
    registry: TemplateRegistry,
    context: MessageContext,
    problems: list[TemplateProblem] | None = None,
    limits: CardLimits | None = None,
) -> list[TemplateProblem]:
    """Every problem of every template set of ``registry``, each naming file, template and key.

    Checked: placeholders, filters and tests exist; every state has a template and every name is
    a known state or event type; ``template_data`` keys match the declared parameters; the card
    fits Zalo's table and button rules; every template renders with realistic, longest and barest
    values; the text fits in 2,000 characters and each parameter in its maximum length.

    Args:
        registry: The compiled templates.
        context: The province's wording settings (the signature and link count in lengths).
        problems: Problems found while compiling; the new ones are appended.
        limits: Zalo's card limits (UNCERTAIN, configurable).
    """
    problems = problems if problems is not None else []
    checkers = [
        _Checker(templates, problems, limits or CardLimits()) for templates in registry.all_sets()
    ]
    for checker in checkers:
        checker.names()
        checker.completeness()
    if not problems:  # rendering needs every template compiled and complete
        for checker in checkers:
            checker.rendering(context)
    return problems


def kind_state_keys() -> set[str]:
    """``<KIND>.<STATE>`` for every state of complaints, denunciations and land disputes."""
    return {
        f"{kind.value}.{state}"
        for kind in CaseKind
        if kind is not CaseKind.ADMINISTRATIVE_PROCEDURE
        for state in lifecycle(kind).states
    }
