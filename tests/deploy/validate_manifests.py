"""Validates rendered Kubernetes manifests offline: built-in kinds and the chart's CRDs.

Runs in the kubernetes-validate tool environment (`make chart-tools`), not in the project's:

    python validate_manifests.py --kubernetes-version 1.29 --crd-schemas DIR FILE...

Built-in kinds are checked against the strict (closed) schemas the kubernetes-validate package
ships for each Kubernetes version; CRD kinds against DIR/<kind>-<group>-<version>.json. A kind
with no schema is an error, not a warning. Prints one JSON object per problem and exits 1 if any.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path
from typing import Any

import jsonschema
import yaml
from kubernetes_validate import utils


def _schema_name(resource: dict[str, Any]) -> str:
    api_version = re.sub(r"^([^./]*)(?:\.[^/]*)?/", r"\1-", resource["apiVersion"])
    return f"{resource['kind'].lower()}-{api_version}.json"


def problems(path: Path, versions: list[str], crd_dir: Path) -> list[dict[str, str]]:
    """Everything wrong with the resources of one file."""
    found = []
    for resource in (r for r in yaml.safe_load_all(path.read_text(encoding="utf-8")) if r):
        name = f"{resource.get('kind')}/{resource.get('metadata', {}).get('name')}"
        crd_schema = crd_dir / _schema_name(resource)
        if crd_schema.is_file():
            schema = json.loads(crd_schema.read_text(encoding="utf-8"))
            validator = jsonschema.Draft202012Validator(schema)
            found.extend(
                {
                    "file": str(path),
                    "resource": name,
                    "against": crd_schema.name,
                    "error": f"{'.'.join(map(str, error.path))}: {error.message}",
                }
                for error in validator.iter_errors(resource)
            )
            continue
        for version in versions:
            try:
                utils.validate(resource, version, strict=True)
            except utils.ValidationError as error:
                found.append(
                    {
                        "file": str(path),
                        "resource": name,
                        "against": f"kubernetes {version}",
                        "error": f"{'.'.join(map(str, error.path))}: {error.message}",
                    }
                )
            except utils.SchemaNotFoundError as error:
                found.append(
                    {
                        "file": str(path),
                        "resource": name,
                        "against": f"kubernetes {version}",
                        "error": error.message,
                    }
                )
    return found


def main() -> int:
    """Validate the files named on the command line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kubernetes-version", action="append", required=True)
    parser.add_argument("--crd-schemas", type=Path, required=True)
    parser.add_argument("files", nargs="+", type=Path)
    args = parser.parse_args()
    found = [
        problem
        for path in args.files
        for problem in problems(path, args.kubernetes_version, args.crd_schemas)
    ]
    for problem in found:
        print(json.dumps(problem, ensure_ascii=False))  # noqa: T201 - the report is the output
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
