"""Fixtures of the deployment tests: the pinned tools and every values file rendered once."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
from chart_support import REPO, VALUES_FILES, ChartTools, Helm, Rendered, documents, release_for


@pytest.fixture(scope="session")
def chart_tools() -> ChartTools:
    """HELM, KUBERNETES_VALIDATE, PROMTOOL from `make`, or installed now by `make chart-tools`."""
    helm, validate = os.environ.get("HELM"), os.environ.get("KUBERNETES_VALIDATE")
    promtool = os.environ.get("PROMTOOL")
    if not (helm and validate and promtool):
        done = subprocess.run(
            ["make", "--no-print-directory", "-s", ".chart-tool-paths"],  # noqa: S607 - make on PATH
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=1200,
            check=True,
        )
        helm, validate, promtool = done.stdout.split()[-3:]
    return ChartTools(Helm(Path(helm)), Path(validate), Path(promtool))


@pytest.fixture(scope="session")
def helm(chart_tools: ChartTools) -> Helm:
    return chart_tools.helm


@pytest.fixture(scope="session")
def rendered(helm: Helm, tmp_path_factory: pytest.TempPathFactory) -> dict[Path, Rendered]:
    """Every province and ci values file, rendered once, each into its own file."""
    out = tmp_path_factory.mktemp("rendered")
    result = {}
    for values_file in VALUES_FILES:
        release = release_for(values_file)
        text = helm.template(release, values_file)
        path = out / f"{release}.yaml"
        path.write_text(text, encoding="utf-8")
        result[values_file] = Rendered(values_file, release, path, documents(text))
    return result
