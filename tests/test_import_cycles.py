"""No module of mlmon needs itself back through its imports.

Every import that runs counts, at module level or inside a function: a cycle hidden in a
function still means two modules that cannot be understood (or split) one without the other.
Imports for annotations only (under TYPE_CHECKING) are listed apart: the node kinds must not
need the project or the run context even so (they get interfaces, mlmon.nodes.base). The one
pattern allowed is a package's `__init__` importing its own submodules to expose or register
them (mlmon.cli registers its commands so).
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "mlmon"


def _modules() -> dict[str, Path]:
    modules = {}
    for path in PACKAGE.rglob("*.py"):
        parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        modules[".".join(parts)] = path
    return modules


def _type_checking_blocks(tree: ast.Module) -> set[int]:
    """ids of the import statements inside `if TYPE_CHECKING:` blocks."""
    found: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and getattr(node.test, "id", getattr(node.test, "attr", None)) == "TYPE_CHECKING":
            found.update(id(inner) for statement in node.body for inner in ast.walk(statement))
    return found


def import_graph(type_checking: bool = False) -> dict[str, set[str]]:
    """module -> the mlmon modules it imports; those under TYPE_CHECKING only if asked."""
    modules = _modules()
    graph: dict[str, set[str]] = {name: set() for name in modules}
    for name, path in modules.items():
        is_package = path.name == "__init__.py"
        tree = ast.parse(path.read_text(encoding="utf-8"))
        annotations_only = _type_checking_blocks(tree)
        for node in ast.walk(tree):
            if id(node) in annotations_only and not type_checking:
                continue
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                targets = [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
            else:
                continue
            for target in targets:
                if target not in modules or target == name:
                    continue
                if is_package and target.startswith(name + "."):
                    continue  # a package exposing its own parts
                graph[name].add(target)
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def test_the_cycle_finder_finds_a_cycle() -> None:
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_mlmon_has_no_import_cycle() -> None:
    graph = import_graph()
    assert "mlmon.run.context" in graph["mlmon.run.runner"]  # the graph is read, not empty
    assert cycles(graph) == []


def test_node_kinds_need_interfaces_not_the_project_or_the_run() -> None:
    graph = import_graph(type_checking=True)
    kinds = [name for name in graph if name.startswith("mlmon.nodes.")]
    assert len(kinds) >= 8
    for kind in kinds:
        assert not graph[kind] & {"mlmon.project.project", "mlmon.run.context"}, kind
    for pair in (("mlmon.ml.scoring", "mlmon.ml.spark_scoring"), ("mlmon.warehouse.spark", "mlmon.warehouse.targets")):
        assert not any(set(pair) <= set(cycle) for cycle in cycles(graph)), pair
