"""The compiled project: settings, nodes, the dependency graph, and the manifest written from it."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from sqlglot import exp

from mlmon import __version__
from mlmon.config import ProjectSettings
from mlmon.errors import UsageError, did_you_mean
from mlmon.graph.dag import DAG
from mlmon.nodes.base import Node, NodeKind
from mlmon.project.jinja import Renderer, has_jinja
from mlmon.warehouse.connect import open_warehouse
from mlmon.warehouse.targets import Target

if TYPE_CHECKING:
    from mlmon.warehouse.duckdb import Warehouse
    from mlmon.warehouse.publish import PublishPlan

__all__ = ["Project"]


@dataclass
class Project:
    settings: ProjectSettings
    nodes: dict[str, Node]
    dag: DAG[str]
    renderer: Renderer
    kinds: dict[str, NodeKind]  # by type name
    target: Target  # where this invocation builds (--target, or the project's default)

    @property
    def root(self) -> Path:
        return self.settings.root

    def open_warehouse(self, read_only: bool = False) -> "Warehouse":
        return open_warehouse(self.target, self.root, read_only=read_only,
                              publish=None if read_only else self.publish_plan())

    def publish_plan(self) -> "PublishPlan | None":
        """What the published copy holds: the store views and the `publish: true` relations."""
        if self.target.type != "duckdb" or self.target.path is None:
            return None
        from mlmon.nodes.evaluations import FEATURE_VIEW_SUFFIX, SEGMENT_VIEW_SUFFIX
        from mlmon.warehouse.publish import PublishPlan

        relations: dict[str, str | None] = {}
        for name, node in self.nodes.items():
            if node.config.get("publish"):
                relation = self.relation(name)
                relations[name] = None if isinstance(relation, exp.Table) else self.relation_sql(name)
        stores = tuple(sorted(n for n, node in self.nodes.items() if node.type == "evaluation"))
        path = self.settings.target_dir / "published" / self.target.path.name
        own_views = frozenset(f"{store}{suffix}" for store in stores for suffix in ("", FEATURE_VIEW_SUFFIX, SEGMENT_VIEW_SUFFIX))
        return PublishPlan(path, stores, MappingProxyType(relations), self.target.storage_version, own_views)

    def node(self, name: str) -> Node:
        try:
            return self.nodes[name]
        except KeyError:
            raise UsageError(f"no node named '{name}'", hint=did_you_mean(name, self.nodes)) from None

    def kind(self, node: Node | str) -> NodeKind:
        return self.kinds[(self.node(node) if isinstance(node, str) else node).type]

    def relation(self, name: str) -> exp.Expression:
        """How SQL reads node `name`: a table, or a file scan for a file dataset."""
        node = self.node(name)
        relation = self.kind(node).relation(node, self.root)
        if relation is None:
            raise UsageError(f"'{name}' is a {node.type}, it has no table to read")
        return relation

    def relation_sql(self, name: str, dialect: str = "duckdb") -> str:
        relation = self.relation(name)
        return relation.sql(dialect) if isinstance(relation, exp.Table) else f"({relation.sql(dialect)})"

    def render(self, value: Any, node: Node, key: str) -> Any:
        """Render Jinja left in a `render=False` field (e.g. a secret URL) at the moment of use."""
        if isinstance(value, str) and has_jinja(value):
            return self.renderer.render(value, node.location(key))
        if isinstance(value, dict):
            return {k: self.render(v, node, key) for k, v in value.items()}
        if isinstance(value, list):
            return [self.render(v, node, key) for v in value]
        return value

    def zones(self) -> dict[str, list[str]]:
        zones: dict[str, list[str]] = {}
        for node in self.nodes.values():
            if node.zone:
                zones.setdefault(node.zone, []).append(node.name)
        return {z: sorted(names) for z, names in sorted(zones.items())}

    def manifest(self) -> dict[str, Any]:
        """The project as the pages read it (nodes by name); target/manifest.json is written
        in dbt's shape from the same nodes (mlmon.project.artifacts)."""
        return {
            "metadata": {
                "project_name": self.settings.name,
                "mlmon_version": __version__,
                "generated_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
                "vars": dict(self.settings.vars),
                "warehouse": str(self.settings.warehouse),
            },
            "nodes": {
                name: {
                    "name": n.name,
                    "type": n.type,
                    "path": n.path,
                    "line": n.line,
                    "zone": n.zone,
                    "tags": list(n.tags),
                    "description": n.description,
                    "config": n.config,
                    "depends_on": [{"name": d.name, "inferred": d.inferred, "via": d.via} for d in n.depends_on],
                    "sql": n.sql,
                    "materialized": n.materialized,
                }
                for name, n in sorted(self.nodes.items())
            },
            "zones": self.zones(),
            "order": self.dag.topological_order(),
        }

    def unique_id(self, name: str) -> str:
        """dbt's node id, `<type>.<project>.<name>`, as artifacts name nodes."""
        from mlmon.project.artifacts import unique_id

        return unique_id(self.settings.name, self.nodes[name].type, name)

    def write_manifest(self, invocation_id: str | None = None) -> Path:
        """target/manifest.json (dbt's artifact shape) and the compiled SQL of every node."""
        from mlmon.config import new_invocation_id
        from mlmon.project.artifacts import manifest_artifact

        target = self.settings.target_dir
        target.mkdir(parents=True, exist_ok=True)
        path = target / "manifest.json"
        artifact = manifest_artifact(self, invocation_id or new_invocation_id())
        path.write_text(json.dumps(artifact, indent=2, default=str), encoding="utf-8")
        compiled = target / "compiled"
        for node in self.nodes.values():
            if node.sql:
                out = compiled / node.path
                out.parent.mkdir(parents=True, exist_ok=True)
                out.write_text(node.sql + "\n", encoding="utf-8")
        return path
