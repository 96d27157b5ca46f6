"""Checks: a metric of a store's latest evaluation against bounds or a set, or a SQL query.

Every run appends its results, OK included, to `mlmon.check_results` (one per feature with
`feature: "*"`, one per evaluation when the store appended several in one command), all with
the same `checked_at`; the check's status is the worst of them. The table is the check's
history and retrain nodes read a check's latest status from it. A SQL check records
`metric = 'failing_rows'` with the number of rows its query returned as the value.
"""

from __future__ import annotations

from typing import Any

from mlmon.checks.evaluate import (
    BOUND_NAMES,
    CheckStatus,
    Verdict,
    apply_severity,
    check_rows,
    node_status,
    worst_status,
)
from mlmon.checks.learnt import bounds_problems
from mlmon.checks.store_checks import MetricResult, metric_results
from mlmon.errors import ConfigError
from mlmon.nodes.base import BuildContext, Field, Node, NodeKind, NodeOutcome, ProjectView
from mlmon.run.results import utcnow

__all__ = ["CheckKind", "KIND", "SQL_CHECK_METRIC"]

_NUMBER = (int, float)
SQL_CHECK_METRIC = "failing_rows"
_SAMPLE = 3


class CheckKind(NodeKind):
    key = "checks"
    type = "check"
    fields = (
        Field("store", (str,), refs=("evaluation",), doc="the evaluation store whose latest evaluation is checked"),
        Field("metric", (str,), doc="a metric name of mlmon.metrics"),
        Field("feature", (str, int, float, bool),
              doc='for per-feature metrics: the column, a class label, or "*" for every feature'),
        Field("segment", (str,), doc='"column=value": the metric of that segment (default: all rows)'),
        *(Field(b, _NUMBER) for b in BOUND_NAMES),
        Field("bounds", (dict,), doc="learnt min and max: {history: N, std: k} = mean ± k sample std of the "
                                     "metric over the up to N evaluations before the checked one"),
        Field("values", (list,), doc="value-in-set check: the allowed values"),
        Field("sql", (str,), sql=True, doc="a query returning failing rows; zero rows = OK"),
        Field("severity", (str,), default="error", choices=("error", "warn"), doc="warn turns ERROR into WARNING"),
    )

    def validate(self, node: Node, project: "ProjectView") -> list[ConfigError]:
        config = node.config
        bounds = {b: config[b] for b in BOUND_NAMES if config.get(b) is not None}
        if config.get("sql"):
            extra = [k for k in ("store", "metric", "feature", "segment", "values", "bounds", *bounds)
                     if config.get(k) is not None]
            if extra:
                return [node.error(f"a SQL check takes `sql:` alone, without `{extra[0]}:`", extra[0],
                                   hint="its query returns the failing rows: zero rows is OK")]
            return []
        errors = []
        for key in ("store", "metric"):
            if not config.get(key):
                errors.append(node.error(f"check '{node.name}' needs `{key}:` (or `sql:`)"))
        values, learnt = config.get("values"), config.get("bounds")
        if not bounds and values is None and learnt is None:
            errors.append(node.error("give bounds (min, soft_min, soft_max, max), learnt `bounds:` or `values:`"))
        if (bounds or learnt is not None) and values is not None:
            errors.append(node.error("give bounds or `values:`, not both", "values"))
        if learnt is not None:
            errors += [node.error(problem, "bounds", hint=hint) for problem, hint in bounds_problems(learnt)]
            fixed = [b for b in ("min", "max") if b in bounds]
            if fixed:
                errors.append(node.error(f"learnt `bounds:` set min and max; remove `{fixed[0]}:`", fixed[0],
                                         hint="soft_min and soft_max may be given beside learnt bounds"))
        segment = config.get("segment")
        column = segment.split("=", 1)[0].strip() if isinstance(segment, str) and "=" in segment else ""
        if segment is not None and not column:
            errors.append(node.error(f"`segment` must read column=value, got {segment!r}", "segment",
                                     hint='e.g. segment: "salary_range=20K - 40K"'))
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
        if config.get("sql"):
            verdict, count = _run_sql_check(ctx, config["sql"])
            results = [MetricResult(verdict, None, None, float(count))]
            fields: dict[str, Any] = {"metric": SQL_CHECK_METRIC}
        else:
            results = metric_results(ctx.warehouse.con, config)
            fields = {"store": config["store"], "metric": config["metric"]}
        severity = config.get("severity") or "error"
        verdicts = [apply_severity(r.verdict, severity) for r in results]
        checked_at = utcnow()  # one run, one timestamp: its rows are read back together
        ctx.warehouse.log_rows("check_results", [
            {"check": node.name, "invocation_id": ctx.invocation_id, **fields, "evaluation_id": r.evaluation_id,
             "feature": r.feature, "value": r.value, "status": str(v.status), "message": v.message,
             "checked_at": checked_at}
            for r, v in zip(results, verdicts)])
        worst = worst_status(v.status for v in verdicts) or CheckStatus.EMPTY
        return NodeOutcome(node_status(worst), _summary(worst, verdicts))


def _summary(worst: CheckStatus, verdicts: list[Verdict]) -> str:
    """The node's message: the result itself, or the count per status and the worst results."""
    if len(verdicts) == 1:
        return f"{worst}: {verdicts[0].message}"
    counts = {s: sum(v.status is s for v in verdicts) for s in CheckStatus}
    shown = ", ".join(f"{n} {s}" for s, n in counts.items() if n)
    worst_ones = [v.message for v in verdicts if v.status is worst]
    more = f" (and {len(worst_ones) - _SAMPLE} more)" if len(worst_ones) > _SAMPLE else ""
    return f"{worst}: {shown} of {len(verdicts)} results; {'; '.join(worst_ones[:_SAMPLE])}{more}"


def _run_sql_check(ctx: "BuildContext", query: str) -> tuple[Verdict, int]:
    con = ctx.warehouse.con
    (count,) = con.execute(f"SELECT count(*) FROM ({query}) AS failing_rows").fetchone()
    if not count:
        return check_rows(0, [], []), 0
    cursor = con.execute(f"SELECT * FROM ({query}) AS failing_rows LIMIT {_SAMPLE}")
    columns = [d[0] for d in cursor.description or []]
    return check_rows(int(count), columns, cursor.fetchall()), int(count)


KIND = CheckKind()
