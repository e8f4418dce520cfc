"""docs/asyncapi.yaml is generated from the code, names every topic, and types every payload."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel

from bridge.app import create_app
from bridge.asyncapi import (
    DOCUMENT_PATH,
    asyncapi_document,
    channels,
    default_settings,
    render_asyncapi,
    stale_asyncapi,
)
from bridge.settings import Settings

ROOT = Path(__file__).resolve().parents[1]


def _topic_settings(model: BaseModel, prefix: str = "") -> dict[str, str]:
    """Every setting whose name ends in ``topic``, anywhere in the settings tree."""
    found: dict[str, str] = {}
    for name in type(model).model_fields:
        value = getattr(model, name)
        if isinstance(value, BaseModel):
            found.update(_topic_settings(value, f"{prefix}{name}."))
        elif name.endswith("topic") and isinstance(value, str):
            found[f"{prefix}{name}"] = value
    return found


def _resolve(document: dict[str, Any], ref: str) -> Any:
    node: Any = document
    for part in ref.removeprefix("#/").split("/"):
        node = node[part]
    return node


def test_the_committed_document_matches_the_code():
    """Run `make asyncapi` after changing a contract model or a topic."""
    assert not stale_asyncapi(ROOT / DOCUMENT_PATH, default_settings())


def test_a_changed_document_is_reported_stale(tmp_path):
    path = tmp_path / "asyncapi.yaml"
    path.write_text(render_asyncapi(default_settings()), encoding="utf-8")
    assert not stale_asyncapi(path, default_settings())
    path.write_text(path.read_text(encoding="utf-8").replace("RESULT_READY", "READY"), "utf-8")
    assert stale_asyncapi(path, default_settings())
    assert stale_asyncapi(tmp_path / "missing.yaml", default_settings())


def test_the_document_does_not_depend_on_the_environment(monkeypatch):
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", "kafka.example:9093")
    monkeypatch.setenv("BRIDGE_KAFKA__INPUT_TOPIC", "elsewhere")
    assert render_asyncapi(default_settings()) == (ROOT / DOCUMENT_PATH).read_text("utf-8")


def test_every_topic_setting_is_a_channel():
    """A new topic setting without a channel in bridge.asyncapi fails here."""
    settings = default_settings()
    addresses = {c["address"] for c in asyncapi_document(settings)["channels"].values()}
    assert set(_topic_settings(settings).values()) <= addresses


def test_every_topic_the_running_app_subscribes_to_is_documented():
    defaults = Settings.model_construct()
    # The v2 topic is read when enabled; the document always describes it.
    kafka = defaults.kafka.model_copy(update={"v2_enabled": True})
    settings = defaults.model_copy(update={"kafka": kafka})
    app = create_app(settings)
    subscribed = {getattr(t, "name", t) for sub in app.broker.subscribers for t in sub.topics}
    documented = {c.topic for c in channels(settings) if c.direction == "receive"}
    assert subscribed
    assert subscribed == documented


def test_every_message_has_a_typed_payload_and_every_reference_resolves():
    document = asyncapi_document(default_settings())
    messages = document["components"]["messages"]
    assert len(messages) == len(document["channels"])
    for name, message in messages.items():
        payload = message["payload"]
        if "$ref" in payload:
            schema = _resolve(document, payload["$ref"])
            assert schema["type"] == "object", name
            assert schema["properties"], name
        else:  # the dead-letter copies: bytes as they came, headers typed
            assert "dead-letter" in name
            assert "x-dlq-reason" in message["headers"]["properties"]
    refs: list[str] = []

    def collect(node: Any) -> None:
        if isinstance(node, dict):
            refs.extend(v for k, v in node.items() if k == "$ref" and isinstance(v, str))
            for v in node.values():
                collect(v)
        elif isinstance(node, list):
            for v in node:
                collect(v)

    collect(document)
    assert refs
    for ref in refs:
        assert _resolve(document, ref) is not None


def test_directions_match_what_bridge_does():
    document = asyncapi_document(default_settings())
    actions = {
        _resolve(document, op["channel"]["$ref"])["address"]: op["action"]
        for op in document["operations"].values()
    }
    kafka = default_settings().kafka
    assert actions[kafka.input_topic] == "receive"
    assert actions[kafka.status_topic] == "send"
    assert actions[kafka.dead_letter_topic] == "send"


def test_the_document_is_yaml_of_asyncapi_3():
    document = yaml.safe_load((ROOT / DOCUMENT_PATH).read_text("utf-8"))
    assert document["asyncapi"].startswith("3.")
    assert document["info"]["title"] == "zalo-bridge"
