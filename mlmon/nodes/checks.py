"""Checks: a metric of a store's latest evaluation against bounds or a set, or a SQL query.

Every run appends its result, OK included, to `mlmon.check_results`, so the table is the
check's history and retrain nodes read a check's latest status from it. A SQL check records
`metric = 'failing_rows'` with the number of rows its query returned as the value.
"""

from __future__ import annotations

from typing import Any

from mlmon.checks.evaluate import (
    BOUND_NAMES,
    Bounds,
    Verdict,
    apply_severity,
    check_bounds,
    check_rows,
    check_values,
    empty,
    node_status,
)
from mlmon.errors import ConfigError
from mlmon.nodes.base import BuildContext, Field, Node, NodeKind, NodeOutcome, ProjectView
from mlmon.run.results import utcnow
from mlmon.warehouse.tables import SYSTEM_SCHEMA

__all__ = ["CheckKind", "KIND", "SQL_CHECK_METRIC", "latest_evaluation", "metric_value"]

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

    def validate(self, node: Node, project: "ProjectView") -> list[ConfigError]:
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

    def execute(self, node: Node, ctx: "BuildContext") -> NodeOutcome:
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
            verdict, evaluation_id, value = _run_metric_check(ctx, config)
            row.update(store=config["store"], evaluation_id=evaluation_id, metric=config["metric"],
                       feature=config.get("feature"), value=value)
        verdict = apply_severity(verdict, config.get("severity") or "error")
        row.update(status=str(verdict.status), message=verdict.message, checked_at=utcnow())
        ctx.warehouse.insert_rows("check_results", [row])
        return NodeOutcome(node_status(verdict.status), f"{verdict.status}: {verdict.message}")


def latest_evaluation(ctx: "BuildContext", store: str) -> str | None:
    """The id of the store's newest evaluation (by created_at), or None if it has none."""
    row = ctx.warehouse.con.execute(
        f"SELECT evaluation_id FROM {SYSTEM_SCHEMA}.evaluations WHERE store = ? "
        "ORDER BY created_at DESC NULLS LAST, evaluation_id DESC LIMIT 1", [store]).fetchone()
    return None if row is None else str(row[0])


def metric_value(ctx: "BuildContext", evaluation_id: str, metric: str, feature: str | None) -> tuple[bool, float | None]:
    """(found, value) of one metric of one evaluation; feature None means the global value."""
    row = ctx.warehouse.con.execute(
        f"SELECT value FROM {SYSTEM_SCHEMA}.metrics WHERE evaluation_id = ? AND metric = ? "
        "AND feature IS NOT DISTINCT FROM ? AND segment IS NULL LIMIT 1", [evaluation_id, metric, feature]).fetchone()
    if row is None:
        return False, None
    return True, None if row[0] is None else float(row[0])


def _run_metric_check(ctx: "BuildContext", config: dict[str, Any]) -> tuple[Verdict, str | None, float | None]:
    store, metric, feature = config["store"], config["metric"], config.get("feature")
    label = metric if feature is None else f"{metric}[{feature}]"
    evaluation_id = latest_evaluation(ctx, store)
    if evaluation_id is None:
        return empty(f"store {store} has no evaluation yet"), None, None
    found, value = metric_value(ctx, evaluation_id, metric, feature)
    if not found:
        where = "" if feature is None else f" for feature '{feature}'"
        return empty(f"no metric {metric}{where} in the latest evaluation of {store}"), evaluation_id, None
    if config.get("values") is not None:
        return check_values(label, value, config["values"]), evaluation_id, value
    return check_bounds(label, value, Bounds.from_config(config)), evaluation_id, value


def _run_sql_check(ctx: "BuildContext", query: str) -> tuple[Verdict, int]:
    con = ctx.warehouse.con
    (count,) = con.execute(f"SELECT count(*) FROM ({query}) AS failing_rows").fetchone()
    if not count:
        return check_rows(0, [], []), 0
    cursor = con.execute(f"SELECT * FROM ({query}) AS failing_rows LIMIT {_SAMPLE}")
    columns = [d[0] for d in cursor.description or []]
    return check_rows(int(count), columns, cursor.fetchall()), int(count)


KIND = CheckKind()
