"""What differs between binary, multiclass and regression evaluations, in one dispatch.

An evaluation's engine (`evaluate.py`) asks `task_metrics(plan.task)` for the task's
performance, prediction drift, estimated performance and the score it compares in the
univariate scans; everything else (univariate drift, data drift, the store) is the same for
every task. A new way of getting a task (a model, logged predictions) only sets `plan.task`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable, Sequence

import duckdb
import numpy as np
import pandas as pd
from sqlglot import exp

from mlmon.evaluation.reference import Reference, once
from mlmon.evaluation.sampling import table_columns
from mlmon.metrics.estimation_multiclass import estimate_multiclass
from mlmon.metrics.estimation_sql import (
    MAX_CALIBRATION_ROWS,
    calibration_rows,
    estimate_performance_sql,
    grouped_estimates,
)
from mlmon.metrics.grouped import Groups
from mlmon.metrics.grouped_performance import grouped_binary_performance
from mlmon.metrics.labels import canonical_label
from mlmon.metrics.performance import classification_metrics, performance_drift, positive_label, regression_metrics
from mlmon.metrics.prediction import prediction_drift, score_expression
from mlmon.metrics.sqlsample import draw_hash_sample
from mlmon.metrics.task import TASKS, performance_metric_names
from mlmon.metrics.types import MetricValue
from mlmon.ml.scoring import PREDICTION_COLUMN, proba_column

if TYPE_CHECKING:
    from mlmon.evaluation.evaluate import EvaluationPlan

__all__ = ["GroupedEstimates", "GroupedPerformance", "whole_binary_performance", "TaskMetrics", "task_metrics", "measured_performance", "HEADLINE_METRICS"]

# Multiclass CBPE fetches probabilities row by row; beyond this many rows per side it works on
# a seeded hash sample (the estimate's sampling error there is far below its band).
MAX_ESTIMATION_ROWS = 200_000
_ESTIMATION_SEED = 0

Con = duckdb.DuckDBPyConnection


def _q(name: str) -> exp.Column:
    return exp.column(name, quoted=True)


def _fetch(con: Con, relation_sql: str, columns: Sequence[str], where: exp.Expression | None = None) -> pd.DataFrame:
    query = exp.select(*map(_q, columns)).from_(relation_sql, dialect="duckdb")
    return con.execute((query.where(where) if where is not None else query).sql("duckdb")).df()


def _labelled(target: str) -> exp.Expression:
    return _q(target).is_(exp.null()).not_()


def _probas(plan: "EvaluationPlan") -> list[str]:
    return [proba_column(c) for c in plan.classes or ()]


def _positive(plan: "EvaluationPlan") -> Any:
    return positive_label(list(plan.classes or ()), plan.positive_class)


# -- performance ---------------------------------------------------------------------------------


def measured_performance(con: Con, relation_sql: str, plan: "EvaluationPlan") -> list[MetricValue] | None:
    """The task's performance on a relation's labelled rows; None when it lacks the columns.
    With logged decisions (`plan.logged_prediction`) threshold metrics read the `prediction` column."""
    needed = [plan.target, PREDICTION_COLUMN] if plan.task == "regression" else [plan.target, *_probas(plan)]
    logged = plan.task != "regression" and plan.logged_prediction
    if not set(needed + ([PREDICTION_COLUMN] if logged else [])) <= {name for name, _ in table_columns(con, relation_sql)}:
        return None
    frame = _fetch(con, relation_sql, needed + ([PREDICTION_COLUMN] if logged else []), _labelled(plan.target))
    if plan.task == "regression":
        return regression_metrics(frame[plan.target], frame[PREDICTION_COLUMN])
    # An outcome of a class the model does not know is no negative: left out (and counted in
    # `unknown_label_share` by the engine).
    known = {canonical_label(c) for c in plan.classes or ()}
    codes, uniques = pd.factorize(frame[plan.target])
    frame = frame[np.array([canonical_label(u) in known for u in uniques] + [False], dtype=bool)[codes]]
    return classification_metrics(frame[plan.target], frame[needed[1:]].to_numpy(dtype=np.float64, na_value=np.nan),
                                  list(plan.classes or ()), plan.threshold, plan.positive_class,
                                  predicted=frame[PREDICTION_COLUMN] if logged else None)



def _performance(con: Con, current_sql: str, plan: "EvaluationPlan", reference: Reference) -> list[MetricValue]:
    return _with_drift(con, measured_performance(con, current_sql, plan) or [], plan, reference)


def _with_drift(con: Con, current: list[MetricValue], plan: "EvaluationPlan", reference: Reference) -> list[MetricValue]:
    # Per-class metrics need the reference's per-class values: measured on its rows. Global
    # metrics come from the reference's record (the version's test metrics, an evaluation's).
    before = None
    if plan.task == "multiclass":  # measured once per reference and build, whatever the periods
        key = ("performance", reference.sql, plan.target, tuple(plan.classes or ()), plan.threshold,
               plan.positive_class, plan.logged_prediction)
        before = once(reference.memo, key, lambda: measured_performance(con, reference.sql, plan))
    if before is None:
        before = [MetricValue(n, reference.performance.get(n)) for n in performance_metric_names(plan.task)]
    return current + performance_drift(current, before)


class GroupedPerformance:
    """Binary performance of every group of rows (a store's periods), computed for all groups
    in grouped SQL the first time one asks (`for_group(j)`: `TaskMetrics.performance`'s signature)."""

    def __init__(self, groups: Groups):
        self.groups = groups
        self._found: list[list[MetricValue]] | None = None

    def for_group(self, j: int) -> Callable[[Con, str, "EvaluationPlan", Reference], list[MetricValue]]:
        def performance(con: Con, current_sql: str, plan: "EvaluationPlan", reference: Reference) -> list[MetricValue]:
            if self._found is None:
                self._found = self._measure(con, plan)
            return _with_drift(con, self._found[j], plan, reference)
        return performance

    def _measure(self, con: Con, plan: "EvaluationPlan") -> list[list[MetricValue]]:
        # As measured_performance: no performance when the rows lack a column it reads.
        needed = [plan.target, *_probas(plan)] + ([PREDICTION_COLUMN] if plan.logged_prediction else [])
        if not set(needed) <= {name for name, _ in table_columns(con, self.groups.relation)}:
            return [[] for _ in self.groups.keys]
        return grouped_binary_performance(con, self.groups, plan.target, _probas(plan), list(plan.classes or ()),
                                          plan.threshold, plan.positive_class,
                                          PREDICTION_COLUMN if plan.logged_prediction else None)


def whole_binary_performance(con: Con, relation_sql: str, plan: "EvaluationPlan") -> list[MetricValue] | None:
    """`measured_performance` of a binary task in SQL (the relation as the only group of the
    grouped statements): nothing fetched, however many rows; None when it lacks the columns."""
    group = "__mlmon_whole"
    whole = Groups(f"(SELECT r.*, CAST(0 AS BIGINT) AS {group} FROM {relation_sql} AS r)", group, (0,), (0,))
    return GroupedPerformance(whole)._measure(con, plan)[0] or None


# -- prediction drift ----------------------------------------------------------------------------


def _score(plan: "EvaluationPlan") -> str | None:
    proba = proba_column(_positive(plan)) if plan.task == "binary" else None
    return score_expression(None if plan.task == "regression" else list(plan.classes or ()), proba, PREDICTION_COLUMN)


def _prediction_drift(con: Con, reference: Reference, current_sql: str, plan: "EvaluationPlan",
                      distribution: Sequence[MetricValue] | None,
                      predicted: Callable[[], dict[str, int]] | None = None) -> list[MetricValue]:
    positive = _positive(plan) if plan.task == "binary" else None
    return prediction_drift(
        con, reference.sql, current_sql, None if plan.task == "regression" else list(plan.classes or ()),
        # without a positive class the shares come from the `prediction` column: the logged decisions
        None if plan.logged_prediction else positive, plan.threshold,
        proba_column(positive) if positive is not None else None,
        # the reference's side is read once per reference and build, whatever the number of periods
        prediction_column=PREDICTION_COLUMN, distribution=distribution, memo=reference.memo, predicted=predicted,
    )


# -- estimated performance (CBPE) ----------------------------------------------------------------


def _matches(values: pd.Series, label: Any) -> np.ndarray:
    """Rows whose label is `label` (1, 1.0 and "1" alike), comparing each distinct value once."""
    wanted = canonical_label(label)
    codes, uniques = pd.factorize(values)
    hits = np.array([canonical_label(u) == wanted for u in uniques] + [False], dtype=bool)
    return hits[codes]  # code -1 (missing) picks the trailing False


def _calibration(con: Con, plan: "EvaluationPlan", reference: Reference) -> tuple[str, np.ndarray, np.ndarray]:
    """(probability column, reference probabilities, reference outcomes as 0/1) CBPE is
    calibrated on: read once per reference and build."""
    positive = _positive(plan)
    column = proba_column(positive)
    key = ("calibration", reference.labelled_sql, plan.target, column)
    ref = once(reference.memo, key, lambda: calibration_rows(con, reference.labelled_sql, plan.target, column))
    is_positive = _matches(ref[plan.target], positive).astype(np.int64)
    return column, ref[column].to_numpy(dtype=np.float64, na_value=np.nan), is_positive


def _estimated_binary(con: Con, current_sql: str, plan: "EvaluationPlan", reference: Reference) -> list[MetricValue]:
    """CBPE, calibrated on (at most MAX_CALIBRATION_ROWS of) the version's labelled held-out
    rows; the current rows are counted in SQL, never fetched whole."""
    column, proba, is_positive = _calibration(con, plan, reference)
    return estimate_performance_sql(con, current_sql, column, proba, is_positive, plan.threshold, positive_label=1)


class GroupedEstimates:
    """Binary CBPE of every group of rows (a store's periods) against one reference: computed
    for all groups the first time one asks (`for_group(j)`: `TaskMetrics.estimated`'s signature)."""

    def __init__(self, groups: Groups):
        self.groups = groups
        self._found: tuple[Reference, list[list[MetricValue]]] | None = None

    def for_group(self, j: int) -> Callable[[Con, str, "EvaluationPlan", Reference], list[MetricValue]]:
        def estimated(con: Con, current_sql: str, plan: "EvaluationPlan", reference: Reference) -> list[MetricValue]:
            if self._found is None or self._found[0] is not reference:
                column, proba, is_positive = _calibration(con, plan, reference)
                self._found = (reference, grouped_estimates(con, self.groups, column, proba, is_positive,
                                                            plan.threshold, positive_label=1))
            return self._found[1][j]
        return estimated


def _bounded(con: Con, relation_sql: str, columns: Sequence[str], max_rows: int,
             where: exp.Expression | None = None) -> pd.DataFrame:
    """The relation's rows (those meeting `where`), or a seeded sample of `max_rows` (mlmon.metrics.sqlsample)."""
    counted = exp.select(exp.Count(this=exp.Star())).from_(relation_sql, dialect="duckdb")
    rows = int(con.execute((counted.where(where) if where is not None else counted).sql("duckdb")).fetchone()[0])
    if rows <= max_rows:
        return _fetch(con, relation_sql, columns, where)
    return draw_hash_sample(con, relation_sql, list(columns), list(columns), max_rows, _ESTIMATION_SEED,
                            where=None if where is None else where.sql("duckdb"), rows=rows)


def _estimated_multiclass(con: Con, current_sql: str, plan: "EvaluationPlan",
                          reference: Reference) -> list[MetricValue]:
    probas, classes = _probas(plan), list(plan.classes or ())
    ref = _bounded(con, reference.labelled_sql, [plan.target, *probas], MAX_CALIBRATION_ROWS, _labelled(plan.target))
    has_prediction = PREDICTION_COLUMN in {name for name, _ in table_columns(con, current_sql)}
    cur = _bounded(con, current_sql, [*probas, PREDICTION_COLUMN] if has_prediction else probas, MAX_ESTIMATION_ROWS)
    current = cur[probas].to_numpy(dtype=np.float64, na_value=np.nan)
    # Without a logged prediction the model predicts its most probable class.
    predicted = (cur[PREDICTION_COLUMN].to_numpy(dtype=object) if has_prediction else
                 np.array(classes, dtype=object)[np.nan_to_num(current, nan=-1.0).argmax(axis=1)]
                 if len(current) else np.empty(0, dtype=object))
    return estimate_multiclass(ref[probas].to_numpy(dtype=np.float64, na_value=np.nan), ref[plan.target].to_numpy(),
                               current, predicted, classes)


@dataclass(frozen=True)
class TaskMetrics:
    """The task-specific families of an evaluation."""

    performance: Callable[[Con, str, "EvaluationPlan", Reference], list[MetricValue]]
    # the last argument: the current rows' predicted classes, when counted already (`KnownCounts`)
    prediction_drift: Callable[[Con, Reference, str, "EvaluationPlan", Sequence[MetricValue] | None,
                                Callable[[], dict[str, int]] | None], list[MetricValue]]
    score: Callable[["EvaluationPlan"], str | None]  # compared in the univariate scans, if any
    estimated: Callable[[Con, str, "EvaluationPlan", Reference], list[MetricValue]] | None  # CBPE


_TASK_METRICS: dict[str, TaskMetrics] = {
    "binary": TaskMetrics(_performance, _prediction_drift, _score, _estimated_binary),
    "multiclass": TaskMetrics(_performance, _prediction_drift, _score, _estimated_multiclass),
    "regression": TaskMetrics(_performance, _prediction_drift, _score, None),
}

# The metrics worth a build log line, per task.
HEADLINE_METRICS: dict[str, tuple[str, ...]] = {
    "binary": ("roc_auc", "accuracy", "estimated_roc_auc"),
    "multiclass": ("accuracy", "f1_macro", "estimated_accuracy"),
    "regression": ("rmse", "r2", "prediction_psi"),
}


def task_metrics(task: str) -> TaskMetrics:
    """The task's families; an unknown task is a programming error, not a user's."""
    try:
        return _TASK_METRICS[task]
    except KeyError:
        raise ValueError(f"unknown task {task!r}: one of {', '.join(TASKS)}") from None
