"""The dev kit has no import circle, and the emulator's modules import only downwards.

The emulator's layers, top to bottom (README, "How it is built"):

* entry: the package's public face, the aiohttp handlers, admin models and views, the CLI;
* rules: the pure Zalo rules of each endpoint and the user's events, given the state;
* state: `EmulatorState`, which composes the stores;
* config: `EmulatorConfig`, which composes the stores' configurations;
* records: the stores, records and helpers that know nothing above them.

Type-only imports (under TYPE_CHECKING) count: a circle through them still couples the modules.
"""

from __future__ import annotations

import grimp
import pytest

PACKAGE = "bridge_devkit.emulator"

LAYERS: dict[str, tuple[str, ...]] = {
    "entry": (
        "",  # the package's __init__
        "__main__",
        "access_admin_api",
        "access_admin_models",
        "access_views",
        "admin_api",
        "admin_models",
        "app",
        "citizen_api",
        "citizen_cli",
        "citizen_models",
        "citizen_runner",
        "cli",
        "keys",
        "oauth_api",
        "responses",
        "runner",
        "views",
        "webhook_delivery",
        "zalo_api",
    ),
    "rules": (
        "conversation",
        "events",
        "oa_info",
        "oauth",
        "rules",
        "templates",
        "uploads",
    ),
    "state": ("state",),
    "config": ("config",),
    "records": (
        "attachments",
        "calls",
        "chat_log",
        "clock",
        "codes",
        "faults",
        "followers",
        "ids",
        "media",
        "message_log",
        "oauth_store",
        "ratelimit",
        "template_store",
        "tokens",
        "upload_store",
        "validation",
        "webhook",
    ),
}
"""Each emulator module's layer; a module may import its own layer's modules and those below."""

ORDER = ("records", "config", "state", "rules", "entry")


def _name(short: str) -> str:
    return PACKAGE if not short else f"{PACKAGE}.{short}"


@pytest.fixture(scope="module")
def graph() -> grimp.ImportGraph:
    return grimp.build_graph("bridge_devkit", exclude_type_checking_imports=False)


def _cycles(graph: grimp.ImportGraph) -> list[tuple[str, ...]]:
    """Every direct import `a → b` for which a chain leads back from `b` to `a`, with that chain."""
    found = []
    for importer in sorted(graph.modules):
        for imported in sorted(graph.find_modules_directly_imported_by(importer)):
            back = graph.find_shortest_chain(importer=imported, imported=importer)
            if back is not None:
                found.append((importer, *back))
    return found


def test_the_dev_kit_has_no_import_circle(graph: grimp.ImportGraph) -> None:
    assert _cycles(graph) == []


def test_the_circle_finder_finds_a_circle() -> None:
    graph = grimp.ImportGraph()
    for module in ("pkg", "pkg.a", "pkg.b", "pkg.c"):
        graph.add_module(module)
    graph.add_import(importer="pkg.a", imported="pkg.b")
    graph.add_import(importer="pkg.b", imported="pkg.c")
    graph.add_import(importer="pkg.c", imported="pkg.a")
    assert ("pkg.a", "pkg.b", "pkg.c", "pkg.a") in _cycles(graph)
    graph.remove_import(importer="pkg.c", imported="pkg.a")
    assert _cycles(graph) == []


def test_every_emulator_module_has_a_layer(graph: grimp.ImportGraph) -> None:
    placed = {_name(short) for shorts in LAYERS.values() for short in shorts}
    actual = {PACKAGE} | graph.find_children(PACKAGE)
    assert actual - placed == set(), "put the new module in a layer of LAYERS"


def test_emulator_modules_import_only_their_layer_and_below(graph: grimp.ImportGraph) -> None:
    rank = {
        _name(short): ORDER.index(layer) for layer, shorts in LAYERS.items() for short in shorts
    }
    upward = [
        f"{importer} ({ORDER[rank[importer]]}) imports {imported} ({ORDER[rank[imported]]})"
        for importer in sorted(rank)
        if importer in graph.modules
        for imported in sorted(graph.find_modules_directly_imported_by(importer))
        if imported in rank and rank[imported] > rank[importer]
    ]
    assert upward == []
