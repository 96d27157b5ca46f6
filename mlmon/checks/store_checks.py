"""A metric check over an evaluation store: which evaluations, which metric rows, which bounds.

A check reads the store's latest evaluation and every other evaluation the same command
appended to the store (one per period), oldest first; in each, the metric of one feature, of
every feature (`feature: "*"`) or of the whole data, in one segment (`segment: "col=value"`) or
over all rows (segment NULL). Every value gives one result. Learnt bounds read the metric's
values in the evaluations before the checked one.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Mapping

from mlmon.checks.evaluate import Bounds, Verdict, check_bounds, check_values, empty
from mlmon.checks.learnt import History, LearntBounds, check_learnt, history_of
from mlmon.warehouse.tables import SYSTEM_SCHEMA

__all__ = ["ALL_FEATURES", "CheckedEvaluation", "MetricResult", "metric_history", "metric_results"]

ALL_FEATURES = "*"
_LARGEST = "1.7976931348623157e308"


@dataclass(frozen=True)
class CheckedEvaluation:
    evaluation_id: str
    created_at: datetime | None
    labels: dict[str, Any]

    def describe(self) -> str:
        shown = ", ".join(f"{k}={v}" for k, v in self.labels.items())
        return f"evaluation {shown or self.evaluation_id[:12]}"


@dataclass(frozen=True)
class MetricResult:
    """One value checked: its verdict and the `mlmon.check_results` fields it fills."""

    verdict: Verdict
    evaluation_id: str | None
    feature: str | None
    value: float | None


_LATEST = (
    f"WITH latest AS (SELECT evaluation_id, invocation_id FROM {SYSTEM_SCHEMA}.evaluations WHERE store = ? "
    "ORDER BY created_at DESC NULLS LAST, evaluation_id DESC LIMIT 1), "
    f"checked AS (SELECT e.evaluation_id, e.created_at, e.labels FROM {SYSTEM_SCHEMA}.evaluations AS e, latest "
    "WHERE e.store = ? AND (e.evaluation_id = latest.evaluation_id OR e.invocation_id = latest.invocation_id)) "
)


def _checked_metric_rows(con: Any, store: str, metric: str, feature: str | None, segment: str | None
                         ) -> list[tuple[CheckedEvaluation, list[tuple[str | None, float | None]]]]:
    """The checked evaluations (the store's latest and the others appended by the same
    command, oldest first), each with its (feature, value) rows of the metric, one per feature
    by feature name.

    One statement reads every metric of the checked evaluations, the same text for every check
    of the store: on Spark each statement is a job or more, and the connection answers the
    store's next checks from the first one's rows (nothing is written between them)."""
    rows = con.execute(
        _LATEST + "SELECT c.evaluation_id, c.created_at, c.labels, f.metric, f.segment, f.feature, f.value, "
        "f.evaluation_id IS NOT NULL FROM checked AS c LEFT JOIN (SELECT m.evaluation_id, m.metric, m.segment, "
        f"m.feature, max(m.value) AS value FROM {SYSTEM_SCHEMA}.metrics AS m JOIN checked AS k "
        "ON k.evaluation_id = m.evaluation_id GROUP BY m.evaluation_id, m.metric, m.segment, m.feature) AS f "
        "ON f.evaluation_id = c.evaluation_id "
        "ORDER BY c.created_at NULLS FIRST, c.evaluation_id, f.metric, f.segment NULLS FIRST, f.feature NULLS FIRST",
        [store, store]).fetchall()
    out: list[tuple[CheckedEvaluation, list[tuple[str | None, float | None]]]] = []
    for eid, created, labels, row_metric, row_segment, name, value, found in rows:
        if not out or out[-1][0].evaluation_id != str(eid):
            out.append((CheckedEvaluation(str(eid), created, _labels(labels)), []))
        if found and row_metric == metric and row_segment == segment and _is_checked_feature(name, feature):
            out[-1][1].append((None if name is None else str(name), None if value is None else float(value)))
    return out


def _is_checked_feature(name: str | None, feature: str | None) -> bool:
    return name is not None if feature == ALL_FEATURES else name == feature


def _labels(text: Any) -> dict[str, Any]:
    try:
        value = json.loads(text) if isinstance(text, str) and text else {}
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def _feature_filter(feature: str | None, column: str = "feature") -> tuple[str, list[Any]]:
    if feature == ALL_FEATURES:
        return f"{column} IS NOT NULL", []
    return f"{column} IS NOT DISTINCT FROM ?", [feature]


def metric_history(con: Any, store: str, metric: str, feature: str | None, segment: str | None,
                   before: CheckedEvaluation, limit: int) -> dict[str | None, History]:
    """Per feature: the metric's finite values in the up to `limit` evaluations of the store
    created before `before` that hold one, newest first."""
    if before.created_at is None:
        return {}
    where, params = _feature_filter(feature, "m.feature")
    rows = con.execute(
        f"SELECT m.feature, m.value, e.created_at FROM {SYSTEM_SCHEMA}.metrics AS m "
        f"JOIN {SYSTEM_SCHEMA}.evaluations AS e ON e.evaluation_id = m.evaluation_id "
        f"WHERE e.store = ? AND m.metric = ? AND m.segment IS NOT DISTINCT FROM ? AND {where} "
        f"AND m.value BETWEEN -{_LARGEST} AND {_LARGEST} "  # not NULL, NaN or infinite, on every engine
        "AND (e.created_at < ? OR (e.created_at = ? AND e.evaluation_id < ?)) "
        "QUALIFY row_number() OVER (PARTITION BY m.feature ORDER BY e.created_at DESC, e.evaluation_id DESC) <= ? "
        "ORDER BY m.feature, e.created_at DESC, e.evaluation_id DESC",
        [store, metric, segment, *params, before.created_at, before.created_at, before.evaluation_id, limit],
    ).fetchall()
    grouped: dict[str | None, list[tuple[float, datetime | None]]] = {}
    for name, value, created in rows:
        grouped.setdefault(name, []).append((float(value), created))
    return {name: history_of(values) for name, values in grouped.items()}


def _label(metric: str, feature: str | None, segment: str | None) -> str:
    label = metric if feature is None else f"{metric}[{feature}]"
    return label if segment is None else f"{label} in segment {segment}"


def metric_results(con: Any, config: Mapping[str, Any]) -> list[MetricResult]:
    """Every result of a metric check (store, metric, feature, segment, bounds or values)."""
    store, metric = config["store"], config["metric"]
    feature, segment = config.get("feature"), config.get("segment")
    evaluations = _checked_metric_rows(con, store, metric, feature, segment)
    if not evaluations:
        return [MetricResult(empty(f"store {store} has no evaluation yet"), None, feature, None)]
    learnt = LearntBounds.from_config(config)
    several = len(evaluations) > 1
    results = []
    for evaluation, found in evaluations:
        histories = metric_history(con, store, metric, feature, segment, evaluation, learnt.history) if learnt else {}
        if not found:
            where = "" if feature is None else (" for any feature" if feature == ALL_FEATURES
                                                 else f" for feature '{feature}'")
            where += "" if segment is None else f" in segment {segment}"
            which = evaluation.describe() + f" of {store}" if several else f"the latest evaluation of {store}"
            results.append(MetricResult(empty(f"no metric {metric}{where} in {which}"), evaluation.evaluation_id,
                                        feature, None))
            continue
        for name, value in found:
            label = _label(metric, name, segment)
            if config.get("values") is not None:
                verdict = check_values(label, value, config["values"])
            elif learnt is not None:
                verdict = check_learnt(label, value, learnt, histories.get(name, History(())),
                                       Bounds.from_config(config))
            else:
                verdict = check_bounds(label, value, Bounds.from_config(config))
            if several:
                verdict = Verdict(verdict.status, f"{evaluation.describe()}: {verdict.message}")
            results.append(MetricResult(verdict, evaluation.evaluation_id, name, value))
    return results
