"""The package's import graph: no cycles, and the layers only import downwards."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import adapter

PACKAGE = Path(adapter.__file__).parent

# What each layer may import from the adapter (besides itself).
ALLOWED = {
    "net": {"errors"},
    "paygate": {"errors", "net"},
    "alipayplus": {"errors", "net"},  # net: the pooled transport under its client
    "model": set(),
    "store": {"errors", "model"},
    "observability": {"model"},
    # The console reads through the same core queries and actions as the CLI; nothing below
    # it knows it exists.
    "console": {"config", "core", "model", "paygate", "secret", "store", "web"},
    "core": {
        "alipayplus",
        "config",
        "errors",
        "mapping",
        "model",
        "net",
        "observability",
        "paygate",
        "store",
    },
}


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path) -> Iterator[str]:
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module.startswith("adapter."):
                yield node.module
        elif isinstance(node, ast.Import):
            yield from (a.name for a in node.names if a.name.startswith("adapter."))


def _graph() -> dict[str, set[str]]:
    modules = {_module_name(p): p for p in PACKAGE.rglob("*.py")}
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        targets = set()
        for imported in _imports(path):
            # ``from adapter.x import y`` may name the module adapter.x.y or a symbol of adapter.x
            target = imported if imported in modules else imported.rsplit(".", 1)[0]
            if target in modules and target != name:
                targets.add(target)
        graph[name] = targets
    return graph


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    done: set[str] = set()
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        if node in path:
            return [*path[path.index(node) :], node]
        if node in done:
            return None
        path.append(node)
        for target in sorted(graph[node]):
            found = visit(target)
            if found:
                return found
        path.pop()
        done.add(node)
        return None

    for node in sorted(graph):
        found = visit(node)
        if found:
            return found
    return None


def test_the_module_import_graph_has_no_cycle() -> None:
    assert _cycle(_graph()) is None


def test_the_cycle_finder_finds_a_cycle() -> None:
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]


def test_each_layer_imports_only_the_layers_below_it() -> None:
    wrong = []
    for module, targets in _graph().items():
        layer = module.split(".")[1] if "." in module else module
        if layer not in ALLOWED:
            continue
        for target in targets:
            target_layer = target.split(".")[1]
            if target_layer != layer and target_layer not in ALLOWED[layer]:
                wrong.append(f"{module} imports {target}")
    assert wrong == []
