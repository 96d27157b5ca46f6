"""Multiclass CBPE (one-vs-rest, as NannyML's) against a computation written out by hand, and
against the realised performance on data whose probabilities are calibrated."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn import metrics as skm
from sklearn.isotonic import IsotonicRegression

from mlmon.metrics.estimation_multiclass import (
    MULTICLASS_ESTIMATED_METRICS,
    estimate_multiclass,
    multiclass_estimates,
)

CLASSES = ["bus", "car", "train"]


def _calibrated_data(seed: int, n: int, k: int = 3, sharpness: float = 2.0) -> tuple[np.ndarray, np.ndarray]:
    """Probabilities that are calibrated by construction: each label is drawn from its row."""
    rng = np.random.default_rng(seed)
    logits = rng.normal(0, sharpness, (n, k))
    proba = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    y = (rng.random(n)[:, None] >= np.cumsum(proba, axis=1)).sum(axis=1)
    return proba, np.minimum(y, k - 1)


def _expected_auc(p: np.ndarray, score: np.ndarray) -> float:
    """Expected ROC AUC over all pairs: a row is a positive with chance p, a negative with
    1 − p; pairs ordered by score count 1, tied pairs (a row with itself included) one half."""
    above = score[:, None] > score[None, :]
    tied = score[:, None] == score[None, :]
    weight = p[:, None] * (1.0 - p[None, :])
    return float((weight * (above + 0.5 * tied)).sum() / (p.sum() * (1.0 - p).sum()))


def _by_hand(ref_proba, ref_y, cur_proba, cur_pred) -> dict[str, float]:
    k = ref_proba.shape[1]
    calibrated = np.column_stack([
        IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip").fit(ref_proba[:, c], ref_y == c)
        .predict(cur_proba[:, c]) for c in range(k)])
    calibrated /= calibrated.sum(axis=1, keepdims=True)
    n = len(cur_pred)
    f1s, aucs = [], []
    for c in range(k):
        p, as_c = calibrated[:, c], cur_pred == c
        tp, fp, fn = p[as_c].sum(), (1 - p[as_c]).sum(), p[~as_c].sum()
        f1s.append(tp / (tp + 0.5 * (fp + fn)))
        aucs.append(_expected_auc(p, cur_proba[:, c]))
    return {
        "estimated_accuracy": float(np.mean([calibrated[i, cur_pred[i]] for i in range(n)])),
        "estimated_f1_macro": float(np.mean(f1s)),
        "estimated_roc_auc_ovr": float(np.mean(aucs)),
    }


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_point_estimates_equal_the_computation_by_hand(seed: int) -> None:
    ref_proba, ref_y = _calibrated_data(seed, 600)
    cur_proba, _ = _calibrated_data(seed + 10, 400, sharpness=1.5)
    cur_pred = cur_proba.argmax(axis=1)
    found = estimate_multiclass(ref_proba, np.array(CLASSES, dtype=object)[ref_y], cur_proba,
                                np.array(CLASSES, dtype=object)[cur_pred], CLASSES)
    assert [m.metric for m in found] == list(MULTICLASS_ESTIMATED_METRICS)
    expected = _by_hand(ref_proba, ref_y, cur_proba, cur_pred)
    for m in found:
        assert m.value == pytest.approx(expected[m.metric], rel=1e-9), m.metric
        assert m.lower is not None and m.upper is not None and m.lower <= m.value <= m.upper


def test_ties_count_one_half_in_the_estimated_roc_auc() -> None:
    calibrated = np.array([[0.7, 0.3], [0.4, 0.6], [0.4, 0.6], [0.1, 0.9]])
    raw = np.array([[0.8, 0.2], [0.5, 0.5], [0.5, 0.5], [0.2, 0.8]])
    predicted = raw.argmax(axis=1)
    got = multiclass_estimates(calibrated, raw, predicted)
    expected = np.mean([_expected_auc(calibrated[:, c], raw[:, c]) for c in range(2)])
    assert got["estimated_roc_auc_ovr"] == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize("seed", [3, 4])
def test_estimates_are_close_to_the_realised_performance_on_calibrated_data(seed: int) -> None:
    ref_proba, ref_y = _calibrated_data(seed, 20_000)
    cur_proba, cur_y = _calibrated_data(seed + 100, 20_000, sharpness=1.2)  # a shifted population
    cur_pred = cur_proba.argmax(axis=1)
    got = {m.metric: m for m in estimate_multiclass(ref_proba, ref_y, cur_proba, cur_pred, [0, 1, 2])}
    realised = {
        "estimated_accuracy": skm.accuracy_score(cur_y, cur_pred),
        "estimated_f1_macro": skm.f1_score(cur_y, cur_pred, average="macro"),
        "estimated_roc_auc_ovr": skm.roc_auc_score(cur_y, cur_proba, multi_class="ovr", average="macro"),
    }
    for name, value in realised.items():
        assert abs(got[name].value - value) < 0.03, (name, got[name].value, value)
        assert got[name].lower <= value <= got[name].upper or abs(got[name].value - value) < 0.01, name


def test_labels_match_by_canonical_text_and_unusable_input_gives_none() -> None:
    ref_proba, ref_y = _calibrated_data(5, 500)
    cur_proba, _ = _calibrated_data(6, 300)
    as_int = estimate_multiclass(ref_proba, ref_y, cur_proba, cur_proba.argmax(axis=1), [0, 1, 2])
    as_float = estimate_multiclass(ref_proba, ref_y.astype(float), cur_proba,
                                   cur_proba.argmax(axis=1).astype(str), [0.0, 1.0, 2.0])
    assert [m.value for m in as_int] == [m.value for m in as_float]
    nothing = estimate_multiclass(ref_proba, np.full(500, None, dtype=object), cur_proba,
                                  cur_proba.argmax(axis=1), [0, 1, 2])
    assert {m.value for m in nothing} == {None}
    empty = estimate_multiclass(ref_proba, ref_y, np.empty((0, 3)), np.empty(0), [0, 1, 2])
    assert {m.value for m in empty} == {None}
