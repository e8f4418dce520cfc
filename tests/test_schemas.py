"""The JSON Schemas in schemas/ are generated from the models and must not drift from them."""

from __future__ import annotations

import json
from pathlib import Path

from bridge.schemas import SCHEMAS, render_schema, stale_schemas, write_schemas

SCHEMA_DIR = Path(__file__).resolve().parents[1] / "schemas"


def test_the_committed_schemas_match_the_models():
    """Run `zalo-bridge schemas export` after changing a model."""
    assert stale_schemas(SCHEMA_DIR) == []


def test_a_changed_file_is_reported_stale(tmp_path):
    write_schemas(tmp_path)
    assert stale_schemas(tmp_path) == []
    path = tmp_path / "case-state-event.v1.json"
    path.write_text(path.read_text(encoding="utf-8").replace("SUBMITTED", "SENT"), encoding="utf-8")
    assert stale_schemas(tmp_path) == ["case-state-event.v1.json"]


def test_the_event_schema_lists_the_ten_states_and_requires_the_essentials():
    schema = json.loads(render_schema("case-state-event.v1.json"))
    states = schema["$defs"]["CaseState"]["enum"]
    assert len(states) == 10
    assert states[0] == "SUBMITTED"
    assert states[-1] == "RESULT_RETURNED"
    assert set(schema["required"]) >= {
        "event_id",
        "event_type",
        "occurred_at",
        "province",
        "sequence",
        "case",
        "state",
        "recipient",
    }
    assert schema["$schema"].endswith("2020-12/schema")


def test_every_schema_has_a_file():
    assert sorted(p.name for p in SCHEMA_DIR.glob("*.json")) == sorted(SCHEMAS)
