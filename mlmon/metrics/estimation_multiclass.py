"""Multiclass CBPE, one-vs-rest as NannyML's.

Each class's probability is calibrated on the labelled reference rows against "the label is this
class" (isotonic regression, as the binary estimate), and each row's calibrated probabilities
are then divided by their sum (uniform when all are 0), so they are again a distribution over
the classes. With p the calibrated matrix and the model's predicted class per row:

- `estimated_accuracy` = the mean over rows of p[row, predicted class];
- `estimated_f1_macro` = the mean over classes of the binary estimate of F1 for "this class
  against the rest" (expected TP = Σ p_c over rows predicted c, FP = Σ 1 − p_c over them,
  FN = Σ p_c over the others);
- `estimated_roc_auc_ovr` = the mean over classes of the expected ROC AUC of the model's own
  probability of c as the score and p_c as the chance of a positive (tied scores are one
  threshold), as the binary estimate and NannyML's current releases do.

The band simulates the labels a labelled sample would have (one draw per row from its
calibrated distribution) and takes the 2.5% and 97.5% percentiles of each metric realised.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from scipy.stats import rankdata
from sklearn.isotonic import IsotonicRegression

from mlmon.metrics.estimation import _CHUNK_CELLS, MAX_BAND_ROWS, _estimated_roc_auc
from mlmon.metrics.labels import canonical_label
from mlmon.metrics.types import MetricValue

__all__ = ["MULTICLASS_ESTIMATED_METRICS", "calibrate_multiclass", "estimate_multiclass", "multiclass_estimates"]

MULTICLASS_ESTIMATED_METRICS: tuple[str, ...] = (
    "estimated_accuracy",
    "estimated_f1_macro",
    "estimated_roc_auc_ovr",
)


def _as_matrix(proba: Any, k: int) -> np.ndarray:
    matrix = np.asarray(proba, dtype=np.float64)
    if matrix.ndim != 2 or matrix.shape[1] != k:
        raise ValueError(f"probabilities have shape {matrix.shape}, expected (n, {k})")
    return matrix


def _class_indices(labels: Any, classes: Sequence[Any]) -> np.ndarray:
    """Each label's position in `classes` by canonical text (-1: missing or not a class)."""
    index = {canonical_label(c): i for i, c in enumerate(classes)}
    series = pd.Series(np.asarray(labels, dtype=object).ravel())
    codes, uniques = pd.factorize(series)
    lookup = np.array([index.get(canonical_label(u), -1) for u in uniques] + [-1], dtype=np.int64)
    return lookup[codes]


def calibrate_multiclass(reference_proba: Any, reference_y: Any,
                         classes: Sequence[Any]) -> list[IsotonicRegression | None] | None:
    """One isotonic calibrator per class, fitted one-vs-rest on the labelled reference rows
    (rows with a known label and finite probabilities). A class that the reference never (or
    always) holds has no calibrator: its raw probability is kept. None without usable rows."""
    proba = _as_matrix(reference_proba, len(classes))
    y = _class_indices(reference_y, classes)
    keep = (y >= 0) & np.isfinite(proba).all(axis=1)
    proba, y = proba[keep], y[keep]
    if len(y) == 0:
        return None
    calibrators: list[IsotonicRegression | None] = []
    for c in range(len(classes)):
        is_class = (y == c).astype(np.float64)
        if is_class.min() == is_class.max():
            calibrators.append(None)
            continue
        calibrators.append(IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip").fit(proba[:, c], is_class))
    return calibrators


def _calibrated(calibrators: Sequence[IsotonicRegression | None], proba: np.ndarray) -> np.ndarray:
    columns = [proba[:, c] if cal is None else cal.predict(proba[:, c]) for c, cal in enumerate(calibrators)]
    calibrated = np.clip(np.column_stack(columns), 0.0, 1.0) if columns else proba
    totals = calibrated.sum(axis=1, keepdims=True)
    uniform = np.full_like(calibrated, 1.0 / calibrated.shape[1])
    return np.divide(calibrated, totals, out=uniform, where=totals > 0)


def multiclass_estimates(calibrated: np.ndarray, raw: np.ndarray, predicted: np.ndarray) -> dict[str, float | None]:
    """Point estimates from calibrated probabilities (n × k), the model's own ones (the ROC
    curves' scores) and the predicted class indices."""
    n, k = calibrated.shape
    if n == 0:
        return dict.fromkeys(MULTICLASS_ESTIMATED_METRICS)
    accuracy = float(calibrated[np.arange(n), predicted].mean())
    f1s, aucs = [], []
    for c in range(k):
        p, as_c = calibrated[:, c], predicted == c
        tp, fp, fn = float(p[as_c].sum()), float((1.0 - p[as_c]).sum()), float(p[~as_c].sum())
        f1s.append(2.0 * tp / (2.0 * tp + fp + fn) if 2.0 * tp + fp + fn > 0 else np.nan)
        auc = _estimated_roc_auc(p, raw[:, c])
        aucs.append(np.nan if auc is None else auc)
    return {
        "estimated_accuracy": accuracy,
        "estimated_f1_macro": _mean(f1s),
        "estimated_roc_auc_ovr": _mean(aucs),
    }


def _mean(values: Sequence[float]) -> float | None:
    finite = [v for v in values if np.isfinite(v)]
    return float(np.mean(finite)) if finite else None


def _nanmean_rows(matrix: np.ndarray) -> np.ndarray:
    """Each row's mean over its finite values (NaN for a row with none), without a warning."""
    finite = np.isfinite(matrix)
    counts = finite.sum(axis=1)
    totals = np.where(finite, matrix, 0.0).sum(axis=1)
    return np.divide(totals, counts, out=np.full(len(matrix), np.nan), where=counts > 0)


def _simulated(calibrated: np.ndarray, raw: np.ndarray, predicted: np.ndarray, n_draws: int,
               rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Each metric as realised on `n_draws` label vectors drawn row by row from `calibrated`,
    a batch of draws at a time (one matrix product per class and metric)."""
    n, k = calibrated.shape
    cumulative = np.cumsum(calibrated, axis=1)
    ranks = np.column_stack([rankdata(raw[:, c]) for c in range(k)])
    as_class = (predicted[:, None] == np.arange(k)[None, :]).astype(np.float64)  # n × k
    n_predicted = as_class.sum(axis=0)
    parts: dict[str, list[np.ndarray]] = {name: [] for name in MULTICLASS_ESTIMATED_METRICS}
    batch = max(1, _CHUNK_CELLS // max(n * k, 1))
    for start in range(0, n_draws, batch):
        u = rng.random((min(batch, n_draws - start), n))
        # A row's label is the first class whose cumulative probability exceeds its draw.
        y = np.zeros(u.shape, dtype=np.int64)
        for c in range(k - 1):
            y += u >= cumulative[None, :, c]
        parts["estimated_accuracy"].append((y == predicted[None, :]).mean(axis=1))
        f1, auc = np.empty((len(u), k)), np.empty((len(u), k))
        for c in range(k):
            truth = (y == c).astype(np.float64)
            tp, pos = truth @ as_class[:, c], truth.sum(axis=1)
            den = pos + n_predicted[c]  # 2·TP + FP + FN
            neg = n - pos
            with np.errstate(divide="ignore", invalid="ignore"):
                f1[:, c] = np.where(den > 0, 2.0 * tp / den, np.nan)
                # Mann-Whitney with average ranks: scikit-learn's ROC AUC, ties counting one half.
                auc[:, c] = np.where((pos > 0) & (neg > 0),
                                     (truth @ ranks[:, c] - pos * (pos + 1) / 2.0) / (pos * neg), np.nan)
        parts["estimated_f1_macro"].append(_nanmean_rows(f1))
        parts["estimated_roc_auc_ovr"].append(_nanmean_rows(auc))
    return {name: np.concatenate(values) for name, values in parts.items()}


def estimate_multiclass(
    reference_proba: Any,
    reference_y: Any,
    current_proba: Any,
    current_predicted: Any,
    classes: Sequence[Any],
    n_bootstrap: int = 200,
    seed: int = 0,
) -> list[MetricValue]:
    """Multiclass CBPE of the current rows (`current_proba` n × k in `classes` order, and the
    model's predicted class per row), calibrated on the labelled reference rows. Rows with a
    missing probability or a prediction that is no class are left out; with no usable
    reference or no current rows every value is None."""
    classes = list(classes)
    calibrators = calibrate_multiclass(reference_proba, reference_y, classes)
    proba = _as_matrix(current_proba, len(classes))
    predicted = _class_indices(current_predicted, classes)
    keep = np.isfinite(proba).all(axis=1) & (predicted >= 0)
    proba, predicted = proba[keep], predicted[keep]
    if calibrators is None or len(proba) == 0:
        return [MetricValue(name, None) for name in MULTICLASS_ESTIMATED_METRICS]
    # Rows in a fixed order (by their probabilities), so the band depends on the rows only.
    order = np.lexsort(proba.T[::-1])
    raw, predicted = proba[order], predicted[order]
    calibrated = _calibrated(calibrators, raw)
    point = multiclass_estimates(calibrated, raw, predicted)

    rng = np.random.default_rng(seed)
    n_full, centre, scale = len(calibrated), point, 1.0
    rows = np.arange(n_full)
    if n_full > MAX_BAND_ROWS:
        # The spread falls as 1/sqrt(n): simulate on a subsample, then scale its deviations.
        rows = np.sort(rng.choice(n_full, MAX_BAND_ROWS, replace=False))
        centre = multiclass_estimates(calibrated[rows], raw[rows], predicted[rows])
        scale = float(np.sqrt(MAX_BAND_ROWS / n_full))
    draws = _simulated(calibrated[rows], raw[rows], predicted[rows], n_bootstrap, rng)
    out = []
    for name in MULTICLASS_ESTIMATED_METRICS:
        value, mid, realised = point[name], centre[name], draws[name][np.isfinite(draws[name])]
        if value is None or mid is None or realised.size == 0:
            out.append(MetricValue(name, value))
            continue
        lo, hi = np.percentile(realised, [2.5, 97.5])
        lower, upper = value - (mid - lo) * scale, value + (hi - mid) * scale
        out.append(MetricValue(name, value, lower=float(max(0.0, min(lower, value))),
                               upper=float(min(1.0, max(upper, value)))))
    return out
