"""The renderer the service runs with: the province's templates, loaded and validated at start."""

from __future__ import annotations

from typing import TYPE_CHECKING

from bridge.templates.registry import TemplateRenderer, load_registry

if TYPE_CHECKING:
    from bridge.mapping import MessageContext
    from bridge.settings import Settings

__all__ = ["template_renderer"]


def template_renderer(settings: Settings, context: MessageContext) -> TemplateRenderer:
    """Load the package defaults under ``templates.directory`` and check them with ``context``.

    Raises:
        TemplateError: A ``ConfigurationError`` naming the file, template and key of every
            problem; the service must not start.
    """
    directory = settings.templates.directory
    registry = load_registry(directory, label=settings.province.slug, context=context)
    return TemplateRenderer(registry, context)
