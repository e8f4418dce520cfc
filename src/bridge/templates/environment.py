"""The sandboxed Jinja2 environment of message templates, with Vietnamese formatting filters."""

from __future__ import annotations

from datetime import tzinfo
from typing import TYPE_CHECKING, Any

from jinja2 import StrictUndefined, pass_context
from jinja2.sandbox import ImmutableSandboxedEnvironment

from bridge.templates.variables import RECORD_TYPES
from bridge.wording import DATE_FORMAT, clip, format_vnd

if TYPE_CHECKING:
    from datetime import datetime

    from jinja2.runtime import Context

__all__ = ["FILTERS", "TIMEZONE_VARIABLE", "template_environment"]

TIMEZONE_VARIABLE = "timezone"
"""The render-context variable holding the province's time zone (a ``ZoneInfo``)."""


def _zone(context: Context) -> tzinfo:
    zone = context.resolve(TIMEZONE_VARIABLE)
    if not isinstance(zone, tzinfo):
        raise TypeError(f"the render context's {TIMEZONE_VARIABLE!r} is not a time zone")
    return zone


@pass_context
def _date(context: Context, moment: datetime) -> str:
    """``{{ case.due_at|date }}`` → ``13/03/2026`` in the province's time zone."""
    return moment.astimezone(_zone(context)).strftime(DATE_FORMAT)


@pass_context
def _datetime(context: Context, moment: datetime) -> str:
    """``{{ occurred_at|datetime }}`` → ``09:30 10/03/2026`` in the province's time zone."""
    return moment.astimezone(_zone(context)).strftime("%H:%M " + DATE_FORMAT)


def _money(amount: int) -> str:
    """``{{ payment.amount_vnd|money }}`` → ``100.000 đ``."""
    if isinstance(amount, bool) or not isinstance(amount, int):
        raise TypeError(f"money needs a whole number of đồng, not {type(amount).__name__}")
    return format_vnd(amount)


def _clip(text: str, limit: int) -> str:
    """``{{ reason|clip(300) }}``: at most ``limit`` characters, cut with an ellipsis."""
    return clip(str(text), limit)


def _phrase(text: str, limit: int) -> str:
    """Free text followed by the template's own full stop: final ``.;,:`` removed, clipped."""
    return clip(str(text).rstrip(" .;,:"), limit)


def _capfirst(text: str) -> str:
    """The first letter upper-cased, the rest untouched (unlike ``capitalize``)."""
    text = str(text)
    return text[:1].upper() + text[1:]


FILTERS: dict[str, Any] = {
    "date": _date,
    "datetime": _datetime,
    "money": _money,
    "clip": _clip,
    "phrase": _phrase,
    "capfirst": _capfirst,
}
"""The filters bridge adds to Jinja2's built-in ones."""


class _Sandbox(ImmutableSandboxedEnvironment):
    """Jinja2's immutable sandbox, with a fast path for bridge's own variable records.

    The records (``bridge.templates.variables``) are frozen dataclasses holding only data, so
    their public fields need none of the sandbox's per-access checks, which cost more than the
    rest of the rendering together. Everything else goes through the full checks.
    """

    def is_safe_attribute(self, obj: Any, attr: str, value: Any) -> bool:
        """Public fields of the variable records are safe; anything else is checked."""
        if type(obj) in RECORD_TYPES and not attr.startswith("_"):
            return True
        return bool(super().is_safe_attribute(obj, attr, value))


def _finalize(value: object) -> object:
    """``None`` prints as nothing, not as the word ``None``."""
    return "" if value is None else value


def template_environment() -> ImmutableSandboxedEnvironment:
    """A sandbox (no access to Python internals, no mutation) for plain-text templates.

    Undefined variables raise instead of printing nothing, so a misspelt placeholder is caught
    by validation rather than sent to citizens. Block tags on their own line leave no blank line.
    """
    environment = _Sandbox(
        autoescape=False,  # plain text for Zalo, never HTML
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=False,
        finalize=_finalize,
    )
    environment.filters.update(FILTERS)
    return environment
