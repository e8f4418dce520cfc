"""Figures of bridge's import graph: root modules, import depth, circles (grimp, as import-linter).

    python tools/import_graph.py                 # the work tree's src/
    python tools/import_graph.py --src DIR/src   # another checkout (e.g. a git worktree of main)

Imports under ``TYPE_CHECKING`` count, as in the contracts. The depth is the number of modules on
the longest chain of imports, each circle counted as one module (the graph with its circles
squashed); the longest chain without repeating a module, going round circles, is shown as well.
"""

from __future__ import annotations

import argparse
import sys
from functools import cache
from pathlib import Path

import grimp

PACKAGE = "bridge"


def _components(graph: grimp.ImportGraph) -> list[list[str]]:
    """The modules that import each other, directly or not, as groups (one per module if none)."""
    found: list[list[str]] = []
    placed: set[str] = set()
    for module in sorted(graph.modules):
        if module not in placed:
            both = graph.find_downstream_modules(module) & graph.find_upstream_modules(module)
            members = sorted({module} | both)
            placed.update(members)
            found.append(members)
    return found


def figures(src: Path) -> dict[str, object]:
    """Count the root's modules and packages, and measure the import graph of ``src/bridge``."""
    root = src / PACKAGE
    modules = sorted(p.stem for p in root.glob("*.py"))
    packages = sorted(p.name for p in root.iterdir() if (p / "__init__.py").is_file())
    graph = grimp.build_graph(PACKAGE, include_external_packages=False)
    edges = {m: set(graph.find_modules_directly_imported_by(m)) for m in graph.modules}
    components = _components(graph)
    component_of = {m: i for i, members in enumerate(components) for m in members}
    squashed = {i: set() for i in range(len(components))}
    for module, imported in edges.items():
        squashed[component_of[module]].update(
            component_of[m] for m in imported if component_of[m] != component_of[module]
        )

    @cache
    def depth(component: int) -> int:
        return 1 + max((depth(c) for c in squashed[component]), default=0)

    deepest = max(range(len(components)), key=depth)
    chain = [deepest]
    while squashed[chain[-1]]:
        chain.append(max(squashed[chain[-1]], key=depth))
    circles = [members for members in components if len(members) > 1]
    in_circle = {m for members in circles for m in members}

    @cache
    def longest(module: str, visited: frozenset[str]) -> int:
        best = 1
        for child in edges[module]:
            if child in visited:
                continue
            # Only circles can lead back: elsewhere the path need not be remembered.
            seen = visited | {module} if child in in_circle else frozenset()
            best = max(best, 1 + longest(child, seen))
        return best

    return {
        "root modules (.py at src/bridge/)": len(modules),
        "  of which __init__/__main__": len({"__init__", "__main__"} & set(modules)),
        "root packages": len(packages),
        "root modules and packages, without __init__/__main__": len(modules)
        + len(packages)
        - len({"__init__", "__main__"} & set(modules)),
        "modules in the graph": len(edges),
        "imports in the graph": sum(len(v) for v in edges.values()),
        "import depth (modules on the longest chain, circles squashed)": depth(deepest),
        "longest chain without repeating a module": max(longest(m, frozenset()) for m in edges),
        "circles": len(circles),
        "modules in circles": len(in_circle),
        "_chain": [" + ".join(components[c]) for c in chain],
        "_circles": circles,
        "_root": [*modules, *(f"{p}/" for p in packages)],
    }


def main() -> None:
    """Print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--src", type=Path, default=Path(__file__).resolve().parent.parent / "src")
    parser.add_argument("--verbose", "-v", action="store_true", help="name the chain and circles")
    args = parser.parse_args()
    src = args.src.resolve()
    sys.path.insert(0, str(src))
    for name in [m for m in sys.modules if m == PACKAGE or m.startswith(f"{PACKAGE}.")]:
        del sys.modules[name]
    found = figures(src)
    for name, value in found.items():
        if not name.startswith("_"):
            print(f"{name}: {value}")
    if args.verbose:
        print("root:", " ".join(found["_root"]))  # type: ignore[arg-type]
        print("longest chain:", " → ".join(found["_chain"]))  # type: ignore[arg-type]
        for circle in found["_circles"]:  # type: ignore[attr-defined]
            print("circle:", " ↔ ".join(circle))


if __name__ == "__main__":
    main()
