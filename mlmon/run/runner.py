"""Run a selection of nodes in dependency order: the engine that knows nothing about ML.

For each node: skip it if something it needs failed in this run; check that upstream nodes
left out of the selection can be read from the warehouse; call its kind's `execute`; record.
"""

from __future__ import annotations

import re
import traceback
from contextlib import nullcontext

from mlmon.config import RunConfig
from mlmon.errors import MlmonError
from mlmon.graph.selector import select
from mlmon.nodes.base import Node, NodeOutcome
from mlmon.project.project import Project
from mlmon.run.context import RunContext
from mlmon.run.lineage import build_inputs, latest_build, record_build, stale_message, stale_vars
from mlmon.run.progress import Progress
from mlmon.run.results import NodeResult, RunResults, utcnow
from mlmon.warehouse.duckdb import Warehouse
from mlmon.warehouse.spark_errors import is_spark_error, spark_error_line

__all__ = ["plan", "build", "named_in_selection"]

_BLOCKING = frozenset({"error", "skipped"})


def plan(project: Project, config: RunConfig) -> list[str]:
    """The buildable nodes the selection names, in deterministic dependency order."""
    chosen = select(list(config.select) or None, list(config.exclude) or None, project.nodes, project.dag)
    buildable = {n for n in chosen if project.kind(n).buildable}
    return project.dag.topological_order(buildable)


def named_in_selection(select_args: tuple[str, ...], names: set[str] | dict) -> frozenset[str]:
    """Nodes named as plain atoms (no `+`, `@`, method or glob): "selected by name"."""
    atoms = re.split(r"[\s,()]+", " ".join(select_args))
    return frozenset(a for a in atoms if a in names)


def build(project: Project, config: RunConfig, progress: Progress, debug: bool = False,
          warehouse: Warehouse | None = None, write_manifest: bool = False) -> RunResults:
    """Build the selection; `warehouse` lets a caller that holds the connection (a scenario
    run, whose steps are builds) share it instead of opening the file a second time.

    Artifacts are written only once the warehouse is open: a command refused for a held lock
    leaves target/ as it was."""
    order = plan(project, config)
    run = RunResults(config.invocation_id, dict(config.args), target=project.target.name,
                     project_name=project.settings.name)
    if config.dry_run:
        for i, name in enumerate(order, 1):
            node = project.nodes[name]
            progress.log(f"{i:>3} of {len(order)} {node.type} {name}  ({node.path}:{node.line})")
        return run
    opened = nullcontext(warehouse) if warehouse is not None else project.open_warehouse()
    with opened as warehouse:
        if write_manifest:
            project.write_manifest(config.invocation_id)
        ctx = RunContext(
            config=config, project=project, warehouse=warehouse, progress=progress,
            selected=frozenset(order), named=named_in_selection(config.select, project.nodes),
        )
        stop = False
        try:
            for index, name in enumerate(order, 1):
                node = project.nodes[name]
                with progress.node(index, len(order), node.type, name):
                    result = _skipped(node, "an earlier node failed and --fail-fast is set") if stop else _run_node(node, ctx, debug)
                ctx.results[name] = result
                _record(warehouse, config, result)
                progress.node_done(index, len(order), result, tell=project.kind(node).tells_decision)
                stop = stop or (config.fail_fast and result.status in ("error", "fail"))
        finally:  # the nodes' results, even of a build stopped by Ctrl-C
            warehouse.flush_log()
        run.results = list(ctx.results.values())
    run.write(project.settings.target_dir)
    progress.summary(run)
    return run


def _skipped(node: Node, reason: str) -> NodeResult:
    now = utcnow()
    return NodeResult(node.name, node.type, "skipped", now, now, reason)


def _run_node(node: Node, ctx: RunContext, debug: bool) -> NodeResult:
    kind = ctx.project.kind(node)
    for dep in node.upstream:
        upstream = ctx.results.get(dep)
        if upstream is None:
            continue
        if upstream.status in _BLOCKING or (upstream.status == "fail" and not kind.runs_after_failed_check):
            return _skipped(node, f"upstream '{dep}' ended with status {upstream.status}")
    started = utcnow()
    stale: list[str] = []
    try:
        stale = _require_upstream(node, ctx)
        outcome = kind.execute(node, ctx)
        if outcome.status in ("success", "warn") and kind.records_build(node):
            record_build(ctx.warehouse, node, build_inputs(ctx.project, node.name), ctx.invocation_id, utcnow())
    except MlmonError as exc:
        outcome = NodeOutcome("error", str(exc))
    except Exception as exc:  # a bug or a library error: keep building the rest
        if debug:
            detail = traceback.format_exc()
        elif is_spark_error(exc):  # the Python worker's exception, not the Java stack around it
            detail = f"Spark: {spark_error_line(exc)}"
        else:
            detail = f"{type(exc).__name__}: {exc}"
        outcome = NodeOutcome("error", detail.strip())
    return NodeResult(node.name, node.type, outcome.status, started, utcnow(), outcome.message, outcome.rows,
                      [*stale, *outcome.warnings])


def _require_upstream(node: Node, ctx: RunContext) -> list[str]:
    """Upstream nodes outside the selection must already be in the warehouse; those built for
    other values of the vars they depend on are named (warnings), or refused with --strict-upstream."""
    warnings: list[str] = []
    for dep in node.upstream:
        if dep in ctx.selected:
            continue
        upstream = ctx.project.nodes[dep]
        upstream_kind = ctx.project.kind(upstream)
        missing = upstream_kind.available(upstream, ctx)
        if missing:
            raise MlmonError(
                f"upstream {upstream.type} '{dep}' is not available ({missing})",
                hint=f"build it first, or select `+{node.name}` to build {node.name} with everything upstream",
            )
        built = latest_build(ctx.warehouse, dep) if upstream_kind.records_build(upstream) else None
        stale = stale_vars(built, ctx.project.settings.vars) if built is not None else []
        if stale:
            text = stale_message(dep, node.name, stale)
            if ctx.config.strict_upstream:
                raise MlmonError(f"stale upstream (--strict-upstream): {text}")
            warnings.append(text)
    return warnings


def _record(warehouse: Warehouse, config: RunConfig, result: NodeResult) -> None:
    warehouse.log_rows("node_results", [{
        "invocation_id": config.invocation_id, "node": result.node, "kind": result.kind,
        "status": result.status, "started_at": result.started_at, "ended_at": result.ended_at,
        "message": "\n".join(filter(None, [result.message, *result.warnings])) or None,
        "rows": result.rows, "target": warehouse.target_name,
    }])
