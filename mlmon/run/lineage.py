"""What a node was built from: the vars it depends on and the input files it read.

Every build of a table-producing node (a SQL or Python dataset, a score, a store) leaves a row in
`mlmon.node_builds` with the values of the vars it depends on and a fingerprint (size and
modification time) of each file it read. A build that reads such a table without rebuilding it
compares those values with its own: a table built for `month=2017_05` read by a build for
`month=2017_13` is stale, and the build says so (or refuses, with `--strict-upstream`).

A node depends on the vars its own YAML and SQL read, and on those of every node upstream of
it, except through a model: a model's version is chosen by the registry, not by the vars.
"""

from __future__ import annotations

import glob
import json
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any, Mapping

import sqlglot
from sqlglot import exp

from mlmon.warehouse.tables import SYSTEM_SCHEMA

if TYPE_CHECKING:
    from mlmon.nodes.base import Node
    from mlmon.project.project import Project
    from mlmon.warehouse.duckdb import Warehouse

__all__ = ["BuildInputs", "StaleVar", "var_dependencies", "input_files", "build_inputs", "record_build",
           "latest_build", "read_inputs", "stale_vars", "stale_message"]


@dataclass(frozen=True)
class BuildInputs:
    """The vars (name → value) and files (path, bytes, modified) one build depended on."""

    vars: dict[str, Any]
    files: list[dict[str, Any]]

    def describe_files(self) -> str:
        return ", ".join(f["path"] for f in self.files)


@dataclass(frozen=True)
class StaleVar:
    name: str
    built_with: Any
    now: Any


def var_dependencies(project: "Project", name: str, _seen: set[str] | None = None) -> set[str]:
    """The vars node `name` depends on: its own and its upstream's, not through models."""
    seen = _seen if _seen is not None else set()
    if name in seen:
        return set()
    seen.add(name)
    node = project.nodes[name]
    found = set(node.vars_used)
    for dep in node.upstream:
        if project.nodes[dep].type != "model":
            found |= var_dependencies(project, dep, seen)
    return found


def _scanned_patterns(text: str) -> list[str]:
    """The paths and globs named by table functions (read_csv(...), read_parquet(...)) in SQL."""
    try:
        query = sqlglot.parse_one(text, read="duckdb")
    except sqlglot.errors.ParseError:
        return []
    patterns: list[str] = []
    for table in query.find_all(exp.Table):
        function = table.this
        if not isinstance(function, exp.Func):
            continue
        first = function.args.get("this")
        if not isinstance(first, exp.Expression):
            first = function.expressions[0] if function.expressions else None
        if isinstance(first, exp.Literal) and first.is_string:
            patterns.append(first.this)
        elif isinstance(first, exp.Array):
            patterns.extend(e.this for e in first.expressions if isinstance(e, exp.Literal) and e.is_string)
    return patterns


def input_files(project: "Project", name: str) -> list[Path]:
    """The files node `name` reads when it builds: scans in its SQL and its file datasets' files."""
    from mlmon.nodes.datasets import dataset_files

    def is_file_dataset(candidate: "Node") -> bool:
        return candidate.type == "dataset" and candidate.raw_sql is None and bool(candidate.config.get("files"))

    node = project.nodes[name]
    patterns: list[str] = _scanned_patterns(node.sql) if node.sql else []
    for upstream in [node, *(project.nodes[dep] for dep in node.upstream)]:
        if is_file_dataset(upstream):
            patterns.extend(dataset_files(upstream))
    found: dict[Path, None] = {}
    for pattern in patterns:
        full = pattern if Path(pattern).is_absolute() else str(project.root / pattern)
        found.update(dict.fromkeys(Path(p) for p in sorted(glob.glob(full, recursive=True))))
    return list(found)


def _file_entry(path: Path, root: Path) -> dict[str, Any]:
    # Size and modification time, not a content hash: cheap enough for every build of every node,
    # whatever the size of the files.
    stat = path.stat()
    shown = path.relative_to(root) if path.is_relative_to(root) else path
    modified = datetime.fromtimestamp(stat.st_mtime, timezone.utc).isoformat(timespec="seconds")
    return {"path": shown.as_posix(), "bytes": stat.st_size, "modified": modified}


def build_inputs(project: "Project", name: str) -> BuildInputs:
    """The inputs node `name` would be built from now, under the project's current vars."""
    current = project.settings.vars
    names = sorted(var_dependencies(project, name))
    return BuildInputs(
        vars={v: current[v] for v in names if v in current},
        files=[_file_entry(p, project.root) for p in input_files(project, name) if p.exists()],
    )


def record_build(warehouse: "Warehouse", node: "Node", inputs: BuildInputs, invocation_id: str,
                 built_at: datetime) -> None:
    warehouse.log_rows("node_builds", [{
        "invocation_id": invocation_id, "node": node.name, "kind": node.type, "built_at": built_at,
        "vars": json.dumps(inputs.vars, default=str), "files": json.dumps(inputs.files),
    }])


def latest_build(warehouse: "Warehouse", name: str) -> BuildInputs | None:
    """What the newest recorded build of `name` was built from (None if none is recorded)."""
    warehouse.flush_log("node_builds")  # builds of this command not yet written (`Warehouse.log_rows`)
    row = warehouse.con.execute(
        f"SELECT vars, files FROM {SYSTEM_SCHEMA}.node_builds WHERE node = ? ORDER BY built_at DESC LIMIT 1",
        [name]).fetchone()
    if row is None:
        return None
    return BuildInputs(vars=json.loads(row[0]) if row[0] else {}, files=json.loads(row[1]) if row[1] else [])


def read_inputs(project: "Project", warehouse: "Warehouse", name: str) -> BuildInputs:
    """What reading node `name` now gives: a table's recorded build, else its inputs as of now."""
    node = project.nodes[name]
    recorded = latest_build(warehouse, name) if project.kind(node).records_build(node) else None
    return recorded if recorded is not None else build_inputs(project, name)


def _same(a: Any, b: Any) -> bool:
    # Vars pass through JSON in the warehouse: compare them in that form.
    return json.dumps(a, sort_keys=True, default=str) == json.dumps(b, sort_keys=True, default=str)


def stale_vars(built: BuildInputs, current: Mapping[str, Any]) -> list[StaleVar]:
    """The vars a table was built with that differ from this build's values."""
    return [StaleVar(name, value, current[name]) for name, value in built.vars.items()
            if name in current and not _same(value, current[name])]


def stale_message(upstream: str, reader: str, stale: list[StaleVar]) -> str:
    built = ", ".join(f"{s.name}={s.built_with}" for s in stale)
    now = ", ".join(f"{s.name}={s.now}" for s in stale)
    return (f"{upstream} was built for {built}; this build has {now} — add + to rebuild it "
            f"(mlmon build -s +{reader})")
