"""Performance metrics with ground truth, and their drift against a reference.

Every value is the one scikit-learn computes; a value sklearn cannot define on the data (ROC AUC
with a single class, precision with no positive prediction...) is None rather than a number
chosen by a warning, so a check on it reports EMPTY instead of passing or failing on a guess.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats
from sklearn import metrics as skm

from mlmon.errors import NodeError
from mlmon.metrics.labels import canonical_label
from mlmon.metrics.task import (
    BINARY_METRICS,
    MULTICLASS_CLASS_METRICS,
    MULTICLASS_METRICS,
    REGRESSION_METRICS,
)
from mlmon.metrics.types import MetricValue

__all__ = [
    "BINARY_METRICS",
    "MULTICLASS_METRICS",
    "MULTICLASS_CLASS_METRICS",
    "REGRESSION_METRICS",
    "positive_label",
    "classification_metrics",
    "regression_metrics",
    "performance_drift",
]


def positive_label(classes: Sequence[Any], positive_class: Any = None) -> Any:
    """The positive class of a binary model: `positive_class` if given, else the larger label."""
    if positive_class is None:
        try:
            return max(classes)
        except TypeError:  # mixed label types: sklearn's sorted order decides
            return classes[-1]
    wanted = canonical_label(positive_class)
    for label in classes:
        if canonical_label(label) == wanted:
            return label
    known = ", ".join(repr(canonical_label(c)) for c in classes)
    raise NodeError(f"positive_class {positive_class!r} is not a class of the model (classes: {known})")


def _is_missing(values: pd.Series) -> np.ndarray:
    return values.isna().to_numpy(dtype=bool)


def _class_index(y: pd.Series, classes: Sequence[Any]) -> np.ndarray:
    """Each label's column in `classes` (-1 for a label the model does not know)."""
    index = {canonical_label(c): i for i, c in enumerate(classes)}
    # label_key once per distinct value, not per row: a million labels hold two or three values.
    codes, uniques = pd.factorize(y)
    lookup = np.array([index.get(canonical_label(v), -1) for v in uniques] + [-1], dtype=np.int64)
    return lookup[codes]


def _safe(compute: Callable[[], float]) -> float | None:
    """A metric's value, or None when sklearn cannot define it on these rows."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            value = float(compute())
        except ValueError:
            return None
    return value if math.isfinite(value) else None


def classification_metrics(
    y_true: Sequence[Any] | np.ndarray | pd.Series,
    proba: np.ndarray,
    classes: Sequence[Any],
    threshold: float = 0.5,
    positive_class: Any = None,
    predicted: Sequence[Any] | np.ndarray | pd.Series | None = None,
) -> list[MetricValue]:
    """Binary or multiclass performance of `proba` (n × k, columns in `classes` order).

    Rows with a missing label or a missing probability are left out. Binary predictions are the
    positive class when its probability is at least `threshold`, unless `predicted` gives the
    predicted labels (a model's logged decisions): threshold metrics then use those. Multiclass precision, recall
    and F1 are macro averages and ROC AUC is one-vs-rest, as sklearn names them.
    """
    classes = list(classes)
    if len(classes) < 2:
        raise NodeError(f"a classifier needs at least 2 classes, the model has {len(classes)}")
    proba = np.asarray(proba, dtype=np.float64)
    if proba.ndim != 2 or proba.shape[1] != len(classes):
        raise NodeError(f"probabilities have shape {proba.shape}, expected (n, {len(classes)})")
    y = pd.Series(y_true).reset_index(drop=True)
    if len(y) != len(proba):
        raise NodeError(f"{len(y)} labels for {len(proba)} rows of probabilities")

    keep = ~_is_missing(y) & ~np.isnan(proba).any(axis=1)
    y_idx = _class_index(y[keep], classes)
    proba = proba[keep]
    logged = None if predicted is None else _class_index(pd.Series(predicted).reset_index(drop=True)[keep], classes)
    names = BINARY_METRICS if len(classes) == 2 else MULTICLASS_METRICS
    if len(y_idx) == 0:
        per_class = [] if len(classes) == 2 else [
            MetricValue(name, None, canonical_label(c)) for c in classes for name in MULTICLASS_CLASS_METRICS]
        return [MetricValue(name, None) for name in names] + per_class

    # Metrics are computed on class indices: sklearn's values do not depend on how labels are
    # spelled, and indices avoid int-vs-str mismatches between the model and the data.
    if len(classes) == 2:
        pos = classes.index(positive_label(classes, positive_class))
        truth = (y_idx == pos).astype(np.int64)
        score = proba[:, pos]
        if logged is None:
            predicted = (score >= threshold).astype(np.int64)
            predicted_idx = np.where(predicted == 1, pos, 1 - pos)
        else:
            predicted_idx = logged
            predicted = (logged == pos).astype(np.int64)
        both_classes = truth.min() != truth.max()
        values: dict[str, Callable[[], float]] = {
            # On indices, so a label the model does not know counts as a wrong prediction.
            "accuracy": lambda: skm.accuracy_score(y_idx, predicted_idx),
            "precision": lambda: skm.precision_score(truth, predicted, zero_division=np.nan),
            "recall": lambda: skm.recall_score(truth, predicted, zero_division=np.nan),
            "f1": lambda: skm.f1_score(truth, predicted, zero_division=np.nan),
            "roc_auc": lambda: skm.roc_auc_score(truth, score) if both_classes else math.nan,
            "log_loss": lambda: skm.log_loss(truth, np.c_[1.0 - score, score], labels=[0, 1]),
            "brier_score": lambda: skm.brier_score_loss(truth, score, pos_label=1),
            # With no positive row sklearn warns and returns 0, which reads as a real (awful) value.
            "average_precision": lambda: (
                skm.average_precision_score(truth, score) if truth.any() else math.nan
            ),
        }
    else:
        return _multiclass(y_idx, proba, classes, logged)
    return [MetricValue(name, _safe(values[name])) for name in names]


def _multiclass(y_idx: np.ndarray, proba: np.ndarray, classes: Sequence[Any],
                logged: np.ndarray | None = None) -> list[MetricValue]:
    """SPEC §4's multiclass metrics, then `precision` / `recall` / `f1` per class; threshold-free
    metrics read `proba`, the others the logged predicted classes when given."""
    predicted = proba.argmax(axis=1) if logged is None else logged
    labels = list(range(len(classes)))
    # A label the model does not know (index -1) counts as a wrong prediction in accuracy and
    # the averages, and leaves the probability-based metrics undefined.
    known = bool((y_idx >= 0).all())

    def averaged(score: Callable[..., Any], average: str) -> Callable[[], float]:
        # As sklearn's own call on the labels: over the classes present in truth or prediction,
        # a class with no predicted (or no true) row counting 0 in the average.
        return lambda: score(y_idx, predicted, average=average, zero_division=0.0)

    values: dict[str, Callable[[], float]] = {
        "accuracy": lambda: skm.accuracy_score(y_idx, predicted),
        "f1_macro": averaged(skm.f1_score, "macro"),
        "f1_weighted": averaged(skm.f1_score, "weighted"),
        "precision_macro": averaged(skm.precision_score, "macro"),
        "recall_macro": averaged(skm.recall_score, "macro"),
        "log_loss": lambda: skm.log_loss(y_idx, proba, labels=labels) if known else math.nan,
        "roc_auc_ovr": lambda: (
            skm.roc_auc_score(y_idx, _normalised(proba), multi_class="ovr", average="macro", labels=labels)
            if known else math.nan
        ),
    }
    out = [MetricValue(name, _safe(values[name])) for name in MULTICLASS_METRICS]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        precision, recall, f1, _ = skm.precision_recall_fscore_support(
            y_idx, predicted, labels=labels, average=None, zero_division=np.nan)
    for i, label in enumerate(classes):
        key = canonical_label(label)
        for name, column in zip(MULTICLASS_CLASS_METRICS, (precision, recall, f1)):
            value = float(column[i])
            out.append(MetricValue(name, value if math.isfinite(value) else None, key))
    return out


def _normalised(proba: np.ndarray) -> np.ndarray:
    # sklearn's multiclass AUC demands rows summing to 1 within a tight tolerance; float32
    # models can miss it by rounding alone.
    totals = proba.sum(axis=1, keepdims=True)
    return np.divide(proba, totals, out=np.zeros_like(proba), where=totals > 0)


def regression_metrics(
    y_true: Sequence[float] | np.ndarray | pd.Series,
    y_pred: Sequence[float] | np.ndarray | pd.Series,
) -> list[MetricValue]:
    """`mae`, `mse`, `rmse`, `r2`, `mape`, `pearson` on the rows where both values are present."""
    truth = pd.to_numeric(pd.Series(y_true).reset_index(drop=True), errors="coerce").to_numpy(
        dtype=np.float64, na_value=np.nan
    )
    pred = pd.to_numeric(pd.Series(y_pred).reset_index(drop=True), errors="coerce").to_numpy(
        dtype=np.float64, na_value=np.nan
    )
    if len(truth) != len(pred):
        raise NodeError(f"{len(truth)} targets for {len(pred)} predictions")
    keep = np.isfinite(truth) & np.isfinite(pred)
    truth, pred = truth[keep], pred[keep]
    if len(truth) == 0:
        return [MetricValue(name, None) for name in REGRESSION_METRICS]
    values: dict[str, Callable[[], float]] = {
        "mae": lambda: skm.mean_absolute_error(truth, pred),
        "mse": lambda: skm.mean_squared_error(truth, pred),
        "rmse": lambda: skm.root_mean_squared_error(truth, pred),
        # sklearn warns and returns NaN for a single row: R² needs a variance to compare with.
        "r2": lambda: skm.r2_score(truth, pred) if len(truth) >= 2 else math.nan,
        "mape": lambda: skm.mean_absolute_percentage_error(truth, pred),
        # Undefined (None) when either side is constant, as scipy's pearsonr warns.
        "pearson": lambda: stats.pearsonr(truth, pred).statistic if len(truth) >= 2 else math.nan,
    }
    return [MetricValue(name, _safe(values[name])) for name in REGRESSION_METRICS]


def performance_drift(current: Sequence[MetricValue], reference: Sequence[MetricValue]) -> list[MetricValue]:
    """`<metric>_drift` = current − reference for every metric both sides have (None if either is)."""
    ref = {(m.metric, m.feature): m.value for m in reference}
    drift: list[MetricValue] = []
    for m in current:
        key = (m.metric, m.feature)
        if key not in ref:
            continue
        before = ref[key]
        value = None if m.value is None or before is None else m.value - before
        drift.append(MetricValue(f"{m.metric}_drift", value, feature=m.feature))
    return drift
