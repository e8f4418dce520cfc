"""Writes the `config` part of the chart's values.schema.json from bridge's Settings model.

The chart renders `.Values.config` as bridge's settings file, so its schema is the JSON schema of
``bridge.settings.Settings`` with every secret field taken out (secrets come from the Secret, never
from the ConfigMap), references inlined, titles dropped, and every object closed. Settings that
other work is adding but that this tree's ``Settings`` does not define yet are listed in
``PENDING`` below: the real field wins as soon as it exists, and ``--check`` names the pending
entries that have become redundant, so the list only shrinks.

    python deploy/helm/values_schema.py            # rewrite values.schema.json
    python deploy/helm/values_schema.py --check    # exit 1 when the file is stale
"""

# ruff: noqa: INP001 - a script run by path (make chart-schema), not part of a package

from __future__ import annotations

import argparse
import copy
import json
import sys
from pathlib import Path
from typing import Any

CHART = Path(__file__).resolve().parent / "bridge"
SCHEMA_FILE = CHART / "values.schema.json"

# Settings keys announced for the next merge but not yet defined by this tree's Settings, by
# section; only the non-secret ones. Empty now: every announced key (Kafka security, managed Zalo
# tokens, templates, quiet hours, announcements, webhook, linking, retention) has landed. A section
# arriving later (e.g. `cascade`) needs no entry here: `make chart-schema` picks it up from
# Settings. An entry looks like
#   "section": {"description": "…", "properties": {"key": {"type": "string", "description": "…"}}}
PENDING: dict[str, dict[str, Any]] = {}


def settings_schema() -> dict[str, Any]:
    """The JSON schema of bridge's Settings, as pydantic writes it."""
    from bridge.settings import Settings  # noqa: PLC0415 - the script's one dependency on bridge

    return Settings.model_json_schema()


def _is_secret(field: dict[str, Any]) -> bool:
    options = field.get("anyOf", [field])
    return any(option.get("format") == "password" for option in options)


def _inline(node: Any, defs: dict[str, Any]) -> Any:
    if isinstance(node, dict):
        if "$ref" in node:
            target = copy.deepcopy(defs[node["$ref"].rsplit("/", 1)[1]])
            siblings = {k: v for k, v in node.items() if k not in {"$ref", "default"}}
            return _inline({**target, **siblings}, defs)
        return {k: _inline(v, defs) for k, v in node.items() if k != "title"}
    if isinstance(node, list):
        return [_inline(item, defs) for item in node]
    return node


def _drop_secrets(section: dict[str, Any]) -> list[str]:
    dropped = [name for name, field in section.get("properties", {}).items() if _is_secret(field)]
    for name in dropped:
        del section["properties"][name]
    return dropped


def config_schema(source: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """The schema of `.Values.config`, and the pending entries that Settings now defines."""
    schema = _inline({k: v for k, v in source.items() if k != "$defs"}, source.get("$defs", {}))
    for section in schema["properties"].values():
        _drop_secrets(section)
    redundant = []
    for name, pending in PENDING.items():
        section = schema["properties"].setdefault(
            name,
            {"type": "object", "additionalProperties": False, "properties": {}},
        )
        section.setdefault("description", pending["description"])
        for key, field in pending["properties"].items():
            if key in section["properties"]:
                redundant.append(f"{name}.{key}")
            else:
                section["properties"][key] = field
    schema["description"] = (
        "bridge's settings file (generated from bridge.settings.Settings by "
        "deploy/helm/values_schema.py; secret settings excluded: they come from `secrets`)."
    )
    schema["additionalProperties"] = False
    return schema, redundant


def render(current: dict[str, Any], source: dict[str, Any]) -> tuple[str, list[str]]:
    """values.schema.json with its `config` property regenerated."""
    config, redundant = config_schema(source)
    updated = copy.deepcopy(current)
    updated["properties"]["config"] = config
    return json.dumps(updated, indent=2, ensure_ascii=False) + "\n", redundant


def main(argv: list[str] | None = None) -> int:
    """Rewrite values.schema.json, or with --check report whether it is stale."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="write nothing; exit 1 when stale")
    args = parser.parse_args(argv)
    text = SCHEMA_FILE.read_text(encoding="utf-8")
    rendered, redundant = render(json.loads(text), settings_schema())
    for name in redundant:
        print(f"PENDING entry {name} is now defined by Settings: remove it", file=sys.stderr)  # noqa: T201 - a command-line tool
    if args.check:
        if rendered != text:
            print(  # noqa: T201 - a command-line tool
                f"stale: {SCHEMA_FILE} (run `make chart-schema`)", file=sys.stderr
            )
            return 1
        return 0
    SCHEMA_FILE.write_text(rendered, encoding="utf-8")
    print(f"wrote {SCHEMA_FILE}")  # noqa: T201 - a command-line tool
    return 0


if __name__ == "__main__":
    sys.exit(main())
