"""target/manifest.json in the shape of dbt's manifest, so tools that read dbt artifacts read it.

Nodes are keyed by `unique_id` = `<type>.<project>.<name>` and carry dbt's keys (resource_type,
package_name, fqn, original_file_path, depends_on.nodes, compiled_code, ...) beside mlmon's own
(zone, line, edges with how each was found). `parent_map` and `child_map` are dbt's too.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from mlmon import __version__

if TYPE_CHECKING:
    from mlmon.nodes.base import Node
    from mlmon.project.project import Project

__all__ = ["MANIFEST_SCHEMA_VERSION", "RUN_RESULTS_SCHEMA_VERSION", "unique_id", "artifact_nodes", "manifest_artifact", "artifact_metadata"]

MANIFEST_SCHEMA_VERSION = "mlmon/manifest/v1"
RUN_RESULTS_SCHEMA_VERSION = "mlmon/run-results/v1"


def unique_id(project_name: str, node_type: str, name: str) -> str:
    return f"{node_type}.{project_name}.{name}"


def artifact_metadata(schema_version: str, invocation_id: str, **extra: Any) -> dict[str, Any]:
    return {
        "mlmon_schema_version": schema_version,
        "mlmon_version": __version__,
        "generated_at": datetime.now(timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z"),
        "invocation_id": invocation_id,
        **extra,
    }


def _node(project: "Project", node: "Node") -> dict[str, Any]:
    uid = project.unique_id(node.name)
    return {
        "unique_id": uid,
        "name": node.name,
        "resource_type": node.type,
        "package_name": project.settings.name,
        "fqn": [project.settings.name, *node.path.rsplit("/", 1)[0].split("/"), node.name],
        "path": node.path,
        "original_file_path": node.path,
        "line": node.line,
        "zone": node.zone,
        "tags": list(node.tags),
        "description": node.description or "",
        "config": {**node.config, "materialized": node.materialized},
        "depends_on": {
            "macros": [],
            "nodes": [project.unique_id(d.name) for d in node.depends_on],
            "edges": [{"name": d.name, "unique_id": project.unique_id(d.name), "inferred": d.inferred, "via": d.via}
                      for d in node.depends_on],
        },
        "raw_code": node.raw_sql,
        "compiled_code": node.sql,
        "language": "sql" if node.sql else None,
    }


def artifact_nodes(project: "Project") -> dict[str, dict[str, Any]]:
    """Every node as the manifest has it, by unique_id."""
    return {project.unique_id(name): _node(project, node) for name, node in sorted(project.nodes.items())}


def manifest_artifact(project: "Project", invocation_id: str) -> dict[str, Any]:
    nodes = artifact_nodes(project)
    parents = {uid: list(n["depends_on"]["nodes"]) for uid, n in nodes.items()}
    children: dict[str, list[str]] = {uid: [] for uid in nodes}
    for uid, ups in parents.items():
        for up in ups:
            children.setdefault(up, []).append(uid)
    return {
        "metadata": artifact_metadata(
            MANIFEST_SCHEMA_VERSION, invocation_id, project_name=project.settings.name,
            adapter_type=project.target.type, target_name=project.target.name, vars=dict(project.settings.vars),
        ),
        "nodes": nodes,
        "parent_map": parents,
        "child_map": {uid: sorted(c) for uid, c in children.items()},
        "zones": project.zones(),
        "order": [project.unique_id(n) for n in project.dag.topological_order()],
    }
