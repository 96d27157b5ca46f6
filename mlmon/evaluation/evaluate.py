"""One evaluation's metrics: every family computed on the current rows against a reference.

Statistics over whole columns run inside DuckDB (univariate and prediction drift, CBPE's
counts); only small things reach pandas: the labelled columns for performance, bounded samples
for CBPE's calibration and band, and at most `drift_sample` rows per side for the domain
classifier.
"""

from __future__ import annotations

import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator

import duckdb
import pandas as pd
from sqlglot import exp

from mlmon.errors import NodeError
from mlmon.evaluation.quality import compare_features, unknown_labels
from mlmon.evaluation.reference import LABELLED, Reference, ReferenceCache, once
from mlmon.evaluation.sampling import draw_sample, table_columns
from mlmon.evaluation.task import measured_performance, task_metrics, whole_binary_performance
from mlmon.metrics.diagnostics import diagnose
from mlmon.metrics.domain import data_drift, importance_metrics
from mlmon.metrics.judgement import DriftSettings
from mlmon.metrics.prediction import class_counts
from mlmon.metrics.sqlsample import canonical_order
from mlmon.metrics.types import MetricValue
from mlmon.metrics.univariate import DriftResult, drift_and_profile
from mlmon.ml.scoring import PREDICTION_COLUMN, output_columns

__all__ = ["EvaluationPlan", "EvaluationResult", "KnownCounts", "labelled_rows", "reference_performance", "require_ground_truth", "evaluate", "timed"]

_DRIFT_SEED = 1337  # the domain classifier's seed (SPEC §4); its samples are drawn with it too
_SCORE = "__mlmon_score"  # the prediction drift's score, compared beside the features


@dataclass(frozen=True)
class EvaluationPlan:
    """What to evaluate: the model's task and outputs, and the features to compare."""

    store: str
    task: str  # binary | multiclass | regression
    target: str
    classes: tuple[Any, ...] | None
    positive_class: Any
    threshold: float
    numeric: tuple[str, ...]  # compared as numbers
    categorical: tuple[str, ...]  # compared as categories
    skip_performance: bool = False
    drift_sample: int = 10_000
    data_drift: bool = True  # false: no domain classifier (for many small evaluations, the largest cost)
    sample_key: tuple[str, ...] = ()  # columns identifying a row, for the domain classifier's samples
    drift: DriftSettings = DriftSettings()  # when a feature counts as drifted
    segments: tuple[str, ...] = ()  # columns whose values get their own metrics
    # The `prediction` column holds the model's own (logged) decisions: threshold metrics and
    # predicted class shares read it instead of cutting the probability at `threshold`.
    logged_prediction: bool = False

    @property
    def features(self) -> list[str]:
        return [*self.numeric, *self.categorical]

    @property
    def outputs(self) -> list[str]:
        return output_columns(self.classes, self.task)


@dataclass
class EvaluationResult:
    metrics: list[MetricValue]
    warnings: list[str]
    has_ground_truth: bool
    n_evaluated: int
    features: list[str]  # the features actually compared
    timings: dict[str, float] = field(default_factory=dict)


@contextmanager
def timed(timings: dict[str, float], family: str) -> Iterator[None]:
    """Add the seconds the block takes to `timings[family]`."""
    start = time.perf_counter()
    try:
        yield
    finally:
        timings[family] = timings.get(family, 0.0) + time.perf_counter() - start


def _q(name: str) -> exp.Column:
    return exp.column(name, quoted=True)


def labelled_rows(con: duckdb.DuckDBPyConnection, relation_sql: str, target: str) -> int:
    """Rows whose target is present (0 when the column is absent)."""
    if target not in {name for name, _ in table_columns(con, relation_sql)}:
        return 0
    query = exp.select(exp.Count(this=_q(target))).from_(relation_sql, dialect="duckdb")
    # fetchall, not fetchone: the result is finished, so the connection may register a table next.
    return int(con.execute(query.sql("duckdb")).fetchall()[0][0])


def require_ground_truth(plan: EvaluationPlan, dataset: str, n_labelled: int) -> None:
    """With `skip_performance: false`, data without target values is an error naming the option."""
    if plan.skip_performance or n_labelled > 0:
        return
    raise NodeError(
        f"data '{dataset}' has no values of target '{plan.target}'; set `skip_performance: true` on "
        f"evaluation '{plan.store}' if this data has no ground truth"
    )


def _data_drift(con: duckdb.DuckDBPyConnection, current_sql: str, reference: Reference, plan: EvaluationPlan,
                numeric: list[str], categorical: list[str], n_ref: int, n_cur: int,
                every_row: Callable[[], pd.DataFrame] | None = None) -> tuple[list[MetricValue], str | None]:
    """The domain classifier's metrics; `every_row`, if given, reads all of the current rows'
    features (in any order) without a query of their own."""
    features = [*numeric, *categorical]
    n = max(0, min(plan.drift_sample, n_ref, n_cur))
    # One seed per side: two sides holding the same rows must not be cut at the same rows.
    # The reference's side is the same for every period of a store (same size): drawn once.
    ref = once(reference.memo, ("drift_sample", tuple(features), n, plan.sample_key),
               lambda: draw_sample(con, reference.sql, features, n, _DRIFT_SEED, key=plan.sample_key, rows=n_ref))
    if every_row is not None and n == n_cur:  # the sample is every row: no draw, nothing to order on
        cur = canonical_order(every_row()[features])
    else:
        cur = draw_sample(con, current_sql, features, n, _DRIFT_SEED + 1, key=plan.sample_key, rows=n_cur)
    result = data_drift(ref, cur, numeric, categorical, plan.drift_sample, seed=_DRIFT_SEED)
    reason = None if result.reason is None else f"data_drift is not computed: {result.reason}"
    return result.metrics(), reason


@dataclass(frozen=True)
class KnownCounts:
    """What the caller counted of the current rows already (a period store, for all its
    periods in grouped scans): rows, labelled rows, and optionally the features' present
    values (`present_counts`), the target's rows per class (`class_counts`), and the
    predicted classes' rows, asked for only if needed (counted for every period at the first ask),
    and the features of every current row (`PeriodRows`), read only if the domain classifier
    takes them all."""

    n_rows: int
    n_labelled: int
    present: tuple[int, dict[str, int]] | None = None
    classes: dict[str, int] | None = None
    predicted: Callable[[], dict[str, int]] | None = None
    rows: Callable[[], pd.DataFrame] | None = None


def _shares(counts: dict[str, int]) -> dict[str, float]:
    total = float(sum(counts.values()))
    return {k: n / total for k, n in counts.items()} if total else {}


def evaluate(
    con: duckdb.DuckDBPyConnection,
    current_sql: str,
    reference: Reference,
    plan: EvaluationPlan,
    cache: ReferenceCache,
    load_pipeline: Callable[[], Any] | None = None,
    progress: Callable[[str], None] | None = None,
    drift: Callable[..., DriftResult] = drift_and_profile,
    estimated: Callable[[duckdb.DuckDBPyConnection, str, EvaluationPlan, Reference], list[MetricValue]] | None = None,
    performance: Callable[[duckdb.DuckDBPyConnection, str, EvaluationPlan, Reference], list[MetricValue]] | None = None,
    known: KnownCounts | None = None,
) -> EvaluationResult:
    """All metrics of one evaluation of the (sampled, scored) rows `current_sql`.

    `drift` computes the univariate drift (`drift_and_profile`'s signature): a period store
    hands in one that computed every period's in grouped scans (mlmon.metrics.grouped), and
    `estimated` its CBPE and `performance` its realised performance likewise, in place of the
    task's own. `known`: what the caller counted of `current_sql` already.

    Rows without the model's outputs (the model could not score them) get the input drift and
    data-quality metrics only: no performance, prediction drift or estimate.
    """
    say = progress or (lambda message: None)
    timings: dict[str, float] = {}
    n_cur = known.n_rows if known is not None else int(con.execute(
        exp.select(exp.Count(this=exp.Star())).from_(current_sql, dialect="duckdb").sql("duckdb")).fetchone()[0])
    if n_cur == 0:
        raise NodeError(f"evaluation '{plan.store}' has no rows to evaluate: the data (after sampling) is empty")
    warnings = list(reference.warnings)
    metrics: list[MetricValue] = []
    n_labelled = known.n_labelled if known is not None else labelled_rows(con, current_sql, plan.target)
    scored = set(plan.outputs) <= {name for name, _ in table_columns(con, current_sql)}
    compared = compare_features(con, current_sql, reference.sql, plan, reference.memo,
                                known.present if known is not None else None)
    numeric, categorical = compared.numeric, compared.categorical
    warnings += compared.notes

    truth: dict[str, int] = {}
    if n_labelled and plan.task != "regression":
        # Outcomes of a class the reference does not know are left out of performance (task.py).
        truth = known.classes if known is not None and known.classes is not None else class_counts(
            con, current_sql, plan.target)
        values, notes = unknown_labels(plan.target, plan.classes or (), truth)
        metrics += values
        warnings += notes
    if plan.features and not numeric and not categorical:
        raise _no_common_feature(con, current_sql, reference, plan)
    task = task_metrics(plan.task)
    predicted = known.predicted if known is not None else None
    measured: dict[str, float | None] = {}
    if not plan.skip_performance and n_labelled and scored:
        say(f"performance on {n_labelled:,} labelled rows")
        with timed(timings, "performance"):
            values = (performance or task.performance)(con, current_sql, plan, reference)
        metrics += values
        measured = {m.metric: m.value for m in values if m.feature is None}

    with timed(timings, "profile"):
        cached = cache.cached_profile(reference, numeric, categorical)
    # Univariate drift first: without a kept profile it finds the reference's in its own scans,
    # and it compares the prediction drift's score in the same scans as the features.
    say("univariate drift")
    score = task.score(plan) if scored else None
    with timed(timings, "univariate"):
        found = drift(con, reference.sql, current_sql, numeric, categorical, cached,
                                  extra={_SCORE: score} if score else None, settings=plan.drift,
                                  broken=compared.broken)
    univariate, profile = found.metrics, found.profile
    if cached is None:
        cache.keep_profile(reference, numeric, categorical, profile)

    if plan.data_drift:
        say(f"data drift on {len(numeric) + len(categorical)} features")
        with timed(timings, "data_drift"):
            drift, reason = _data_drift(con, current_sql, reference, plan, numeric, categorical, profile.n_rows, n_cur,
                                        known.rows if known is not None else None)
        metrics += drift
        warnings += [reason] if reason else []
    with timed(timings, "model_importance"):
        importances = cache.model_importance(reference, load_pipeline) or {}
    metrics += importance_metrics({f: v for f, v in importances.items() if f in plan.features}, "model_importance")
    metrics += univariate

    if scored:
        say("prediction drift")
        with timed(timings, "prediction"):
            metrics += task.prediction_drift(con, reference, current_sql, plan, found.extra.get(_SCORE), predicted)

    if task.estimated is not None and scored:
        if once(reference.memo, (LABELLED, plan.target), lambda: labelled_rows(con, reference.labelled_sql, plan.target)) == 0:
            warnings.append(f"estimated performance (CBPE) is skipped: the reference rows hold no value of "
                            f"target '{plan.target}' to calibrate on")
        else:
            say("estimated performance (CBPE)")
            with timed(timings, "estimation"):
                metrics += (estimated or task.estimated)(con, current_sql, plan, reference)

    with timed(timings, "diagnostics"):
        regression = plan.task == "regression"
        shares = _shares(truth) or (_shares(predicted() if predicted is not None else class_counts(
            con, current_sql, PREDICTION_COLUMN)) if scored and not regression else None)
        broken = {m.feature for m in compared.broken}
        missing = {m.feature: m.value for m in univariate
                   if m.metric == "missing_share" and m.feature and m.feature not in broken}
        warnings += diagnose(
            n_cur, shares, missing, compared.absent, measured.get("roc_auc", measured.get("roc_auc_ovr")),
            measured.get("accuracy"),
            max(_shares(truth).values()) if truth else None,
            {c: (len(p.categories), p.count) for c, p in profile.categorical.items() if c in categorical},
        )
    return EvaluationResult(metrics, list(dict.fromkeys(warnings)), n_labelled > 0, n_cur,
                            [*numeric, *categorical], timings)


def reference_performance(con: duckdb.DuckDBPyConnection, relation_sql: str, plan: EvaluationPlan) -> dict[str, float | None]:
    """The global performance metrics of a reference's labelled rows (for `<metric>_drift`);
    a binary task's counted in SQL, as the periods' own (equal to scikit-learn's)."""
    measure = whole_binary_performance if plan.task == "binary" else measured_performance
    return {m.metric: m.value for m in measure(con, relation_sql, plan) or [] if m.feature is None}


def _no_common_feature(con: duckdb.DuckDBPyConnection, current_sql: str, reference: Reference,
                       plan: EvaluationPlan) -> NodeError:
    """No feature to compare: name the columns each side lacks rather than fail inside a query."""
    current = {name for name, _ in table_columns(con, current_sql)}
    ref = {name for name, _ in table_columns(con, reference.sql)}
    missing = [f"{side} lacks {', '.join(cols)}" for side, cols in (
        (f"the reference ({reference.kind})", [f for f in plan.features if f not in ref]),
        ("the data", [f for f in plan.features if f not in current])) if cols]
    return NodeError(
        f"evaluation '{plan.store}' has no feature present in both the data and the reference: "
        + "; ".join(missing),
        hint="list the features both hold in `features:`, or choose another `reference:`")
