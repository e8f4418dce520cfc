"""The oldest hatchling that pyproject.toml admits builds both packages with PEP 639 metadata."""

from __future__ import annotations

import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest
from chart_support import REPO
from packaging.requirements import Requirement


def _lower_bound(pyproject: Path) -> str:
    [requirement] = tomllib.loads(pyproject.read_text("utf-8"))["build-system"]["requires"]
    parsed = Requirement(requirement)
    [spec] = [s for s in parsed.specifier if s.operator == ">="]
    return f"{parsed.name}=={spec.version}"


@pytest.fixture(scope="module")
def oldest_backend(tmp_path_factory) -> Path:
    venv = tmp_path_factory.mktemp("oldest-hatchling")
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)  # noqa: S603 - our interpreter
    pip = venv / "bin" / "pip"
    subprocess.run(  # noqa: S603 - our venv's pip, our arguments
        [str(pip), "install", "--quiet", _lower_bound(REPO / "pyproject.toml")], check=True
    )
    return pip


@pytest.mark.parametrize("project", [".", "devkit"])
def test_the_lower_bound_builds_the_wheel(oldest_backend, project, tmp_path):
    assert _lower_bound(REPO / project / "pyproject.toml") == _lower_bound(REPO / "pyproject.toml")
    subprocess.run(  # noqa: S603 - our venv's pip, our arguments
        [
            str(oldest_backend),
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "--quiet",
            "--wheel-dir",
            str(tmp_path),
            str(REPO / project),
        ],
        check=True,
    )
    [wheel] = tmp_path.glob("*.whl")
    with zipfile.ZipFile(wheel) as archive:
        [metadata] = [n for n in archive.namelist() if n.endswith(".dist-info/METADATA")]
        text = archive.read(metadata).decode()
    assert "License-Expression: Apache-2.0" in text
    if project == ".":
        assert "License-File: LICENSE" in text
        assert "Project-URL: " in text
