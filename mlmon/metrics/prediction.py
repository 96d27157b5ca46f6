"""Prediction drift (SPEC §4): what the model predicts now against what it predicted on its
reference, without ground truth. Counts run in SQL; the probability distribution reuses the
univariate machinery, so `prediction_psi` / `prediction_ks_pvalue` are PSI and KS exactly as
for a feature.
"""

from __future__ import annotations

from typing import Any, Sequence

from mlmon.metrics.performance import label_key
from mlmon.metrics.sqlstats import quote
from mlmon.metrics.types import MetricValue
from mlmon.metrics.univariate import chi2_pvalue, univariate_drift

__all__ = ["prediction_drift", "predicted_class_counts", "score_expression"]

_SCORE = "__mlmon_score"


def predicted_class_counts(con: Any, relation_sql: str, prediction_column: str, dialect: str = "duckdb") -> dict[str, int]:
    """Rows per predicted class, keyed like the model's class labels (`label_key`)."""
    column = quote(prediction_column, dialect)
    rows = con.execute(
        f"SELECT {column}, COUNT(*) FROM {relation_sql} WHERE {column} IS NOT NULL GROUP BY {column}"
    ).fetchall()
    counts: dict[str, int] = {}
    for value, count in rows:
        key = label_key(value)
        counts[key] = counts.get(key, 0) + int(count)
    return counts


def _counts_at_threshold(con: Any, relation_sql: str, proba_column: str, threshold: float,
                         positive: str, negative: str, dialect: str) -> dict[str, int]:
    """Binary predicted classes re-derived at `threshold`, so an evaluation's own threshold counts."""
    column = quote(proba_column, dialect)
    above, scored = con.execute(
        f"SELECT COUNT(*) FILTER (WHERE {column} >= {float(threshold)!r}), COUNT({column}) FROM {relation_sql}"
    ).fetchone()
    return {positive: int(above), negative: int(scored) - int(above)}


def _score_sql(columns: Sequence[str], dialect: str) -> str:
    quoted = [quote(c, dialect) for c in columns]
    return quoted[0] if len(quoted) == 1 else f"GREATEST({', '.join(quoted)})"


def _score_columns(classes: Sequence[Any] | None, proba_column: str | None, prediction_column: str) -> list[str]:
    if classes is None:  # regression: the predicted value is the score
        return [prediction_column]
    from mlmon.ml.scoring import proba_column as column_for

    return [proba_column] if proba_column else [column_for(c) for c in classes]


def score_expression(classes: Sequence[Any] | None, proba_column: str | None, prediction_column: str = "prediction",
                     dialect: str = "duckdb") -> str:
    """The score whose distribution `prediction_drift` compares, as a double SQL expression over
    a relation's columns; a caller that already runs the univariate engine can compare it in the
    same scans and hand the metrics in (`distribution`)."""
    return f"CAST({_score_sql(_score_columns(classes, proba_column, prediction_column), dialect)} AS DOUBLE)"


def _score_relation(relation_sql: str, columns: Sequence[str], dialect: str) -> str:
    """A relation with one `__mlmon_score` column: the score whose distribution is compared."""
    return f"(SELECT CAST({_score_sql(columns, dialect)} AS DOUBLE) AS {quote(_SCORE, dialect)} FROM {relation_sql})"


def _distribution_drift(con: Any, reference_sql: str, current_sql: str, columns: Sequence[str], dialect: str,
                        distribution: Sequence[MetricValue] | None = None) -> list[MetricValue]:
    found = distribution
    if found is None:
        found = [m for m in univariate_drift(con, _score_relation(reference_sql, columns, dialect),
                                             _score_relation(current_sql, columns, dialect), [_SCORE], [],
                                             dialect=dialect) if m.feature == _SCORE]
    by_name = {m.metric: m.value for m in found}
    return [MetricValue("prediction_psi", by_name.get("psi")),
            MetricValue("prediction_ks_pvalue", by_name.get("ks_pvalue"))]


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
    dialect: str = "duckdb",
) -> list[MetricValue]:
    """Per class `predicted_class_share` (the fugacity) and its `_reference`, then the global
    `prediction_psi` and `prediction_ks_pvalue` on the score and `prediction_chi2_pvalue` (the
    two-sample chi-square test of homogeneity, as for categorical features) on the
    predicted classes.

    The score is the positive-class probability for a binary model, the largest class
    probability for a multiclass one, and the prediction itself for a regressor. A binary
    model's classes are taken at `threshold` on both sides; a multiclass model's come from the
    `prediction` column. `distribution`, if given, holds the score's univariate metrics
    (`psi`, `ks_pvalue`), already computed on `score_expression`.
    """
    scores = _score_columns(classes, proba_column, prediction_column)
    if classes is None:  # regression: the predicted value is the score
        return _distribution_drift(con, reference_sql, current_sql, scores, dialect, distribution)
    if len(classes) == 2 and proba_column and positive_class is not None:
        positive = label_key(positive_class)
        negative = next(label_key(c) for c in classes if label_key(c) != positive)
        current, reference = (_counts_at_threshold(con, relation, proba_column, threshold, positive, negative, dialect)
                              for relation in (current_sql, reference_sql))
    else:
        current = predicted_class_counts(con, current_sql, prediction_column, dialect)
        reference = predicted_class_counts(con, reference_sql, prediction_column, dialect)
    n_cur, n_ref = sum(current.values()), sum(reference.values())
    metrics: list[MetricValue] = []
    for label in classes:
        key = label_key(label)
        metrics.append(MetricValue("predicted_class_share", current.get(key, 0) / n_cur if n_cur else None, key))
        metrics.append(MetricValue("predicted_class_share_reference",
                                   reference.get(key, 0) / n_ref if n_ref else None, key))
    full_reference = {label_key(c): reference.get(label_key(c), 0) for c in classes}
    metrics.append(MetricValue("prediction_chi2_pvalue", chi2_pvalue(full_reference, current)))
    return metrics + _distribution_drift(con, reference_sql, current_sql, scores, dialect, distribution)
