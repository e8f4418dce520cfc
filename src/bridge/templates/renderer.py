"""The renderer the service runs with: the province's templates, loaded and validated at start."""

from __future__ import annotations

from typing import TYPE_CHECKING

from bridge.templates.registry import TemplateRenderer, load_registry
from bridge.templates.validation import CardLimits

if TYPE_CHECKING:
    from bridge.settings import Settings
    from bridge.wording import MessageContext

__all__ = ["card_limits", "template_renderer"]


def template_renderer(settings: Settings, context: MessageContext) -> TemplateRenderer:
    """Load the package defaults under ``templates.directory`` and check them with ``context``.

    Raises:
        TemplateError: A ``ConfigurationError`` naming the file, template and key of every
            problem; the service must not start.
    """
    registry = load_registry(
        settings.templates.directory,
        label=settings.province.slug,
        context=context,
        limits=card_limits(settings),
    )
    return TemplateRenderer(registry, context)


def card_limits(settings: Settings) -> CardLimits:
    """Zalo's UNCERTAIN template-card limits, as configured."""
    templates = settings.templates
    return CardLimits(templates.card_max_buttons, templates.card_max_button_title)
