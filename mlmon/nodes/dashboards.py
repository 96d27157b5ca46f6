"""Dashboards: declared here (validated, shown in docs); rendered by `mlmon dashboard`."""

from __future__ import annotations

from typing import Any

from mlmon.errors import ConfigError, did_you_mean
from mlmon.nodes.base import Dependency, Field, Node, NodeKind, ProjectView

__all__ = ["DashboardKind", "KIND", "TILES"]

# tile type -> (required keys, optional keys); keys naming nodes are checked against the project
TILES: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "metric": (("store", "metric"), ("feature",)),
    "metric_history": (("store", "metric"), ("feature", "x")),
    "scenario_runs": (("scenario",), ("limit",)),
    "feature_drift": (("store",), ()),
    "data_quality": (("store",), ()),
    "prediction_drift": (("store",), ()),
    "performance": (("store",), ("metric", "x")),  # with `metric`: estimated vs realised over time
    "model_versions": ((), ("model",)),
}
_COMMON = ("type", "title")
_NODE_KEYS = {"store": "evaluation", "scenario": "scenario", "model": "model"}


class DashboardKind(NodeKind):
    key = "dashboards"
    type = "dashboard"
    buildable = False
    fields = (
        Field("title", (str,)),
        Field("tiles", (list,), required=True, doc="metric, metric_history, scenario_runs, feature_drift, ..."),
    )

    def dependencies(self, node: Node) -> list[Dependency]:
        names = [t.get(k) for t in node.config["tiles"] if isinstance(t, dict) for k in _NODE_KEYS]
        return [Dependency(n, via="tiles") for n in dict.fromkeys(n for n in names if isinstance(n, str))]

    def validate(self, node: Node, project: "ProjectView") -> list[ConfigError]:
        errors: list[ConfigError] = []
        for index, tile in enumerate(node.config["tiles"], 1):
            where = f"tile {index}"
            if not isinstance(tile, dict) or tile.get("type") not in TILES:
                kind = tile.get("type") if isinstance(tile, dict) else tile
                errors.append(node.error(f"{where}: unknown tile type {kind!r}", "tiles",
                                         hint=did_you_mean(str(kind), TILES) or f"one of: {', '.join(TILES)}"))
                continue
            required, optional = TILES[tile["type"]]
            for key in required:
                if key not in tile:
                    errors.append(node.error(f"{where}: a {tile['type']} tile needs `{key}`", "tiles"))
            for key in tile:
                if key not in (*required, *optional, *_COMMON):
                    errors.append(node.error(f"{where}: unknown key '{key}' for a {tile['type']} tile", "tiles",
                                             hint=did_you_mean(key, (*required, *optional, *_COMMON))))
            errors.extend(self._check_names(node, tile, where, project))
        return errors

    @staticmethod
    def _check_names(node: Node, tile: dict[str, Any], where: str, project: "ProjectView") -> list[ConfigError]:
        errors = []
        for key, wanted in _NODE_KEYS.items():
            name = tile.get(key)
            if name is None:
                continue
            target = project.nodes.get(name)
            if target is None or target.type != wanted:
                candidates = [n.name for n in project.nodes.values() if n.type == wanted]
                errors.append(node.error(f"{where}: unknown {wanted} '{name}'", "tiles", hint=did_you_mean(str(name), candidates)))
        return errors


KIND = DashboardKind()
