"""Stored metric values equal independent computations with scikit-learn, scipy and pandas."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from sklearn import metrics as skm


@pytest.fixture(scope="module")
def built(mlmon) -> None:
    for store in ("ev_scored", "ev_threshold", "ev_raw"):
        result = mlmon("build", "-s", store)
        assert result.exit_code == 0, result.output


def metric_values(df, store: str) -> dict[tuple[str, str | None], tuple[float, float, float]]:
    frame = df("SELECT metric, feature, value, lower, upper FROM mlmon.metrics WHERE store = ?", [store])
    return {(r.metric, None if pd.isna(r.feature) else r.feature): (r.value, r.lower, r.upper)
            for r in frame.itertuples()}


def value(values, metric: str, feature: str | None = None) -> float:
    return values[(metric, feature)][0]


def psi_by_spec(ref: np.ndarray, cur: np.ndarray) -> float:
    edges = np.unique(np.quantile(ref, np.arange(1, 10) / 10))
    bins = lambda x: np.array([(edges < v).sum() for v in x])  # noqa: E731
    r = np.maximum(np.bincount(bins(ref), minlength=len(edges) + 1) / len(ref), 0.001)
    c = np.maximum(np.bincount(bins(cur), minlength=len(edges) + 1) / len(cur), 0.001)
    return float(np.sum((c - r) * np.log(c / r)))


def test_performance_equals_scikit_learn(built, df):
    rows = df("SELECT label, proba_1 FROM current_scored")
    values = metric_values(df, "ev_scored")
    y, p = rows["label"].to_numpy(), rows["proba_1"].to_numpy()
    predicted = (p >= 0.5).astype(int)
    expected = {
        "accuracy": skm.accuracy_score(y, predicted), "precision": skm.precision_score(y, predicted),
        "recall": skm.recall_score(y, predicted), "f1": skm.f1_score(y, predicted),
        "roc_auc": skm.roc_auc_score(y, p), "log_loss": skm.log_loss(y, np.c_[1 - p, p]),
        "brier_score": skm.brier_score_loss(y, p), "average_precision": skm.average_precision_score(y, p),
    }
    for name, number in expected.items():
        assert value(values, name) == pytest.approx(number, rel=1e-9), name
    test_metrics = json.loads(df("SELECT metrics FROM mlmon.model_versions WHERE model = 'clf'")["metrics"][0])
    assert value(values, "accuracy_drift") == pytest.approx(expected["accuracy"] - test_metrics["accuracy"])
    assert value(values, "roc_auc_drift") == pytest.approx(expected["roc_auc"] - test_metrics["roc_auc"])


def test_threshold_of_the_evaluation_is_used(built, df):
    rows = df("SELECT label, proba_1 FROM current_scored")
    values = metric_values(df, "ev_threshold")
    predicted = (rows["proba_1"] >= 0.3).astype(int)
    assert value(values, "recall") == pytest.approx(skm.recall_score(rows["label"], predicted))
    assert value(values, "predicted_class_share", "1") == pytest.approx(predicted.mean())


def test_univariate_drift_equals_scipy(built, df):
    ref = df("SELECT * FROM mlmon.ref_clf_v1")
    cur = df("SELECT * FROM current_scored")
    values = metric_values(df, "ev_scored")
    for feature in ("x1", "x2"):
        r, c = ref[feature].dropna().to_numpy(), cur[feature].dropna().to_numpy()
        ks = stats.ks_2samp(r, c)
        assert value(values, "ks_statistic", feature) == pytest.approx(ks.statistic, abs=1e-12)
        assert value(values, "ks_pvalue", feature) == pytest.approx(ks.pvalue, rel=1e-6)
        assert value(values, "wasserstein", feature) == pytest.approx(stats.wasserstein_distance(r, c), rel=1e-9)
        assert value(values, "psi", feature) == pytest.approx(psi_by_spec(r, c), rel=1e-9)
    assert value(values, "missing_share", "x2") == pytest.approx(cur["x2"].isna().mean())
    for feature in ("cat", "flag"):
        counts = ref[feature].astype(str).value_counts()
        observed = cur[feature].astype(str).value_counts().reindex(counts.index, fill_value=0)
        expected = stats.chi2_contingency([counts.to_numpy(), observed.to_numpy()]).pvalue
        assert value(values, "chi2_pvalue", feature) == pytest.approx(expected, rel=1e-9)


def test_prediction_drift_equals_pandas(built, df):
    ref = df("SELECT proba_1 FROM mlmon.ref_clf_v1")
    cur = df("SELECT proba_1 FROM current_scored")
    values = metric_values(df, "ev_scored")
    assert value(values, "predicted_class_share", "1") == pytest.approx((cur["proba_1"] >= 0.5).mean())
    assert value(values, "predicted_class_share", "0") == pytest.approx((cur["proba_1"] < 0.5).mean())
    assert value(values, "predicted_class_share_reference", "1") == pytest.approx((ref["proba_1"] >= 0.5).mean())
    ks = stats.ks_2samp(ref["proba_1"], cur["proba_1"]).pvalue
    assert value(values, "prediction_ks_pvalue") == pytest.approx(ks, rel=1e-6)


def test_data_drift_and_estimates_are_consistent(built, df):
    values = metric_values(df, "ev_scored")
    drift, lower, upper = values[("data_drift", None)]
    assert 0 <= lower <= drift <= upper <= 1
    assert 0 <= value(values, "data_drift_pvalue") <= 1
    features = {"x1", "x2", "cat", "flag", "const"}
    assert {f for (m, f) in values if m == "drift_importance"} == features
    importance = {f: v[0] for (m, f), v in values.items() if m == "model_importance"}
    assert set(importance) == features and min(importance.values()) >= 0
    assert importance["x1"] == max(importance.values()), "x1 carries most of the signal"
    for name in ("estimated_accuracy", "estimated_f1", "estimated_roc_auc"):
        estimate, low, high = values[(name, None)]
        assert low <= estimate <= high
    # The data are drawn like the training data: the estimate lands near the realised value.
    assert value(values, "estimated_accuracy") == pytest.approx(value(values, "accuracy"), abs=0.05)
    assert value(values, "estimated_roc_auc") == pytest.approx(value(values, "roc_auc"), abs=0.05)


def test_random_sample_metrics_are_computed_on_the_sampled_rows(built, df):
    evaluation = df("SELECT evaluation_id, n_rows, n_evaluated FROM mlmon.evaluations WHERE store = 'ev_raw'").iloc[0]
    assert (evaluation["n_rows"], evaluation["n_evaluated"]) == (1500, 400)
    kept = df("SELECT * FROM mlmon.rows_ev_raw WHERE evaluation_id = ?", [evaluation["evaluation_id"]])
    assert len(kept) == 400
    assert {"x1", "x2", "cat", "flag", "const", "label", "proba_0", "proba_1", "prediction"} <= set(kept.columns)
    current = df("SELECT x1 FROM current_scored")
    assert set(kept["x1"]) <= set(current["x1"]), "the sample is made of current rows"
    values = metric_values(df, "ev_raw")
    assert value(values, "roc_auc") == pytest.approx(skm.roc_auc_score(kept["label"], kept["proba_1"]))
    assert value(values, "predicted_class_share", "1") == pytest.approx((kept["proba_1"] >= 0.5).mean())
