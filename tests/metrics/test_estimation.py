from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import pytest
from sklearn.isotonic import IsotonicRegression
from sklearn.metrics import accuracy_score, f1_score, precision_score, recall_score, roc_auc_score

from mlmon.metrics.estimation import (
    ESTIMATED_METRICS,
    MAX_BAND_ROWS,
    cbpe_from_calibrated,
    estimate_performance,
    fit_calibrator,
)
from mlmon.metrics.types import MetricValue

GOLDEN = Path(__file__).parents[1] / "golden" / "cbpe.json"  # independent CBPE reference values


def by_name(rows: list[MetricValue]) -> dict[str, MetricValue]:
    return {r.metric: r for r in rows}


def calibrated_sample(n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """A perfectly calibrated model: the score is the probability the label is drawn from."""
    p = rng.beta(2.0, 2.0, n)
    return p, (rng.random(n) < p).astype(int)


def test_golden_vectors() -> None:
    golden = json.loads(GOLDEN.read_text())
    proba = golden["calibrated_proba"]
    got = cbpe_from_calibrated(proba, proba, golden["threshold"])
    assert set(golden["expected"]) <= set(got)
    for name, expected in golden["expected"].items():
        assert got[name] == pytest.approx(expected, abs=1e-9), name


def test_known_labels_reproduce_scikit_learn_including_ties() -> None:
    # With p equal to the true label the expected confusion matrix is the realised one.
    rng = np.random.default_rng(3)
    scores = rng.integers(0, 8, 400) / 8.0  # 8 distinct values: heavy ties
    y = (rng.random(400) < scores).astype(int)
    got = cbpe_from_calibrated(y, scores, 0.5)
    pred = scores >= 0.5
    assert got["estimated_accuracy"] == pytest.approx(accuracy_score(y, pred), abs=1e-12)
    assert got["estimated_precision"] == pytest.approx(precision_score(y, pred), abs=1e-12)
    assert got["estimated_recall"] == pytest.approx(recall_score(y, pred), abs=1e-12)
    assert got["estimated_f1"] == pytest.approx(f1_score(y, pred), abs=1e-12)
    assert got["estimated_roc_auc"] == pytest.approx(roc_auc_score(y, scores), abs=1e-12)


def test_tied_scores_do_not_depend_on_row_order() -> None:
    rng = np.random.default_rng(4)
    scores = rng.integers(0, 5, 300) / 4.0
    p = np.clip(scores + rng.normal(0, 0.1, 300), 0, 1)
    order = rng.permutation(300)
    first = cbpe_from_calibrated(p, scores, 0.5)
    second = cbpe_from_calibrated(p[order], scores[order], 0.5)
    for name in ESTIMATED_METRICS:
        assert first[name] == pytest.approx(second[name], abs=1e-12)
    # All rows tied: the curve is the diagonal.
    assert cbpe_from_calibrated(p, np.full(300, 0.7), 0.5)["estimated_roc_auc"] == pytest.approx(0.5)


@pytest.fixture(scope="module")
def calibrated_case() -> tuple[dict[str, MetricValue], np.ndarray, np.ndarray]:
    rng = np.random.default_rng(11)
    ref_p, ref_y = calibrated_sample(5000, rng)
    cur_p, cur_y = calibrated_sample(3000, rng)
    return by_name(estimate_performance(ref_p, ref_y, cur_p)), cur_p, cur_y


def test_true_performance_lies_in_the_band(calibrated_case) -> None:
    est, cur_p, cur_y = calibrated_case
    pred = cur_p >= 0.5
    truth = {
        "estimated_accuracy": accuracy_score(cur_y, pred),
        "estimated_f1": f1_score(cur_y, pred),
        "estimated_roc_auc": roc_auc_score(cur_y, cur_p),
    }
    for name, realised in truth.items():
        row = est[name]
        assert row.lower is not None and row.upper is not None
        assert row.lower <= realised <= row.upper, (name, realised, row)


def test_band_holds_the_estimate_and_is_deterministic(calibrated_case) -> None:
    est, cur_p, _ = calibrated_case
    assert [m.metric for m in est.values()] == list(ESTIMATED_METRICS)
    for row in est.values():
        assert row.value is not None and row.feature is None
        assert 0.0 <= row.lower <= row.value <= row.upper <= 1.0
        assert row.upper - row.lower < 0.1
    rng = np.random.default_rng(11)
    ref_p, ref_y = calibrated_sample(5000, rng)
    assert by_name(estimate_performance(ref_p, ref_y, cur_p)) == est


def test_band_covers_the_truth_most_of_the_time() -> None:
    # The band is the labels' sampling spread only; the reference's calibration error comes on
    # top of it, so coverage runs a little under the nominal 95%.
    rng = np.random.default_rng(5)
    hits, trials = 0, 30
    for seed in range(trials):
        ref_p, ref_y = calibrated_sample(5000, rng)
        cur_p, cur_y = calibrated_sample(1000, rng)
        acc = by_name(estimate_performance(ref_p, ref_y, cur_p, seed=seed))["estimated_accuracy"]
        hits += acc.lower <= accuracy_score(cur_y, cur_p >= 0.5) <= acc.upper
    assert hits >= 0.8 * trials


def test_large_current_is_fast_and_band_scales() -> None:
    rng = np.random.default_rng(6)
    ref_p, ref_y = calibrated_sample(5000, rng)
    small = by_name(estimate_performance(ref_p, ref_y, rng.beta(2, 2, MAX_BAND_ROWS)))
    start = time.perf_counter()
    big = by_name(estimate_performance(ref_p, ref_y, rng.beta(2, 2, 5 * MAX_BAND_ROWS)))
    assert time.perf_counter() - start < 2.0
    for name in ("estimated_accuracy", "estimated_f1", "estimated_roc_auc"):
        ratio = (big[name].upper - big[name].lower) / (small[name].upper - small[name].lower)
        assert ratio == pytest.approx(5 ** -0.5, rel=0.35), name
        assert big[name].lower <= big[name].value <= big[name].upper


def test_calibration_corrects_an_overconfident_model() -> None:
    rng = np.random.default_rng(8)
    true_p = rng.beta(2, 2, 6000)
    y = (rng.random(6000) < true_p).astype(int)
    overconfident = np.clip(0.5 + 1.8 * (true_p - 0.5), 0, 1)
    est = by_name(estimate_performance(overconfident[:3000], y[:3000], overconfident[3000:]))
    realised = accuracy_score(y[3000:], overconfident[3000:] >= 0.5)
    naive = cbpe_from_calibrated(overconfident[3000:], overconfident[3000:])["estimated_accuracy"]
    assert abs(est["estimated_accuracy"].value - realised) < 0.03
    assert abs(naive - realised) > 0.05  # without calibration the estimate would be off


def test_single_class_reference_gives_none() -> None:
    rows = estimate_performance([0.2, 0.7, 0.9], [1, 1, 1], [0.1, 0.8])
    assert [r.metric for r in rows] == list(ESTIMATED_METRICS)
    assert all(r.value is None and r.lower is None and r.upper is None for r in rows)


@pytest.mark.parametrize("current", [[], [np.nan, np.nan]])
def test_empty_current_gives_none(current: list[float]) -> None:
    rows = estimate_performance([0.2, 0.7, 0.9, 0.4], [0, 1, 1, 0], current)
    assert all(r.value is None for r in rows)
    assert all(v is None for v in cbpe_from_calibrated([], [], 0.5).values())


def test_labels_probability_matrix_and_missing_values() -> None:
    rng = np.random.default_rng(9)
    p, y = calibrated_sample(400, rng)
    words = np.where(y == 1, "yes", "no").astype(object)
    words[:5] = None
    cur = np.column_stack([1 - p[:100], p[:100]])
    cur[0, 1] = np.nan
    rows = by_name(estimate_performance(np.column_stack([1 - p, p]), words, cur))
    assert rows["estimated_accuracy"].value is not None  # "yes" > "no": positive class
    # With the positive class named explicitly the smaller label can be the positive one.
    reverse = np.where(y == 1, "a_pos", "b_neg").astype(object)
    named = by_name(estimate_performance(p, reverse, p[:100], positive_label="a_pos"))
    assert named == by_name(estimate_performance(p, y, p[:100]))
    # Left to default, "b_neg" is positive: the score ranks it backwards, and isotonic calibration
    # (increasing only) flattens to the base rate instead of inverting it.
    assert by_name(estimate_performance(p, reverse, p[:100]))["estimated_roc_auc"].value == pytest.approx(0.5)
    with pytest.raises(ValueError, match="binary"):
        estimate_performance(p[:3], ["a", "b", "c"], p[:3])


def test_no_predicted_positive_leaves_precision_undefined() -> None:
    got = cbpe_from_calibrated([0.1, 0.3, 0.2], [0.1, 0.3, 0.2], 0.5)
    assert got["estimated_precision"] is None
    assert got["estimated_recall"] == 0.0
    assert got["estimated_accuracy"] == pytest.approx(0.8)
    rows = by_name(estimate_performance([0.1, 0.4, 0.6, 0.9], [0, 0, 1, 1], [0.1, 0.2, 0.3]))
    assert rows["estimated_precision"].value is None and rows["estimated_precision"].lower is None


def test_the_calibration_is_scikit_learns_fit_on_the_rows_whatever_their_order_or_label_type() -> None:
    """Bit for bit: IsotonicRegression fitted on the labelled rows as given, from shuffled rows,
    from numeric, boolean or object labels, with tied scores and missing values."""
    rng = np.random.default_rng(21)
    p = np.round(rng.beta(2.0, 3.0, 30_000), 3)  # ties with both labels
    y = (rng.random(p.size) < p).astype(np.int64)
    p[:40] = np.nan
    usable = np.isfinite(p)
    reference = IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip").fit(p[usable], y[usable].astype(float))
    shuffled = rng.permutation(p.size)
    with_gaps = np.where(np.arange(p.size) < 60, np.nan, y.astype(float))
    for scores, labels in ((p, y), (p[shuffled], y[shuffled]), (p, y.astype(bool)), (p, y.astype(object)),
                           (p, y.astype(float))):
        fitted = fit_calibrator(scores, labels)
        assert np.array_equal(fitted.X_thresholds_, reference.X_thresholds_)
        assert np.array_equal(fitted.y_thresholds_, reference.y_thresholds_)
    gaps = fit_calibrator(p, with_gaps)  # a missing label leaves its row out
    kept = usable & ~np.isnan(with_gaps)
    expected = IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip").fit(p[kept], with_gaps[kept])
    assert np.array_equal(gaps.y_thresholds_, expected.y_thresholds_)
    assert fit_calibrator(p, 1 - y, positive_label=0).y_thresholds_.tolist() == reference.y_thresholds_.tolist()
    assert fit_calibrator(p, np.full(p.size, 3)) is None
    with pytest.raises(ValueError, match="binary"):
        fit_calibrator(p[-3:], np.array([1, 2, 3]))
