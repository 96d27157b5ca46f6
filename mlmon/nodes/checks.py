"""Checks: a metric of a store's latest evaluation against bounds or a set, or a SQL query."""

from __future__ import annotations

from typing import TYPE_CHECKING

from mlmon.errors import ConfigError
from mlmon.nodes.base import Field, Node, NodeKind

if TYPE_CHECKING:
    from mlmon.project.project import Project

__all__ = ["CheckKind", "KIND"]

_BOUNDS = ("min", "soft_min", "soft_max", "max")
_NUMBER = (int, float)


class CheckKind(NodeKind):
    key = "checks"
    type = "check"
    fields = (
        Field("store", (str,), refs=("evaluation",), doc="the evaluation store whose latest evaluation is checked"),
        Field("metric", (str,), doc="a metric name of mlmon.metrics"),
        Field("feature", (str,), doc="for per-feature metrics: the column"),
        *(Field(b, _NUMBER) for b in _BOUNDS),
        Field("values", (list,), doc="value-in-set check: the allowed values"),
        Field("sql", (str,), sql=True, doc="a query returning failing rows; zero rows = OK"),
        Field("severity", (str,), default="error", choices=("error", "warn"), doc="warn turns ERROR into WARNING"),
    )

    def validate(self, node: Node, project: "Project") -> list[ConfigError]:
        config = node.config
        if config.get("sql"):
            if config.get("store") or config.get("metric"):
                return [node.error("a SQL check takes `sql:` alone, without `store:`/`metric:`", "sql")]
            return []
        errors = []
        for key in ("store", "metric"):
            if not config.get(key):
                errors.append(node.error(f"check '{node.name}' needs `{key}:` (or `sql:`)"))
        bounds = {b: config[b] for b in _BOUNDS if config.get(b) is not None}
        if not bounds and config.get("values") is None:
            errors.append(node.error("give bounds (min, soft_min, soft_max, max) or `values:`"))
        order = [bounds[b] for b in _BOUNDS if b in bounds and b in ("min", "soft_min")] + \
                [bounds[b] for b in _BOUNDS if b in bounds and b in ("soft_max", "max")]
        if order != sorted(order):
            errors.append(node.error("bounds must satisfy min ≤ soft_min ≤ soft_max ≤ max"))
        return errors


KIND = CheckKind()
