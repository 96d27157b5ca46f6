"""Prediction drift (SPEC §4): what the model predicts now against what it predicted on its
reference, without ground truth. Counts run in SQL; the probability distribution reuses the
univariate machinery, so `prediction_psi` / `prediction_ks_pvalue` are PSI and KS exactly as
for a feature.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable, Sequence

from mlmon.metrics.labels import add_label_counts, canonical_label
from mlmon.metrics.sqlstats import quote
from mlmon.metrics.types import MetricValue
from mlmon.metrics.univariate import chi2_pvalue, univariate_drift

if TYPE_CHECKING:
    from mlmon.metrics.grouped import Groups

__all__ = [
    "class_counts",
    "class_share_drift",
    "grouped_class_counts",
    "classes_chi2_pvalue",
    "prediction_drift",
    "prediction_mean",
    "regression_prediction_drift",
    "score_expression",
]

_SCORE = "__mlmon_score"


def class_counts(con: Any, relation_sql: str, column: str, dialect: str = "duckdb") -> dict[str, int]:
    """Rows per class of `column` (a target or a predicted class; NULLs left out), keyed like the
    model's class labels (`canonical_label`). The values reach `canonical_label` through pandas,
    as a model's classes did in training, and as the grouped counts of a store's periods do: a
    DECIMAL 0.10 is the class `0.1` whichever path counts it."""
    quoted = quote(column, dialect)
    counts = con.execute(f"SELECT {quoted} AS label, COUNT(*) AS n FROM {relation_sql} "
                         f"WHERE {quoted} IS NOT NULL GROUP BY {quoted}").df()
    return add_label_counts({}, counts["label"], counts["n"])


def grouped_class_counts(con: Any, groups: Groups, column: str) -> list[dict[str, int]]:
    """`class_counts` of every group (in `groups.keys` order), in one grouped scan."""
    counts = con.execute(f"SELECT {groups.index_sql()} AS g, {quote(column)} AS label, COUNT(*) AS n "
                         f"FROM {groups.relation} AS t WHERE {groups.wanted()} AND {quote(column)} IS NOT NULL "
                         "GROUP BY 1, 2").df()
    out: list[dict[str, int]] = [{} for _ in groups.keys]
    for j, part in counts.groupby("g", sort=False):
        add_label_counts(out[int(j)], part["label"], part["n"])
    return out


def _counts_at_threshold(con: Any, relations: Sequence[str], proba_column: str, threshold: float,
                         positive: str, negative: str, dialect: str) -> list[dict[str, int]]:
    """Binary predicted classes re-derived at `threshold`, so an evaluation's own threshold
    counts: per relation, in one statement (on Spark each statement is a job)."""
    column = quote(proba_column, dialect)
    parts = [f"SELECT {side} AS side, COUNT(*) FILTER (WHERE {column} >= {float(threshold)!r}) AS above, "
             f"COUNT({column}) AS scored FROM {relation}" for side, relation in enumerate(relations)]
    rows = con.execute(" UNION ALL ".join(parts)).fetchall()
    counts = {int(side): (int(above), int(scored)) for side, above, scored in rows}
    return [{positive: counts[side][0], negative: counts[side][1] - counts[side][0]} for side in range(len(relations))]


def score_expression(classes: Sequence[Any] | None, proba_column: str | None, prediction_column: str = "prediction",
                     dialect: str = "duckdb") -> str | None:
    """The score whose distribution `prediction_drift` compares, as a double SQL expression over
    a relation's columns (the predicted value of a regressor, the positive-class probability of
    a binary model; None for a multiclass one, whose drift is on classes only). A caller that
    already runs the univariate engine can compare it in the same scans and hand the metrics in
    (`distribution`)."""
    column = prediction_column if classes is None else proba_column
    return None if column is None else f"CAST({quote(column, dialect)} AS DOUBLE)"


def _score_relation(relation_sql: str, column: str, dialect: str) -> str:
    """A relation with one `__mlmon_score` column: the score whose distribution is compared."""
    return f"(SELECT CAST({quote(column, dialect)} AS DOUBLE) AS {quote(_SCORE, dialect)} FROM {relation_sql})"


# (stored name, the univariate metric of the score it takes its value from), per task.
_DISTRIBUTION_METRICS: dict[str, tuple[tuple[str, str], ...]] = {
    "binary": (("prediction_psi", "psi"), ("prediction_ks_pvalue", "ks_pvalue")),
    "regression": (("prediction_ks_statistic", "ks_statistic"), ("prediction_ks_pvalue", "ks_pvalue"),
                   ("prediction_psi", "psi"), ("prediction_wasserstein", "wasserstein")),
}


def _distribution_drift(con: Any, reference_sql: str, current_sql: str, column: str, dialect: str,
                        names: Sequence[tuple[str, str]],
                        distribution: Sequence[MetricValue] | None = None) -> list[MetricValue]:
    found = distribution
    if found is None:
        found = [m for m in univariate_drift(con, _score_relation(reference_sql, column, dialect),
                                             _score_relation(current_sql, column, dialect), [_SCORE], [],
                                             dialect=dialect) if m.feature == _SCORE]
    by_name = {m.metric: m.value for m in found}
    return [MetricValue(stored, by_name.get(source)) for stored, source in names]


def prediction_mean(con: Any, relation_sql: str, prediction_column: str = "prediction",
                    dialect: str = "duckdb") -> float | None:
    """The mean predicted value over the rows whose prediction is a finite number."""
    value = f"CAST({quote(prediction_column, dialect)} AS DOUBLE)"
    finite = (f"{value} IS NOT NULL AND NOT ISNAN({value}) AND {value} > CAST('-Infinity' AS DOUBLE) "
              f"AND {value} < CAST('Infinity' AS DOUBLE)")
    row = con.execute(f"SELECT AVG(CASE WHEN {finite} THEN {value} END) FROM {relation_sql}").fetchone()
    return None if row is None or row[0] is None else float(row[0])


def regression_prediction_drift(con: Any, reference_sql: str, current_sql: str, prediction_column: str = "prediction",
                                *, distribution: Sequence[MetricValue] | None = None,
                                memo: dict[Any, Any] | None = None, dialect: str = "duckdb") -> list[MetricValue]:
    """KS, PSI and Wasserstein of the predicted value (as for a numeric feature), and its mean
    on both sides (`memo`: as for `prediction_drift`)."""
    out = _distribution_drift(con, reference_sql, current_sql, prediction_column, dialect,
                              _DISTRIBUTION_METRICS["regression"], distribution)
    memo = {} if memo is None else memo
    key = ("prediction_mean", reference_sql, prediction_column)
    if key not in memo:
        memo[key] = prediction_mean(con, reference_sql, prediction_column, dialect)
    return out + [MetricValue("prediction_mean", prediction_mean(con, current_sql, prediction_column, dialect)),
                  MetricValue("prediction_mean_reference", memo[key])]


def classes_chi2_pvalue(reference: dict[str, int], current: dict[str, int]) -> float | None:
    """The two-sample test of homogeneity of predicted-class counts over the model's classes
    (classes predicted on neither side dropped), as for a categorical feature (`chi2_pvalue`).
    None when a side has no prediction or one class is left."""
    return chi2_pvalue(reference, current)


def class_share_drift(classes: Sequence[Any], current: dict[str, int], reference: dict[str, int]) -> list[MetricValue]:
    """Per class `predicted_class_share` and `predicted_class_share_reference` (feature = the
    canonical class label), then `prediction_chi2_pvalue`: the two-sample test of the counts."""
    n_cur, n_ref = sum(current.values()), sum(reference.values())
    metrics: list[MetricValue] = []
    for label in classes:
        key = canonical_label(label)
        metrics.append(MetricValue("predicted_class_share", current.get(key, 0) / n_cur if n_cur else None, key))
        metrics.append(MetricValue("predicted_class_share_reference",
                                   reference.get(key, 0) / n_ref if n_ref else None, key))
    full_reference = {canonical_label(c): reference.get(canonical_label(c), 0) for c in classes}
    metrics.append(MetricValue("prediction_chi2_pvalue", classes_chi2_pvalue(full_reference, current)))
    return metrics


def prediction_drift(
    con: Any,
    reference_sql: str,
    current_sql: str,
    classes: Sequence[Any] | None,
    positive_class: Any,
    threshold: float,
    proba_column: str | None,
    prediction_column: str = "prediction",
    *,
    distribution: Sequence[MetricValue] | None = None,
    memo: dict[Any, Any] | None = None,
    predicted: Callable[[], dict[str, int]] | None = None,
    dialect: str = "duckdb",
) -> list[MetricValue]:
    """Prediction drift of any task (SPEC §4), by its classes: None is a regression (see
    `regression_prediction_drift`), two classes with a `proba_column` a binary model, else a
    multiclass one.

    Binary: the class shares taken at `threshold` on both sides, `prediction_chi2_pvalue`, and
    `prediction_psi` / `prediction_ks_pvalue` on the positive-class probability. Multiclass: the
    class shares of the `prediction` column and `prediction_chi2_pvalue` (no single score
    summarises k probabilities). `distribution`, if given, holds the score's univariate metrics,
    already computed on `score_expression`. `memo`, if given, a dict the caller keeps across
    calls comparing with the same reference (a store's periods): the reference's class counts
    (or mean) are read into it once. `predicted`, if given, gives the current rows' counts per
    predicted class (`class_counts`), counted already.
    """
    memo = {} if memo is None else memo
    if classes is None:
        return regression_prediction_drift(con, reference_sql, current_sql, prediction_column,
                                           distribution=distribution, memo=memo, dialect=dialect)
    if len(classes) == 2 and proba_column and positive_class is not None:
        positive = canonical_label(positive_class)
        negative = next(canonical_label(c) for c in classes if canonical_label(c) != positive)
        key = ("predicted_at_threshold", reference_sql, proba_column, float(threshold), positive, negative)
        # Both sides in one statement, unless the reference's side is known already.
        sides = (current_sql,) if key in memo else (current_sql, reference_sql)
        counted = _counts_at_threshold(con, sides, proba_column, threshold, positive, negative, dialect)
        if key not in memo:
            memo[key] = counted[1]
        return class_share_drift(classes, counted[0], memo[key]) + _distribution_drift(
            con, reference_sql, current_sql, proba_column, dialect, _DISTRIBUTION_METRICS["binary"], distribution)
    current = predicted() if predicted is not None else class_counts(con, current_sql, prediction_column, dialect)
    key = ("predicted_classes", reference_sql, prediction_column)
    if key not in memo:
        memo[key] = class_counts(con, reference_sql, prediction_column, dialect)
    return class_share_drift(classes, current, memo[key])
