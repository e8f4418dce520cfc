"""Write the JSON Schemas of the Kafka contracts to ``schemas/`` and check they have not drifted."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from bridge.announcements.contract import announcement_json_schema
from bridge.case_kinds.contract import event_v2_json_schema
from bridge.events import event_json_schema
from bridge.feedback.contract import feedback_json_schema
from bridge.status import status_json_schema
from bridge.submissions.contract import submission_json_schema

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

__all__ = ["SCHEMAS", "render_schema", "stale_schemas", "write_schemas"]

SCHEMAS: dict[str, Callable[[], dict[str, Any]]] = {
    "case-state-event.v1.json": event_json_schema,
    "case-state-event.v2.json": event_v2_json_schema,
    "delivery-status-event.v1.json": status_json_schema,
    "announcement.v1.json": announcement_json_schema,
    "citizen-feedback.v1.json": feedback_json_schema,
    "citizen-submission.v1.json": submission_json_schema,
}
"""File name in ``schemas/`` → the function that generates its content from the models."""


def render_schema(name: str) -> str:
    """The exact text of one schema file: sorted keys, two-space indent, UTF-8, final newline."""
    return json.dumps(SCHEMAS[name](), indent=2, ensure_ascii=False, sort_keys=True) + "\n"


def write_schemas(directory: Path) -> list[Path]:
    """Regenerate every schema file in ``directory``; return the paths written."""
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for name in SCHEMAS:
        path = directory / name
        path.write_text(render_schema(name), encoding="utf-8")
        written.append(path)
    return written


def stale_schemas(directory: Path) -> list[str]:
    """Names of the schema files in ``directory`` that are missing or differ from the models."""
    stale = []
    for name in SCHEMAS:
        path = directory / name
        if not path.is_file() or path.read_text(encoding="utf-8") != render_schema(name):
            stale.append(name)
    return stale
