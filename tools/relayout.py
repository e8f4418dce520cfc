"""Move bridge's flat modules into their wings, or rewrite old-layout imports (issue 12).

The mapping is data, in ``tools/layout_map.py``. Two commands:

    python tools/relayout.py rewrite [PATH …]
        Rewrite imports of old module paths (``from bridge.citizen_store import …``) in the
        given files or directories (default: src devkit tests deploy docs README.md), then
        let ruff sort the imports. Safe to run again: new paths are left alone. This is what
        a branch written against the old layout runs after merging the new one.

    python tools/relayout.py move
        The one-time move itself: ``git mv`` every mapped module and data file, create the new
        packages, rewrite every import (run from a clean work tree of the old layout).

Only import statements, dotted paths in strings (``monkeypatch.setattr("bridge.x.y", …)``) and, in
prose, file paths and backticked module names are rewritten: logger names such as
``get_logger("bridge.holding")`` are a public part of the logs and stay.
"""

from __future__ import annotations

import argparse
import ast
import re
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from layout_map import FILES, MODULES, NAMES, PACKAGES, TESTS

ROOT = Path(__file__).resolve().parent.parent
SRC = ROOT / "src"
DEFAULT_PATHS = ("src", "devkit", "tests", "deploy", "docs", "tools", "README.md", "CHANGELOG.md")
TEXT_SUFFIXES = {".md", ".txt", ".yaml", ".yml", ".toml", ".cfg", ".ini", ".html"}
SKIP = {"layout_map.py", "relayout.py", "CHANGELOG.md"}

_FROM = re.compile(
    r"^(?P<indent>[ \t]*)from[ \t]+(?P<module>bridge(?:\.\w+)*)[ \t]+import[ \t]+"
    r"(?P<names>\([^)]*\)|[^\n]*?)(?P<comment>[ \t]*#[^\n]*)?$",
    re.MULTILINE,
)
_IMPORT = re.compile(r"^(?P<indent>[ \t]*)import[ \t]+(?P<module>bridge(?:\.\w+)+)", re.MULTILINE)
_DOTTED = re.compile(r"(?P<tick>`+)(?P<module>bridge(?:\.\w+)+)(?P<rest>(?:\.\w+)*)(?P=tick)")
# A dotted path in a string (``monkeypatch.setattr("bridge.citizen_text.fold", …)``), but not a
# logger's name: those are what operators filter logs by, and stay.
_QUOTED = re.compile(
    r"(?<!get_logger\()(?<!getLogger\()(?P<tick>[\"'])(?P<module>bridge(?:\.\w+)+)(?P<rest>)(?P=tick)"
)
_PATH = re.compile(r"\b(?P<path>(?:src/)?bridge(?:/\w+)+\.(?:py|html))\b")


def _new_packages() -> set[str]:
    """Dotted names that are packages in the new layout (``bridge.delivery`` …)."""
    packages = set()
    for new in MODULES.values():
        parts = new.split(".")
        packages.update(".".join(parts[:i]) for i in range(2, len(parts)))
    return packages


AMBIGUOUS = {old for old in MODULES if old in _new_packages()}
"""Old modules whose name is now a package's (``bridge.delivery``): decided by the names."""


def _exports(package: str) -> set[str]:
    """The names the new package's ``__init__`` exports (its ``__all__``), and its submodules."""
    folder = SRC.joinpath(*package.split("."))
    if not folder.is_dir():
        return set()
    names = {p.stem for p in folder.glob("*.py")} | {p.name for p in folder.iterdir() if p.is_dir()}
    init = folder / "__init__.py"
    if init.is_file():
        for node in ast.walk(ast.parse(init.read_text("utf-8"))):
            if isinstance(node, ast.Assign) and any(
                isinstance(t, ast.Name) and t.id == "__all__" for t in node.targets
            ):
                names.update(ast.literal_eval(node.value))
    return names


def _homes(package: str) -> dict[str, str]:
    """Where the new package's ``__init__`` imports each of its names from."""
    init = SRC.joinpath(*package.split("."), "__init__.py")
    if not init.is_file():
        return {}
    return {
        alias.name: node.module
        for node in ast.walk(ast.parse(init.read_text("utf-8")))
        if isinstance(node, ast.ImportFrom) and node.module
        for alias in node.names
    }


def _split_names(text: str) -> list[str]:
    inner = text.strip()
    if inner.startswith("("):
        inner = inner[1:-1]
    inner = re.sub(r"#[^\n]*", "", inner)
    return [part.strip() for part in inner.replace("\\\n", " ").split(",") if part.strip()]


def _target(module: str, names: list[str]) -> str:
    """Where ``from module import names`` points in the new layout."""
    if module not in MODULES:
        return module
    if module in AMBIGUOUS:
        exported = _exports(module)
        if all(name.split(" as ")[0].strip() in exported for name in names):
            return module  # already the new package's public names
    return MODULES[module]


_INSIDE_SRC = False
"""Whether the file being rewritten is part of bridge: bridge's own modules import a name from the
module that defines it, not from a package's ``__init__`` (its face for everyone else)."""


def _home(target: str, name: str) -> str:
    """The module ``name`` comes from: renamed (NAMES), or defined behind a package's face."""
    bare = name.split(" as ", maxsplit=1)[0].strip()
    moved = NAMES.get((target, bare), target)
    if _INSIDE_SRC:  # bridge itself imports from the defining module, never a package's face
        return _homes(moved).get(bare, moved)
    return moved


def _rewrite_from(match: re.Match[str]) -> str:
    indent, module = match["indent"], match["module"]
    comment = match["comment"] or ""
    names = _split_names(match["names"])
    target = _target(module, names)
    groups: dict[str, list[str]] = {}
    for name in names:
        groups.setdefault(_home(target, name), []).append(name)
    if list(groups) == [target]:
        if target == module:
            return match[0]
        return match[0].replace(f"from {module} ", f"from {target} ", 1)
    lines = []
    for i, (where, group) in enumerate(groups.items()):
        lines.append(f"{indent}from {where} import {', '.join(group)}{comment if i == 0 else ''}")
    return "\n".join(lines)


def _rewrite_import(match: re.Match[str]) -> str:
    module = match["module"]
    if module in MODULES and module not in AMBIGUOUS:
        return f"{match['indent']}import {MODULES[module]}"
    return match[0]


def _module_path(module: str) -> str:
    return module.replace(".", "/") + ".py"


_PATHS = {_module_path(old): _module_path(new) for old, new in MODULES.items()} | dict(FILES)


def _rewrite_path(match: re.Match[str]) -> str:
    path = match["path"]
    prefix = "src/" if path.startswith("src/") else ""
    return prefix + _PATHS.get(path.removeprefix("src/"), path.removeprefix("src/"))


def _rewrite_dotted(match: re.Match[str]) -> str:
    module, rest, tick = match["module"], match["rest"], match["tick"]
    # the longest dotted prefix that is an old module
    parts = (module + rest).split(".")
    for cut in range(len(parts), 1, -1):
        head = ".".join(parts[:cut])
        if head in MODULES and head not in AMBIGUOUS:
            return f"{tick}{'.'.join([MODULES[head], *parts[cut:]])}{tick}"
    return match[0]


def rewrite_text(text: str, *, python: bool) -> str:
    """``text`` with old module paths rewritten."""
    if python:
        text = _FROM.sub(_rewrite_from, text)
        text = _IMPORT.sub(_rewrite_import, text)
        text = _QUOTED.sub(_rewrite_dotted, text)
    text = _DOTTED.sub(_rewrite_dotted, text)
    return _PATH.sub(_rewrite_path, text)


def _files(paths: list[str]) -> list[Path]:
    found: list[Path] = []
    for name in paths:
        path = (ROOT / name) if not Path(name).is_absolute() else Path(name)
        candidates = [path] if path.is_file() else sorted(path.rglob("*"))
        found.extend(
            p
            for p in candidates
            if p.is_file()
            and p.name not in SKIP
            and (p.suffix == ".py" or p.suffix in TEXT_SUFFIXES)
            and not any(part.startswith(".") for part in p.relative_to(ROOT).parts[:-1])
        )
    return found


def rewrite(paths: list[str]) -> list[Path]:
    """Rewrite the files under ``paths``; return those that changed."""
    global _INSIDE_SRC  # noqa: PLW0603 - one flag per file, read by the regex callbacks
    changed = []
    for path in _files(paths):
        _INSIDE_SRC = path.is_relative_to(SRC / "bridge")
        before = path.read_text("utf-8")
        after = rewrite_text(before, python=path.suffix == ".py")
        if after != before:
            path.write_text(after, "utf-8")
            changed.append(path)
    python = [str(p) for p in changed if p.suffix == ".py"]
    ruff = ROOT / ".venv" / "bin" / "ruff"
    if python and ruff.exists():
        sort = [str(ruff), "check", "--select", "I001", "--fix", "-q"]
        subprocess.run([*sort, *python], check=False)
        subprocess.run([str(ruff), "format", "-q", *python], check=False)
    return changed


def _git(*args: str) -> None:
    subprocess.run(["git", *args], cwd=ROOT, check=True)


def move() -> None:
    """``git mv`` the modules and data files of the old layout into their wings."""
    for old, new in MODULES.items():
        source, destination = SRC / _module_path(old), SRC / _module_path(new)
        destination.parent.mkdir(parents=True, exist_ok=True)
        _git("mv", str(source), str(destination))
    for old, new in FILES.items():
        (SRC / new).parent.mkdir(parents=True, exist_ok=True)
        _git("mv", str(SRC / old), str(SRC / new))
    for package, text in PACKAGES.items():
        init = SRC.joinpath(*package.split("."), "__init__.py")
        if not init.exists():
            init.write_text(text, "utf-8")
            _git("add", str(init))
    rewrite(list(DEFAULT_PATHS))


def move_tests() -> None:
    """``git mv`` the test files into the folders of their wings."""
    for old, new in TESTS.items():
        (ROOT / new).parent.mkdir(parents=True, exist_ok=True)
        _git("mv", str(ROOT / old), str(ROOT / new))


def main() -> None:
    """Parse the command line and run the command."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    rewrite_parser = commands.add_parser("rewrite", help="rewrite old-layout imports")
    rewrite_parser.add_argument("paths", nargs="*", default=list(DEFAULT_PATHS))
    commands.add_parser("move", help="the one-time move of src/bridge")
    commands.add_parser("move-tests", help="the one-time move of the tests into wing folders")
    args = parser.parse_args()
    if args.command == "move":
        move()
    elif args.command == "move-tests":
        move_tests()
    else:
        for path in rewrite(args.paths):
            print(path.relative_to(ROOT))


if __name__ == "__main__":
    main()
