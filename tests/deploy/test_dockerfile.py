"""The Dockerfile's promises, read from the file (no Docker engine here)."""

from __future__ import annotations

import json
import re
import tomllib
from dataclasses import dataclass, field

import yaml
from chart_support import CHART, REPO

DOCKERFILE = REPO / "Dockerfile"


@dataclass
class Stage:
    name: str
    base: str
    instructions: list[tuple[str, str]] = field(default_factory=list)

    def of(self, keyword: str) -> list[str]:
        return [args for kw, args in self.instructions if kw == keyword]


def _stages() -> list[Stage]:
    text = DOCKERFILE.read_text(encoding="utf-8")
    logical = re.sub(r"\\\n\s*", " ", text)
    args = dict(re.findall(r"^ARG (\w+)=(\S+)$", logical, re.MULTILINE))
    stages: list[Stage] = []
    for line in logical.splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        keyword, _, rest = line.strip().partition(" ")
        if keyword == "FROM":
            base, _, name = rest.partition(" AS ")
            base = re.sub(r"\$\{(\w+)\}", lambda m: args[m.group(1)], base)
            stages.append(Stage(name.strip(), base.strip()))
        elif stages:
            stages[-1].instructions.append((keyword, rest))
    return stages


def test_two_stages_on_a_slim_python_311_base():
    build, runtime = _stages()
    assert build.name == "build"
    assert runtime.name == "runtime"
    for stage in (build, runtime):
        assert re.fullmatch(r"python:3\.11-slim(-\w+)?", stage.base), stage.base


def test_wheels_are_built_in_the_first_stage_with_the_pinned_versions():
    build, _ = _stages()
    run = " ".join(build.of("RUN"))
    assert "pip wheel --wheel-dir /wheels --no-deps ." in run
    assert "--constraint constraints.txt" in run


def test_the_final_stage_installs_only_those_wheels_and_has_no_compilers():
    _, runtime = _stages()
    run = " ".join(runtime.of("RUN"))
    assert "--no-index --find-links /wheels zalo-bridge" in run
    assert "from=build" in run
    assert not re.search(r"apt-get|gcc|build-essential|g\+\+|clang|\bmake\b", run)
    assert not runtime.of("COPY")  # nothing from the build context: only the wheels


def test_the_final_stage_runs_zalo_bridge_as_the_charts_non_root_user():
    _, runtime = _stages()
    (user,) = runtime.of("USER")
    uid, _, gid = user.partition(":")
    values = yaml.safe_load((CHART / "values.yaml").read_text(encoding="utf-8"))
    assert int(uid) == values["securityContext"]["runAsUser"] != 0
    assert int(gid) == values["securityContext"]["runAsGroup"]
    assert json.loads(runtime.of("ENTRYPOINT")[0]) == ["zalo-bridge"]
    assert json.loads(runtime.of("CMD")[0])[0] == "run"
    scripts = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"][
        "scripts"
    ]
    assert scripts["zalo-bridge"] == "bridge.cli.entry:main"


def test_the_image_writes_nothing_at_run_time_outside_its_volumes():
    _, runtime = _stages()
    env = " ".join(runtime.of("ENV"))
    assert "PYTHONDONTWRITEBYTECODE=1" in env
    (workdir,) = runtime.of("WORKDIR")
    assert workdir == "/var/lib/zalo-bridge"  # the chart mounts a volume there


def test_the_build_context_is_only_what_the_build_stage_copies():
    ignore = (REPO / ".dockerignore").read_text(encoding="utf-8").splitlines()
    assert ignore[ignore.index("*")] == "*"
    allowed = {line[1:].rstrip("/") for line in ignore if line.startswith("!")}
    build, _ = _stages()
    copied = {word for args in build.of("COPY") for word in args.split()[:-1]}
    assert copied == allowed
