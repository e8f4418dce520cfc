"""Message templates: Vietnamese defaults in the package, overridden per province and procedure."""

from bridge.templates.builtin import BuiltinRenderer, package_registry, render_message
from bridge.templates.registry import RenderedMessage, TemplateRegistry, TemplateRenderer
from bridge.templates.renderer import load_registry, template_renderer

__all__ = [
    "BuiltinRenderer",
    "RenderedMessage",
    "TemplateRegistry",
    "TemplateRenderer",
    "load_registry",
    "package_registry",
    "render_message",
    "template_renderer",
]
