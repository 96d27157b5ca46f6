"""Evaluations of any model: logged outputs (`predictions:`), a node as reference, outcomes
joined by key (`ground_truth:`) and one evaluation per period (`period:`).

One build reads the data once into a scratch table (outcomes joined, each row's period start
computed), counts rows and labels per period in one grouped scan, and evaluates only the
periods that are new or whose row or label count changed (all of them with --full-refresh),
oldest first. The reference's profile is computed once and reused for every period. All the
evaluations are appended in one transaction: a failure in any period appends none. The rows
and each period's reference are prepared by `mlmon.evaluation.batch_rows`.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable

import duckdb

from mlmon.errors import Location
from mlmon.evaluation.batch_rows import BatchRequest, BatchRows
from mlmon.evaluation.evaluate import evaluate, labelled_rows, require_ground_truth
from mlmon.evaluation.kept_groups import KeptGroups
from mlmon.evaluation.outcomes import PERIOD_COLUMN, GroundTruth, coverage_metrics
from mlmon.evaluation.periods import period_labels
from mlmon.evaluation.reference import TRAINING, Reference, ReferenceCache
from mlmon.evaluation.run import EvaluationRequest, StoredEvaluation
from mlmon.evaluation.segments import evaluate_segments, require_segment_columns
from mlmon.evaluation.sampling import Scratch, table_columns
from mlmon.evaluation.store import KEEP_ROWS, PERIOD_LABEL, EvaluationRecord, append_evaluations
from mlmon.evaluation.task import GroupedEstimates, GroupedPerformance
from mlmon.metrics.grouped import GroupedDrift
from mlmon.metrics.univariate import drift_and_profile
from mlmon.ml.registry import ModelVersion
from mlmon.run.results import utcnow
from mlmon.warehouse.duckdb import Warehouse

if TYPE_CHECKING:
    from mlmon.nodes.base import Node, NodeOutcome
    from mlmon.run.context import RunContext

__all__ = ["BatchOutcome", "BatchRequest", "TransientCache", "run_batch", "run_node"]

KEYWORDS = (TRAINING, "first", "previous")


class TransientCache(ReferenceCache):
    """Profiles kept for this build only: a node's rows may change before the next build, so
    nothing is written; importances still come from the model version's own cache."""

    def __init__(self, con: duckdb.DuckDBPyConnection, inner: ReferenceCache | None):
        self.con = con
        self.inner = inner
        self.pending = inner.pending if inner is not None else []
        self._kept: dict[tuple[str, str, str], Any] = {}

    def _get(self, source: str, kind: str, key: str) -> Any:
        return self._kept.get((source, kind, key))

    def _put(self, source: str, kind: str, key: str, payload: Any) -> None:
        self._kept[(source, kind, key)] = payload

    def model_importance(self, reference: Reference, load_pipeline: Callable[[], Any] | None) -> dict[str, float] | None:
        return self.inner.model_importance(reference, load_pipeline) if self.inner is not None else None


@dataclass
class BatchOutcome:
    stored: list[StoredEvaluation]  # the evaluations appended, oldest period first
    n_periods: int  # periods in the data
    warnings: list[str]  # about the data as a whole


def run_batch(warehouse: Warehouse, request: BatchRequest, version: ModelVersion | None,
              load_pipeline: Callable[[], Any] | None, where: Callable[[str], Location],
              progress: Callable[[str], None] | None = None, keep_rows: int = KEEP_ROWS,
              build: dict[Any, Any] | None = None) -> BatchOutcome:
    """Evaluate every stale period of the data and append the evaluations in one transaction;
    `build`: the build's memo of what is read of references that never change."""
    say = progress or (lambda message: None)
    con, base = warehouse.con, request.base
    with Scratch(con, base.store) as scratch:
        batch = BatchRows(warehouse, request, version, load_pipeline, scratch, say, where, build)
        batch.load_rows()
        plan = batch.plan
        assert plan is not None
        todo = batch.stale()
        if not todo:
            return BatchOutcome([], len(batch.periods), batch.warnings)
        inner = ReferenceCache(con, version, build) if version is not None else None
        fixed = batch.fixed_reference()
        cache = inner if fixed is not None and fixed.kind == TRAINING and inner is not None else TransientCache(con, inner)
        groups = batch.groups(fixed, todo)
        grouped = GroupedDrift(con, fixed.sql, groups) if fixed is not None and groups is not None else None
        binary = groups if groups is not None and plan.task == "binary" else None
        estimates = GroupedEstimates(binary) if binary is not None else None
        realised = GroupedPerformance(binary) if binary is not None else None
        stored: list[StoredEvaluation] = []
        appended = []
        kept_keys: dict[str, str] = {}  # evaluation_id -> its period in `groups.relation`, as SQL
        present: set[str] | None = None
        known = batch.known_counts(groups, todo)
        for index, period in enumerate(batch.periods):
            if period not in todo:
                continue
            drift = grouped.for_group(todo.index(period)) if grouped is not None else drift_and_profile
            tag = f"period {period.start}: " if period.start is not None else ""
            n_rows, n_evaluated, current, scored = batch.rows(index)
            # A period read in place holds the rows its grouped count saw: counted already.
            in_place = groups is not None
            n_labelled = period.n_labelled if in_place else labelled_rows(con, current, plan.target)
            if request.truth is None:
                require_ground_truth(plan, base.dataset, n_labelled)
            reference = fixed or batch.period_reference(index)
            result = evaluate(con, current, reference, plan, cache, load_pipeline=load_pipeline,
                              progress=lambda message, tag=tag: say(tag + message), drift=drift,
                              estimated=estimates.for_group(todo.index(period)) if estimates is not None else None,
                              performance=realised.for_group(todo.index(period)) if realised is not None else None,
                              known=known[todo.index(period)] if known is not None else None)
            # A period's label count is what tells a later build whether it changed (stale_periods).
            if request.truth is not None or request.predictions is not None or period.start is not None:
                result.metrics += coverage_metrics(n_evaluated, n_labelled)
            if plan.segments:
                require_segment_columns(con, plan.segments, current, reference.sql, base.segments_location)
                extra, notes = evaluate_segments(con, current, reference, plan, cache,
                                                 lambda message, tag=tag: say(tag + message))
                result.metrics += extra
                result.warnings += notes
            record = EvaluationRecord(
                evaluation_id=uuid.uuid4().hex, store=base.store, model=version.model if version else None,
                model_version=version.version if version else None, dataset=base.dataset, reference=reference.kind,
                created_at=utcnow(), invocation_id=base.invocation_id, n_rows=n_rows, n_evaluated=n_evaluated,
                has_ground_truth=result.has_ground_truth, labels=period_labels(base.labels, period.start),
                reference_evaluation_id=reference.evaluation_id, warnings=result.warnings,
            )
            if present is None or not in_place:  # every period's view has the same columns
                present = {name for name, _ in table_columns(con, current)}
            keep = [c for c in dict.fromkeys([*plan.features, *plan.segments, plan.target, *plan.outputs]) if c in present]
            appended.append((record, result.metrics, current, keep))
            if groups is not None:
                kept_keys[record.evaluation_id] = groups.literal(period.start)
            stored.append(StoredEvaluation(record, result, scored))
        say(f"appending {len(appended)} evaluation(s)")
        append_evaluations(warehouse, appended, cache.pending, keep_rows,
                           KeptGroups(groups.relation, PERIOD_COLUMN, kept_keys) if groups is not None else None)
        if inner is not None:
            inner.written()
    return BatchOutcome(stored, len(batch.periods), batch.warnings)


def _summary(outcome: BatchOutcome, by_period: bool) -> str:
    stored = outcome.stored
    if not stored:
        return f"{outcome.n_periods} period(s) unchanged: nothing to evaluate"
    last = stored[-1]
    values = {m.metric: m.value for m in last.result.metrics if m.feature is None}
    shown = [f"{name} {values[name]:.3f}" for name in ("label_coverage", "roc_auc", "estimated_roc_auc", "rmse", "data_drift")
             if values.get(name) is not None][:3]
    who = f"{last.record.model} v{last.record.model_version}" if last.record.model else "logged predictions"
    head = (f"{who}, {len(stored)} of {outcome.n_periods} period(s) evaluated, latest {last.record.labels.get(PERIOD_LABEL)}"
            if by_period else f"{who}, {last.record.n_evaluated:,} rows")
    return f"{head} vs {last.record.reference}" + (f": {', '.join(shown)}" if shown else "")


def _period_warnings(stored: list[StoredEvaluation]) -> list[str]:
    """Each distinct warning once, naming its periods (a year of small months would repeat
    "sample under 1,000 rows" twelve times)."""
    periods: dict[str, list[str]] = {}
    for s in stored:
        for warning in s.result.warnings:
            periods.setdefault(warning, []).append(str(s.record.labels[PERIOD_LABEL]))
    return [f"period {p[0]}: {w}" if len(p) == 1 else f"{len(p)} periods ({p[0]} to {p[-1]}): {w}"
            for w, p in periods.items()]


def run_node(node: "Node", ctx: "RunContext") -> "NodeOutcome":
    """Execute an evaluation node that uses `predictions:`, `ground_truth:`, `period:` or a node reference."""
    from mlmon.ml.registry import require_active
    from mlmon.nodes.base import NodeOutcome
    from mlmon.nodes.models import registry

    config = node.config
    version, load = None, None
    if config.get("model"):
        models = registry(ctx)
        version = require_active(models, config["model"], node.name)
        load = (lambda: models.load(version))
    reference = config.get("reference") or TRAINING
    base = EvaluationRequest.from_config(node.name, config, ctx.relation_sql(config["data"]), ctx.invocation_id,
                                         segments_location=node.location("segments"),
                                         sampling_location=node.location("sampling"))
    request = BatchRequest(
        base=base, predictions=config.get("predictions"), task=config.get("task"), target=config.get("target"),
        reference_node=None if reference in KEYWORDS else reference,
        reference_sql=None if reference in KEYWORDS else ctx.relation_sql(reference),
        truth=GroundTruth.from_config(config.get("ground_truth"), ctx.relation_sql),
        period=config.get("period"), full_refresh=ctx.config.full_refresh,
    )
    from mlmon.evaluation.run import memo

    outcome = run_batch(ctx.warehouse, request, version, memo(load), node.location, ctx.progress.update,
                        keep_rows=int(ctx.setting("evaluation_keep_rows", KEEP_ROWS)), build=ctx.evaluation_memo)
    by_period = request.period is not None
    warnings = outcome.warnings + (_period_warnings(outcome.stored) if by_period
                                   else [w for s in outcome.stored for w in s.result.warnings])
    return NodeOutcome(message=_summary(outcome, by_period), rows=sum(s.record.n_evaluated for s in outcome.stored),
                       warnings=warnings)
