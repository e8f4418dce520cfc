"""Message templates: Vietnamese defaults in the package, overridden per province and procedure."""

from __future__ import annotations

from functools import cache

from bridge.errors import TemplateError
from bridge.templates.registry import (
    RenderedMessage,
    TemplateRegistry,
    TemplateRenderer,
    build_registry,
    load_registry,
)

__all__ = [
    "RenderedMessage",
    "TemplateRegistry",
    "TemplateRenderer",
    "load_registry",
    "package_registry",
]


@cache
def package_registry() -> TemplateRegistry:
    """The package's default templates, compiled once (the tests validate them)."""
    registry, problems = build_registry(None, label="package")
    if problems:
        raise TemplateError(problems)
    return registry
