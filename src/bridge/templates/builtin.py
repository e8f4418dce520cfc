"""The package's default templates: compiled once, wording events without a province's files."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING

from bridge.errors import TemplateError
from bridge.templates.registry import TemplateRegistry, build_registry, is_news

if TYPE_CHECKING:
    from bridge.events import CaseStateEvent
    from bridge.wording import CitizenMessage, MessageContext

__all__ = ["BuiltinRenderer", "package_registry", "render_message"]


@cache
def package_registry() -> TemplateRegistry:
    """The package's default templates, compiled once (the tests validate them)."""
    registry, problems = build_registry(None, label="package")
    if problems:
        raise TemplateError(problems)
    return registry


@dataclass(frozen=True, slots=True)
class BuiltinRenderer:
    """The package's default templates for one province's context (no province overrides)."""

    context: MessageContext

    def render(self, event: CaseStateEvent) -> CitizenMessage | None:
        """The message about ``event`` (see ``render_message``)."""
        return render_message(event, self.context)


def render_message(event: CaseStateEvent, context: MessageContext) -> CitizenMessage | None:
    """Write the message that tells the citizen about ``event`` with the package's templates.

    Args:
        event: A validated case-state event.
        context: The province's wording settings.

    Returns:
        The message (NFC, at most ``MAX_TEXT_LENGTH`` characters), or None when this kind of
        event is not news for the citizen (internal steps, data corrections).
    """
    if not is_news(event):
        return None
    rendered = package_registry().render(event, context)
    return None if rendered is None else rendered.citizen_message()
