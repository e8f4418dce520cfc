"""Configure structlog: JSON lines off a terminal, readable lines on one, personal data masked.

Exceptions and stacks are turned into text first and masked with everything else, so an
exception's message, its chained causes and its traceback never carry a phone number, an ID
number or a token in clear; tracebacks never show local variables.
"""

from __future__ import annotations

import logging
import sys
from typing import TYPE_CHECKING, Any, Literal, TextIO

import structlog

from bridge.observability.masking import REDACTED, mask_text

if TYPE_CHECKING:
    from collections.abc import MutableMapping

    from structlog.typing import FilteringBoundLogger

__all__ = ["configure_logging", "get_logger", "mask_personal_data"]

_SENSITIVE_KEYS = frozenset({"access_token", "refresh_token", "secret", "password", "token"})
_OPAQUE_IDS = frozenset(
    {"event_id", "message_id", "zalo_message_id", "case_code", "offset", "partition", "owner"}
)
"""Identifiers that look like numbers but are not personal data: never masked."""
_PROCESSOR_META = frozenset({"_record", "_from_structlog"})
"""What structlog's ProcessorFormatter carries for itself and removes before rendering."""


def _mask(value: Any) -> Any:
    if isinstance(value, str):
        return mask_text(value)
    if value is None or isinstance(value, bool | int | float):
        return value
    if isinstance(value, dict):
        return {k: REDACTED if k in _SENSITIVE_KEYS else _mask(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_mask(v) for v in value]
    if isinstance(value, BaseException):  # error=exc: its text, as the renderer would show it
        return mask_text(f"{type(value).__name__}: {value}")
    # Any other object would be rendered through its str() or repr(): mask that text.
    return mask_text(str(value))


def mask_personal_data(
    _logger: Any, _method: str, event_dict: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    """Structlog processor: redact secrets by key, mask phone and ID numbers and secrets in values.

    It runs after the exception and the stack were rendered to text (``exception``, ``stack``),
    so those are masked too.
    """
    for key, value in event_dict.items():
        if key in _SENSITIVE_KEYS:
            event_dict[key] = REDACTED
        elif key not in _OPAQUE_IDS and key not in _PROCESSOR_META:
            event_dict[key] = _mask(value)
    return event_dict


def _logger_name(
    _logger: Any, _method: str, event_dict: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    """Structlog processor: show bridge's ``logger_name`` under ``logger``, like stdlib lines."""
    if "logger_name" in event_dict:
        event_dict["logger"] = event_dict.pop("logger_name")
    return event_dict


def configure_logging(
    level: str = "INFO",
    fmt: Literal["auto", "json", "console"] = "auto",
    stream: TextIO | None = None,
) -> None:
    """Send bridge's structlog lines and the standard library's (aiokafka, faststream) to stdout.

    bridge's own loggers write straight to stdout through structlog (no ``logging.LogRecord`` on
    the per-event path); the standard library's records get the same processors and renderer.

    Args:
        level: The minimum level.
        fmt: ``json`` for one JSON object a line, ``console`` for people, ``auto`` for console
            on a terminal and JSON elsewhere.
        stream: Where lines go; standard output by default.
    """
    out = stream or sys.stdout
    console = fmt == "console" or (fmt == "auto" and out.isatty())
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        _logger_name,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        # Exceptions and stacks become plain text (no local variables) before masking, on the
        # console too: a rich traceback would be drawn by the renderer, after the masking.
        structlog.processors.StackInfoRenderer(),
        structlog.processors.format_exc_info,
        mask_personal_data,
    ]
    renderer: Any = (
        structlog.dev.ConsoleRenderer(exception_formatter=structlog.dev.plain_traceback)
        if console
        else structlog.processors.JSONRenderer(ensure_ascii=False)
    )
    numeric_level = logging.getLevelNamesMapping()[level]
    structlog.configure(
        processors=[*shared, renderer],
        wrapper_class=structlog.make_filtering_bound_logger(numeric_level),
        logger_factory=structlog.WriteLoggerFactory(out),
        cache_logger_on_first_use=True,
    )
    handler = logging.StreamHandler(out)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=[structlog.stdlib.add_logger_name, *shared],
            processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, renderer],
        )
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for chatty in ("aiokafka", "httpx", "alembic"):  # a line per request, fetch or plugin
        logging.getLogger(chatty).setLevel(max(numeric_level, logging.WARNING))


def get_logger(name: str) -> FilteringBoundLogger:
    """A lazy structlog logger whose lines carry ``logger=name``; safe at import time."""
    logger: FilteringBoundLogger = structlog.get_logger(logger_name=name)
    return logger
