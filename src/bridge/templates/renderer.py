"""The renderer the service runs with: the province's templates, loaded and validated at start."""

from __future__ import annotations

from typing import TYPE_CHECKING

from bridge.errors import TemplateError
from bridge.templates.registry import TemplateRegistry, TemplateRenderer, build_registry
from bridge.templates.validation import CardLimits, validate_registry

if TYPE_CHECKING:
    from pathlib import Path

    from bridge.templates.settings import TemplatesConfig
    from bridge.wording import MessageContext

__all__ = ["card_limits", "load_registry", "template_renderer"]


def template_renderer(settings: TemplatesConfig, context: MessageContext) -> TemplateRenderer:
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


def card_limits(settings: TemplatesConfig) -> CardLimits:
    """Zalo's UNCERTAIN template-card limits, as configured."""
    templates = settings.templates
    return CardLimits(templates.card_max_buttons, templates.card_max_button_title)


def load_registry(
    directory: Path | None,
    *,
    label: str,
    context: MessageContext,
    limits: CardLimits | None = None,
) -> TemplateRegistry:
    """Load, compile and validate the templates; the service must not start without them.

    Args:
        directory: The province's template directory (``messages.yaml``,
            ``procedure-<code>.yaml``), layered over the package defaults; None for the defaults.
        label: Names the province in template versions (its slug).
        context: The province's wording settings, used to check lengths with real values.
        limits: Zalo's card limits (UNCERTAIN, from the settings).

    Raises:
        TemplateError: Listing every problem, each naming the file, the template and the key.
    """
    registry, problems = build_registry(directory, label=label)
    problems = validate_registry(registry, context, problems, limits)
    if problems:
        raise TemplateError(problems)
    return registry
