"""Configure structlog: JSON lines off a terminal, readable lines on one, personal data masked."""

from __future__ import annotations

import logging
import sys
from typing import TYPE_CHECKING, Any, Literal

import structlog

from bridge.masking import mask_text

if TYPE_CHECKING:
    from collections.abc import MutableMapping

__all__ = ["configure_logging", "get_logger", "mask_personal_data"]

_SENSITIVE_KEYS = frozenset({"access_token", "refresh_token", "secret", "password", "token"})
_OPAQUE_IDS = frozenset(
    {"event_id", "message_id", "zalo_message_id", "case_code", "offset", "partition", "owner"}
)
"""Identifiers that look like numbers but are not personal data: never masked."""


def _mask(value: Any) -> Any:
    if isinstance(value, str):
        return mask_text(value)
    if isinstance(value, dict):
        return {k: "[redacted]" if k in _SENSITIVE_KEYS else _mask(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_mask(v) for v in value]
    return value


def mask_personal_data(
    _logger: Any, _method: str, event_dict: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    """Structlog processor: redact secrets by key and mask phone and ID numbers in every value."""
    for key, value in event_dict.items():
        if key in _SENSITIVE_KEYS:
            event_dict[key] = "[redacted]"
        elif key not in _OPAQUE_IDS:
            event_dict[key] = _mask(value)
    return event_dict


def configure_logging(
    level: str = "INFO", fmt: Literal["auto", "json", "console"] = "auto"
) -> None:
    """Route structlog and the standard library's logging (aiokafka, faststream) to stdout.

    Args:
        level: The minimum level.
        fmt: ``json`` for one JSON object a line, ``console`` for people, ``auto`` for console
            on a terminal and JSON elsewhere.
    """
    console = fmt == "console" or (fmt == "auto" and sys.stdout.isatty())
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        mask_personal_data,
        structlog.processors.StackInfoRenderer(),
    ]
    renderer: Any = (
        structlog.dev.ConsoleRenderer()
        if console
        else structlog.processors.JSONRenderer(ensure_ascii=False)
    )
    if not console:
        shared.append(structlog.processors.format_exc_info)
    structlog.configure(
        processors=[*shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=shared,
            processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, renderer],
        )
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    logging.getLogger("aiokafka").setLevel(max(logging.getLevelName(level), logging.WARNING))


def get_logger(name: str) -> structlog.stdlib.BoundLogger:
    """Return a structlog logger named ``name``."""
    return structlog.stdlib.get_logger(name)
