"""Each package chooses its public names in a sorted ``__all__``, and exports nothing else.

The habit of httpx: a package's ``__init__`` is its face (what the other wings and the
composition root use of it); its modules stay free to change behind it. Every module also names
its public names, in the order ruff keeps (constants, classes, then functions).
"""

from __future__ import annotations
import __future__

import importlib
import inspect
import pkgutil
import re
import types

import grimp
import pytest

import bridge

# Alembic's scripts are loaded by Alembic, not imported; __main__ runs the command line.
_NOT_IMPORTED = re.compile(r"^bridge\.(__main__|store\.migrations(\..*)?)$")


def _walk() -> list[tuple[str, bool]]:
    found = [("bridge", True)]
    found += [
        (info.name, info.ispkg)
        for info in pkgutil.walk_packages(bridge.__path__, prefix="bridge.")
        if not _NOT_IMPORTED.match(info.name)
    ]
    return sorted(found)


MODULES = [name for name, _ in _walk()]
PACKAGES = [name for name, is_package in _walk() if is_package]


def _ruff_order(name: str) -> tuple[int, list[object]]:
    """RUF022's order: SCREAMING_CASE, then CamelCase, then the rest; natural within each."""
    bare = name.lstrip("_")
    kind = 0 if bare.isupper() else 1 if bare[:1].isupper() else 2
    return kind, [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", name)]


def _is_public_binding(name: str, value: object) -> bool:
    # Submodules are bound as attributes once imported; `annotations` comes from __future__.
    return not (name.startswith("_") or isinstance(value, (types.ModuleType, __future__._Feature)))


def test_every_package_and_module_is_checked():
    assert {"bridge.delivery", "bridge.citizens", "bridge.zalo", "bridge.store"} <= set(PACKAGES)
    assert "bridge.delivery.deliverer" in MODULES
    assert len(MODULES) > 2 * len(PACKAGES)


@pytest.mark.parametrize("name", PACKAGES)
def test_a_package_exports_exactly_the_names_of_its_all(name):
    package = importlib.import_module(name)
    public = {n for n, v in vars(package).items() if _is_public_binding(n, v)}
    chosen = {n for n in package.__all__ if not n.startswith("_")}
    assert sorted(public - chosen) == [], "public but not in __all__ (exported by accident?)"
    # A name loaded on first use (PEP 562 ``__getattr__``: an optional dependency) is defined too.
    lazy = {n for n in chosen - public if getattr(package, n, None) is not None}
    assert sorted(chosen - public - lazy) == [], "in __all__ but not defined"


@pytest.mark.parametrize("name", MODULES)
def test_all_is_sorted_unique_and_every_name_exists(name):
    module = importlib.import_module(name)
    names = list(module.__all__)
    assert names == sorted(names, key=_ruff_order)
    assert len(set(names)) == len(names)
    assert [n for n in names if not hasattr(module, n)] == []


@pytest.mark.parametrize("name", [p for p in PACKAGES if p != "bridge"])
def test_a_package_re_exports_only_what_its_own_modules_define(name):
    """A package's face shows its own wing, never a neighbour's names passed through."""
    package = importlib.import_module(name)
    foreign = []
    for exported in package.__all__:
        value = getattr(package, exported)
        if not (inspect.isclass(value) or inspect.isfunction(value)):
            continue  # constants, aliases, tables: no module of their own to tell
        home = value.__module__
        if not (home == name or home.startswith(f"{name}.")):
            foreign.append(f"{exported} ({home})")
    assert foreign == []


def test_bridge_imports_each_name_from_its_module_never_through_a_package_face():
    """A face is for the rest of the world: inside bridge it would hide the real dependency
    (and a module importing its own package's face closes a circle through ``__init__``)."""
    graph = grimp.build_graph("bridge", include_external_packages=False)
    faces = set(PACKAGES) - {"bridge"}  # the root's face holds only __version__
    through_faces = sorted(
        f"{module} → {imported}"
        for module in graph.modules
        for imported in graph.find_modules_directly_imported_by(module)
        if imported in faces
    )
    assert through_faces == []
