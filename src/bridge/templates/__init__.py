"""Message templates: Vietnamese defaults in the package, overridden per province and procedure."""

from bridge.templates.builtin import BuiltinRenderer, package_registry, render_message
from bridge.templates.preview import PreviewServer, load_catalog
from bridge.templates.registry import RenderedMessage, TemplateRegistry, TemplateRenderer
from bridge.templates.renderer import card_limits, load_registry, template_renderer
from bridge.templates.settings import TemplatesConfig, TemplateSettings

__all__ = [
    "BuiltinRenderer",
    "PreviewServer",
    "RenderedMessage",
    "TemplateRegistry",
    "TemplateRenderer",
    "TemplateSettings",
    "TemplatesConfig",
    "card_limits",
    "load_catalog",
    "load_registry",
    "package_registry",
    "render_message",
    "template_renderer",
]
