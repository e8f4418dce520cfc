"""The chart under test, helm, and rendered manifests: helpers of the deployment tests."""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[2]
CHART = REPO / "deploy" / "helm" / "bridge"
CRD_SCHEMAS = Path(__file__).resolve().parent / "crd-schemas"
PROVINCES = sorted((CHART / "provinces").glob("*.yaml"))
CI_VALUES = sorted((CHART / "ci").glob("*-values.yaml"))
VALUES_FILES = PROVINCES + CI_VALUES
NAMESPACE = "one-stop-shop"
# The oldest Kubernetes the chart supports (Chart.yaml kubeVersion) and the newest helm knows.
KUBERNETES_VERSIONS = ("1.29", "1.37")


def values_id(path: Path) -> str:
    return f"{path.parent.name}/{path.name}"


def release_for(path: Path) -> str:
    """`bridge-<slug>` for a province file, `ci-<name>` for a ci file."""
    name = path.name.removesuffix(".yaml").removesuffix("-values")
    return f"bridge-{name}" if path.parent.name == "provinces" else f"ci-{name}"


@dataclass(frozen=True)
class Helm:
    """The pinned helm binary."""

    binary: Path

    def run(self, *args: str | Path) -> subprocess.CompletedProcess[str]:
        return subprocess.run(  # noqa: S603 - our pinned binary, our arguments
            [str(self.binary), *map(str, args)],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
            env={**os.environ, "HELM_CACHE_HOME": str(REPO / ".cache" / "helm")},
        )

    def template(self, release: str, *values: Path, namespace: str = NAMESPACE, sets=()) -> str:
        done = self.try_template(release, *values, namespace=namespace, sets=sets)
        assert done.returncode == 0, done.stderr
        return done.stdout

    def try_template(
        self, release: str, *values: Path, namespace: str = NAMESPACE, sets=()
    ) -> subprocess.CompletedProcess[str]:
        args: list[str | Path] = ["template", release, CHART, "--namespace", namespace]
        for path in values:
            args += ["--values", path]
        for assignment in sets:
            args += ["--set", assignment]
        return self.run(*args)


@dataclass(frozen=True)
class ChartTools:
    helm: Helm
    kubernetes_validate: Path
    promtool: Path

    @property
    def validator_python(self) -> Path:
        return self.kubernetes_validate.parent / "python"


def documents(text: str) -> list[dict[str, Any]]:
    return [doc for doc in yaml.safe_load_all(text) if doc]


@dataclass(frozen=True)
class Rendered:
    """One values file rendered as one release (and written to `path`)."""

    values_file: Path
    release: str
    path: Path
    resources: list[dict[str, Any]]

    def of_kind(self, kind: str) -> list[dict[str, Any]]:
        return [r for r in self.resources if r["kind"] == kind]

    def one(self, kind: str, suffix: str = "") -> dict[str, Any]:
        found = [r for r in self.of_kind(kind) if r["metadata"]["name"].endswith(suffix)]
        assert len(found) == 1, f"{kind} *{suffix}: {[r['metadata']['name'] for r in found]}"
        return found[0]

    @property
    def values(self) -> dict[str, Any]:
        return yaml.safe_load(self.values_file.read_text(encoding="utf-8")) or {}

    @property
    def settings(self) -> dict[str, Any]:
        """The settings file bridge reads (the ConfigMap's settings.yaml)."""
        return yaml.safe_load(self.one("ConfigMap", "-config")["data"]["settings.yaml"]) or {}

    @property
    def pod_spec(self) -> dict[str, Any]:
        return self.one("Deployment")["spec"]["template"]["spec"]

    @property
    def container(self) -> dict[str, Any]:
        (container,) = self.pod_spec["containers"]
        return container
