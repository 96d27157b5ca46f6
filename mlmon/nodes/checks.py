"""Checks: a metric of a store's latest evaluation against bounds or a set, or a SQL query.

Every run appends its result, OK included, to `mlmon.check_results`, so the table is the
check's history and retrain nodes read a check's latest status from it. A SQL check records
`metric = 'failing_rows'` with the number of rows its query returned as the value.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from mlmon.checks.evaluate import (
    BOUND_NAMES,
    Bounds,
    CheckStatus,
    Verdict,
    apply_severity,
    check_bounds,
    check_rows,
    check_values,
    empty,
    node_status,
)
from mlmon.errors import ConfigError
from mlmon.nodes.base import Field, Node, NodeKind, NodeOutcome
from mlmon.run.results import utcnow
from mlmon.warehouse.tables import SYSTEM_SCHEMA

if TYPE_CHECKING:
    from mlmon.project.project import Project
    from mlmon.run.context import RunContext

__all__ = ["CheckKind", "KIND", "SQL_CHECK_METRIC", "evaluations_to_check", "latest_evaluation", "metric_value"]

_NUMBER = (int, float)
SQL_CHECK_METRIC = "failing_rows"
_SAMPLE = 3


class CheckKind(NodeKind):
    key = "checks"
    type = "check"
    fields = (
        Field("store", (str,), refs=("evaluation",), doc="the evaluation store whose latest evaluation is checked"),
        Field("metric", (str,), doc="a metric name of mlmon.metrics"),
        Field("feature", (str, int, float, bool), doc="for per-feature metrics: the column, or a class label"),
        *(Field(b, _NUMBER) for b in BOUND_NAMES),
        Field("values", (list,), doc="value-in-set check: the allowed values"),
        Field("sql", (str,), sql=True, doc="a query returning failing rows; zero rows = OK"),
        Field("severity", (str,), default="error", choices=("error", "warn"), doc="warn turns ERROR into WARNING"),
    )

    def validate(self, node: Node, project: "Project") -> list[ConfigError]:
        config = node.config
        bounds = {b: config[b] for b in BOUND_NAMES if config.get(b) is not None}
        if config.get("sql"):
            extra = [k for k in ("store", "metric", "feature", "values", *bounds) if config.get(k) is not None]
            if extra:
                return [node.error(f"a SQL check takes `sql:` alone, without `{extra[0]}:`", extra[0],
                                   hint="its query returns the failing rows: zero rows is OK")]
            return []
        errors = []
        for key in ("store", "metric"):
            if not config.get(key):
                errors.append(node.error(f"check '{node.name}' needs `{key}:` (or `sql:`)"))
        values = config.get("values")
        if not bounds and values is None:
            errors.append(node.error("give bounds (min, soft_min, soft_max, max) or `values:`"))
        if bounds and values is not None:
            errors.append(node.error("give bounds or `values:`, not both", "values"))
        if values is not None and (not values or not all(isinstance(v, _NUMBER) for v in values)):
            errors.append(node.error(f"`values` must be a non-empty list of numbers (metrics are numbers), got {values!r}",
                                     "values"))
        lows = [bounds[b] for b in ("min", "soft_min") if b in bounds]
        highs = [bounds[b] for b in ("soft_max", "max") if b in bounds]
        if lows + highs != sorted(lows + highs):
            errors.append(node.error("bounds must satisfy min ≤ soft_min ≤ soft_max ≤ max", next(iter(bounds))))
        return errors

    def execute(self, node: Node, ctx: "RunContext") -> NodeOutcome:
        config = node.config
        if config.get("feature") is not None and not isinstance(config["feature"], str):
            from mlmon.metrics.labels import canonical_label

            # A class label written as YAML's 2, 2.0 or true names the class stored as "2" / "true".
            config = {**config, "feature": canonical_label(config["feature"])}
        row: dict[str, Any] = {"check": node.name, "invocation_id": ctx.invocation_id}
        if config.get("sql"):
            verdict, count = _run_sql_check(ctx, config["sql"])
            row.update(metric=SQL_CHECK_METRIC, value=float(count))
        else:
            return self._metric_checks(config, ctx, row)
        verdict = apply_severity(verdict, config.get("severity") or "error")
        row.update(status=str(verdict.status), message=verdict.message, checked_at=utcnow())
        ctx.warehouse.insert_rows("check_results", [row])
        return NodeOutcome(node_status(verdict.status), f"{verdict.status}: {verdict.message}")

    @staticmethod
    def _metric_checks(config: dict[str, Any], ctx: "RunContext", base: dict[str, Any]) -> NodeOutcome:
        """One result per evaluation the store appended in this command (one per period), or
        for its latest evaluation; the node takes the worst status."""
        rows, verdicts = [], []
        for evaluation_id in evaluations_to_check(ctx, config["store"]):
            verdict, value = _run_metric_check(ctx, config, evaluation_id)
            verdict = apply_severity(verdict, config.get("severity") or "error")
            verdicts.append(verdict)
            rows.append({**base, "store": config["store"], "evaluation_id": evaluation_id, "metric": config["metric"],
                         "feature": config.get("feature"), "value": value, "status": str(verdict.status),
                         "message": verdict.message, "checked_at": utcnow()})
        ctx.warehouse.insert_rows("check_results", rows)
        worst = max(verdicts, key=lambda v: _SEVERITY[v.status])
        if len(verdicts) == 1:
            return NodeOutcome(node_status(worst.status), f"{worst.status}: {worst.message}")
        counts = ", ".join(f"{sum(v.status == s for v in verdicts)} {s}" for s in _SEVERITY
                           if any(v.status == s for v in verdicts))
        return NodeOutcome(node_status(worst.status),
                           f"{worst.status}: {len(verdicts)} evaluations ({counts}); {worst.message}")


def latest_evaluation(ctx: "RunContext", store: str) -> str | None:
    """The id of the store's newest evaluation (of its newest period, if any), or None if it has none."""
    row = ctx.warehouse.con.execute(
        f"SELECT evaluation_id FROM {SYSTEM_SCHEMA}.evaluations WHERE store = ? "
        # a store evaluated per period: the newest period's latest evaluation
        "ORDER BY TRY_CAST(json_extract_string(labels, '$.period') AS DATE) DESC NULLS LAST, "
        "created_at DESC NULLS LAST, evaluation_id DESC LIMIT 1", [store]).fetchone()
    return None if row is None else str(row[0])


def metric_value(ctx: "RunContext", evaluation_id: str, metric: str, feature: str | None) -> tuple[bool, float | None]:
    """(found, value) of one metric of one evaluation; feature None means the global value."""
    row = ctx.warehouse.con.execute(
        f"SELECT value FROM {SYSTEM_SCHEMA}.metrics WHERE evaluation_id = ? AND metric = ? "
        "AND feature IS NOT DISTINCT FROM ? LIMIT 1", [evaluation_id, metric, feature]).fetchone()
    if row is None:
        return False, None
    return True, None if row[0] is None else float(row[0])


# The worst status a check node reports, when it checks several evaluations.
_SEVERITY = {CheckStatus.OK: 0, CheckStatus.EMPTY: 1, CheckStatus.WARNING: 2, CheckStatus.ERROR: 3}


def evaluations_to_check(ctx: "RunContext", store: str) -> list[str | None]:
    """The evaluations the store appended in this command when there are several (one per
    period), else its latest one ([None] when it has none)."""
    rows = ctx.warehouse.con.execute(
        f"SELECT evaluation_id FROM {SYSTEM_SCHEMA}.evaluations WHERE store = ? AND invocation_id = ? "
        "ORDER BY created_at, evaluation_id", [store, ctx.invocation_id]).fetchall()
    if len(rows) > 1:
        return [str(r[0]) for r in rows]
    return [latest_evaluation(ctx, store)]


def _run_metric_check(ctx: "RunContext", config: dict[str, Any], evaluation_id: str | None) -> tuple[Verdict, float | None]:
    store, metric, feature = config["store"], config["metric"], config.get("feature")
    label = metric if feature is None else f"{metric}[{feature}]"
    if evaluation_id is None:
        return empty(f"store {store} has no evaluation yet"), None
    found, value = metric_value(ctx, evaluation_id, metric, feature)
    period = _period_of(ctx, evaluation_id)
    if not found:
        where = "" if feature is None else f" for feature '{feature}'"
        return empty(f"no metric {metric}{where} in the {period or 'latest evaluation'} of {store}"), None
    verdict = (check_values(label, value, config["values"]) if config.get("values") is not None
               else check_bounds(label, value, Bounds.from_config(config)))
    return (Verdict(verdict.status, f"{period}: {verdict.message}") if period else verdict), value


def _period_of(ctx: "RunContext", evaluation_id: str) -> str | None:
    """'period 2017-04-01' for an evaluation of a `period:` store, else None."""
    row = ctx.warehouse.con.execute(
        f"SELECT json_extract_string(labels, '$.period') FROM {SYSTEM_SCHEMA}.evaluations WHERE evaluation_id = ?",
        [evaluation_id]).fetchone()
    return f"period {row[0]}" if row and row[0] else None


def _run_sql_check(ctx: "RunContext", query: str) -> tuple[Verdict, int]:
    con = ctx.warehouse.con
    (count,) = con.execute(f"SELECT count(*) FROM ({query}) AS failing_rows").fetchone()
    if not count:
        return check_rows(0, [], []), 0
    cursor = con.execute(f"SELECT * FROM ({query}) AS failing_rows LIMIT {_SAMPLE}")
    columns = [d[0] for d in cursor.description or []]
    return check_rows(int(count), columns, cursor.fetchall()), int(count)


KIND = CheckKind()
