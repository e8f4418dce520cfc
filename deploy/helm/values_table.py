"""Writes the values table of the chart's README from the `## @param` lines of values.yaml.

Each `## @param <key> <description>` line of values.yaml becomes a row: the key, the description,
and the default from values.yaml (JSON for a scalar or an empty collection, "see values.yaml" for
anything longer). The table is everything after the README's `## Values` heading and its one-line
introduction.

    python deploy/helm/values_table.py            # rewrite the table in README.md
    python deploy/helm/values_table.py --check    # exit 1 when the table is stale
"""

# ruff: noqa: INP001 - a script run by path (make chart-schema), not part of a package

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path
from typing import Any

import yaml

CHART = Path(__file__).resolve().parent / "bridge"
VALUES_FILE = CHART / "values.yaml"
README = CHART / "README.md"
HEADING = (
    "## Values\n\nGenerated from the `## @param` lines of `values.yaml` "
    "(a test checks that each one is here).\n\n"
)
_PARAM = re.compile(r"^\s*## @param (\S+) (.+)$", re.MULTILINE)


def _default(values: dict[str, Any], key: str) -> str:
    node: Any = values
    for part in key.split("."):
        node = node[part]
    if isinstance(node, dict | list) and node:
        return "see values.yaml"
    return json.dumps(node, ensure_ascii=False)


def table(values_text: str) -> str:
    """The Markdown table of every documented parameter, in values.yaml's order."""
    values = yaml.safe_load(values_text)
    rows = ["| key | description | default |", "|---|---|---|"]
    for key, description in _PARAM.findall(values_text):
        cell = description.strip().replace("|", "\\|")
        rows.append(f"| `{key}` | {cell} | `{_default(values, key)}` |")
    return "\n".join(rows).replace("`see values.yaml`", "see values.yaml") + "\n"


def render(readme: str, values_text: str) -> str:
    """The README with its values table regenerated."""
    start = readme.index(HEADING) + len(HEADING)
    end = readme.find("\n## ", start)
    rest = "" if end == -1 else readme[end:]
    return readme[:start] + table(values_text) + rest


def main(argv: list[str] | None = None) -> int:
    """Rewrite the README's values table, or with --check report whether it is stale."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="write nothing; exit 1 when stale")
    args = parser.parse_args(argv)
    text = README.read_text(encoding="utf-8")
    rendered = render(text, VALUES_FILE.read_text(encoding="utf-8"))
    if args.check:
        if rendered != text:
            print(f"stale: {README} (run `make chart-schema`)", file=sys.stderr)  # noqa: T201 - a command-line tool
            return 1
        return 0
    README.write_text(rendered, encoding="utf-8")
    print(f"wrote {README}")  # noqa: T201 - a command-line tool
    return 0


if __name__ == "__main__":
    sys.exit(main())
