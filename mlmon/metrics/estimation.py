"""Performance estimated without ground truth: confidence-based performance estimation (CBPE).

As NannyML's CBPE for binary classification: the positive-class probabilities are calibrated on
the reference (isotonic regression), and each current row then contributes its calibrated
probability p to the expected confusion matrix - a predicted positive is a true positive with
probability p, a predicted negative a false negative with probability p. The band is the spread
of the metric a labelled sample would realise if labels were drawn from the calibrated p.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from scipy.stats import rankdata
from sklearn.isotonic import IsotonicRegression

from mlmon.metrics.types import MetricValue

__all__ = [
    "ESTIMATED_METRICS",
    "MAX_BAND_ROWS",
    "band",
    "cbpe_from_calibrated",
    "estimate_performance",
    "fit_calibrator",
    "ratio",
]

ESTIMATED_METRICS: tuple[str, ...] = (
    "estimated_accuracy",
    "estimated_precision",
    "estimated_recall",
    "estimated_f1",
    "estimated_roc_auc",
)
# The band's width shrinks as 1/sqrt(n), so it is simulated on at most this many rows and scaled.
MAX_BAND_ROWS = 20_000
# Simulated label matrices are generated in slices of about this many cells to bound memory.
_CHUNK_CELLS = 4_000_000


def _as_float(values: Any) -> np.ndarray:
    return np.asarray(pd.to_numeric(pd.Series(np.asarray(values).ravel()), errors="coerce"), dtype=np.float64)


def _positive_column(proba: Any) -> np.ndarray:
    """Positive-class probability: a 1-D array as is, the last column of an (n, 2) array."""
    arr = np.asarray(proba)
    if arr.ndim == 2:
        arr = arr[:, -1]
    return _as_float(arr)


def _estimated_roc_auc(p: np.ndarray, scores: np.ndarray) -> float | None:
    order = np.argsort(-scores, kind="stable")
    s, q = scores[order], p[order]
    tps = np.cumsum(q)
    fps = np.arange(1, len(q) + 1) - tps
    # Tied scores are one threshold: only the last row of each run of equal scores is a point
    # of the curve, so the area does not depend on how ties happen to be ordered (a tie then
    # contributes a diagonal segment, as in scikit-learn's roc_curve).
    last_of_run = np.r_[np.flatnonzero(np.diff(s)), len(s) - 1]
    tps = np.r_[0.0, tps[last_of_run]]
    fps = np.r_[0.0, fps[last_of_run]]
    if tps[-1] <= 0.0 or fps[-1] <= 0.0:
        return None
    return float(np.trapezoid(tps / tps[-1], fps / fps[-1]))


def ratio(num: float, den: float) -> float | None:
    """num / den, None when den is 0 (a metric with no case to count)."""
    return float(num / den) if den > 0.0 else None


def cbpe_from_calibrated(
    calibrated_proba: Any, predictions_or_scores: Any, threshold: float = 0.5
) -> dict[str, float | None]:
    """Point estimates from already calibrated probabilities.

    `predictions_or_scores` is the model's uncalibrated score; a row is predicted positive when
    its score is >= `threshold`, and ROC AUC orders rows by it. Hard 0/1 predictions work too
    (with threshold in (0, 1]) but then every row ties for ROC AUC. A metric whose denominator
    is expected to be zero (no predicted positives, no expected positives) is None.
    """
    p = _as_float(calibrated_proba)
    s = _as_float(predictions_or_scores)
    if p.shape != s.shape:
        raise ValueError(f"calibrated_proba has {p.size} rows but predictions_or_scores has {s.size}")
    keep = np.isfinite(p) & np.isfinite(s)
    p, s = np.clip(p[keep], 0.0, 1.0), s[keep]
    if p.size == 0:
        return dict.fromkeys(ESTIMATED_METRICS)
    pred = s >= threshold
    tp = float(p[pred].sum())
    fp = float((1.0 - p[pred]).sum())
    fn = float(p[~pred].sum())
    tn = float((1.0 - p[~pred]).sum())
    return {
        "estimated_accuracy": (tp + tn) / p.size,
        "estimated_precision": ratio(tp, tp + fp),
        "estimated_recall": ratio(tp, tp + fn),
        "estimated_f1": ratio(2.0 * tp, 2.0 * tp + fp + fn),
        "estimated_roc_auc": _estimated_roc_auc(p, s),
    }


def _simulated_metrics(
    p: np.ndarray, s: np.ndarray, threshold: float, n_draws: int, rng: np.random.Generator
) -> dict[str, np.ndarray]:
    """Each metric as realised on `n_draws` label vectors y* ~ Bernoulli(p) (NaN if undefined)."""
    m = p.size
    pred = (s >= threshold).astype(np.float64)
    n_pred = float(pred.sum())
    # AUC from the Mann-Whitney statistic with average ranks (ties count one half), which equals
    # scikit-learn's roc_auc_score and needs only one matrix product per batch of draws.
    ranks = rankdata(s)
    tp_all, pos_all, rank_sum_all = [], [], []
    batch = max(1, _CHUNK_CELLS // max(m, 1))
    for start in range(0, n_draws, batch):
        y = (rng.random((min(batch, n_draws - start), m)) < p).astype(np.float64)
        tp_all.append(y @ pred)
        pos_all.append(y.sum(axis=1))
        rank_sum_all.append(y @ ranks)
    tp, pos, rank_sum = (np.concatenate(a) for a in (tp_all, pos_all, rank_sum_all))
    fp, fn = n_pred - tp, pos - tp
    tn = m - tp - fp - fn
    neg = m - pos
    with np.errstate(divide="ignore", invalid="ignore"):
        return {
            "estimated_accuracy": (tp + tn) / m,
            "estimated_precision": tp / n_pred if n_pred > 0 else np.full(tp.shape, np.nan),
            "estimated_recall": np.where(pos > 0, tp / pos, np.nan),
            "estimated_f1": np.where(2 * tp + fp + fn > 0, 2 * tp / (2 * tp + fp + fn), np.nan),
            "estimated_roc_auc": np.where(
                (pos > 0) & (neg > 0), (rank_sum - pos * (pos + 1) / 2.0) / (pos * neg), np.nan
            ),
        }


def band(
    p: np.ndarray,
    s: np.ndarray,
    threshold: float,
    point: dict[str, float | None],
    n_bootstrap: int,
    seed: int,
    n_full: int | None = None,
) -> dict[str, tuple[float | None, float | None]]:
    """The (lower, upper) band of every estimate.

    `p`, `s` are the calibrated and raw scores of the current rows, or of a sample of them when
    `n_full` (the number of rows the point estimates cover) is larger; more than MAX_BAND_ROWS
    rows are subsampled here.
    """
    rng = np.random.default_rng(seed)
    n_full = p.size if n_full is None else int(n_full)
    if p.size > MAX_BAND_ROWS:
        rows = np.sort(rng.choice(p.size, MAX_BAND_ROWS, replace=False))
        p, s = p[rows], s[rows]
    scale, centre = 1.0, point
    if n_full > p.size:
        # A metric's sampling spread falls as 1/sqrt(n): simulate on the subsample, then shrink
        # its deviations around the subsample's own estimate and move them to the full estimate.
        scale = float(np.sqrt(p.size / n_full))
        centre = cbpe_from_calibrated(p, s, threshold)
    draws = _simulated_metrics(p, s, threshold, n_bootstrap, rng)
    out: dict[str, tuple[float | None, float | None]] = {}
    for name in ESTIMATED_METRICS:
        value, mid, realised = point[name], centre[name], draws[name]
        realised = realised[np.isfinite(realised)]
        if value is None or mid is None or realised.size == 0:
            out[name] = (None, None)
            continue
        lo, hi = np.percentile(realised, [2.5, 97.5])
        lower = value - (mid - lo) * scale
        upper = value + (hi - mid) * scale
        # The estimate is an expectation, the band percentiles of a skewed distribution: widen
        # the band to hold the estimate so that lower <= value <= upper always reads sensibly.
        out[name] = (float(max(0.0, min(lower, value))), float(min(1.0, max(upper, value))))
    return out


def _labels(reference_y: Any) -> tuple[np.ndarray, np.ndarray]:
    """(labels, whether each is present). Numbers and booleans stay numeric arrays (a million
    Python objects cost more than the fit); anything else is compared as Python objects."""
    values = np.asarray(reference_y)
    if values.dtype.kind in "biuf":
        values = values.ravel()
        return values, ~np.isnan(values) if values.dtype.kind == "f" else np.ones(values.shape, dtype=bool)
    labels = pd.Series(np.asarray(reference_y, dtype=object).ravel())
    return labels.to_numpy(), labels.notna().to_numpy()


def fit_calibrator(reference_proba: Any, reference_y: Any, positive_label: Any = None) -> IsotonicRegression | None:
    """The isotonic map from raw to calibrated positive-class probability, fitted on the labelled
    reference rows (those with a probability and a label); None when the reference cannot
    calibrate: no rows, a single class, or more than two labels (ValueError)."""
    ref_p = _positive_column(reference_proba)
    labels, present = _labels(reference_y)
    if len(labels) != len(ref_p):
        raise ValueError(f"reference_proba has {len(ref_p)} rows but reference_y has {len(labels)}")
    keep = np.isfinite(ref_p) & present
    ref_p, labels = ref_p[keep], labels[keep]
    classes = sorted(pd.unique(labels).tolist())
    if len(classes) > 2:
        raise ValueError(f"estimated performance is for binary classification; reference has {len(classes)} labels")
    positive = positive_label if positive_label is not None else (classes[-1] if classes else None)
    is_positive = np.asarray(labels == positive, dtype=bool)
    if is_positive.all() or not is_positive.any():
        return None
    # The fit depends on the rows, not their order, and sorts them (a stable sort, slow on
    # shuffled scores, linear on sorted ones): an unstable sort of the scores first costs less.
    order = np.argsort(ref_p)
    calibrator = IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip")
    return calibrator.fit(ref_p[order], is_positive[order].astype(np.float64))


def estimate_performance(
    reference_proba: Any,
    reference_y: Any,
    current_proba: Any,
    threshold: float = 0.5,
    n_bootstrap: int = 200,
    seed: int = 0,
    positive_label: Any = None,
) -> list[MetricValue]:
    """CBPE estimates for the current rows, calibrated on the labelled reference rows.

    Probabilities are the positive class's (1-D, or an (n, 2) array whose last column is used);
    the positive class is `positive_label`, else the larger of the reference's two labels. Rows
    with a missing probability or label are left out. With no usable reference (empty, or a
    single class, which leaves nothing to calibrate against) or no current rows, every value is
    None.
    """
    calibrator = fit_calibrator(reference_proba, reference_y, positive_label)
    cur_p = _positive_column(current_proba)
    # Sorted: the band draws per position, and must depend on the scores, not on their order.
    cur_p = np.sort(cur_p[np.isfinite(cur_p)])
    if cur_p.size == 0 or calibrator is None:
        return [MetricValue(name, None) for name in ESTIMATED_METRICS]
    calibrated = np.clip(calibrator.predict(cur_p), 0.0, 1.0)

    point = cbpe_from_calibrated(calibrated, cur_p, threshold)
    result = band(calibrated, cur_p, threshold, point, n_bootstrap, seed)
    return [
        MetricValue(name, point[name], lower=result[name][0], upper=result[name][1])
        for name in ESTIMATED_METRICS
    ]
