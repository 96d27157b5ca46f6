"""The dependency graph of a project and the `-s` / `--exclude` selection grammar."""

from mlmon.graph.dag import DAG, CycleError
from mlmon.graph.selector import (
    METHODS,
    NODE_TYPES,
    SelectableNode,
    SelectionSyntaxError,
    Selector,
    parse,
    select,
)

__all__ = [
    "DAG",
    "CycleError",
    "METHODS",
    "NODE_TYPES",
    "SelectableNode",
    "SelectionSyntaxError",
    "Selector",
    "parse",
    "select",
]
