"""Performance metrics against scikit-learn on random data, and their undefined cases."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
from scipy import stats
from sklearn import metrics as skm

from mlmon.errors import NodeError
from mlmon.metrics.performance import (
    BINARY_METRICS,
    MULTICLASS_CLASS_METRICS,
    MULTICLASS_METRICS,
    REGRESSION_METRICS,
    classification_metrics,
    performance_drift,
    positive_label,
    regression_metrics,
)
from mlmon.metrics.types import MetricValue


def as_dict(values: list[MetricValue]) -> dict[str, float | None]:
    return {m.metric: m.value for m in values}


@pytest.fixture(autouse=True)
def no_warnings():
    """Every test here fails if any warning (sklearn's included) leaks out."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        yield


def binary_data(seed: int, n: int = 300) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    p1 = np.clip(0.3 * y + rng.uniform(0, 0.7, n), 0.0, 1.0)
    return y, np.c_[1 - p1, p1]


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("threshold", [0.5, 0.3])
def test_binary_matches_sklearn(seed: int, threshold: float) -> None:
    y, proba = binary_data(seed)
    got = as_dict(classification_metrics(y, proba, [0, 1], threshold=threshold))
    pred = (proba[:, 1] >= threshold).astype(int)
    expected = {
        "accuracy": skm.accuracy_score(y, pred),
        "precision": skm.precision_score(y, pred),
        "recall": skm.recall_score(y, pred),
        "f1": skm.f1_score(y, pred),
        "roc_auc": skm.roc_auc_score(y, proba[:, 1]),
        "log_loss": skm.log_loss(y, proba),
        "brier_score": skm.brier_score_loss(y, proba[:, 1]),
        "average_precision": skm.average_precision_score(y, proba[:, 1]),
    }
    assert list(got) == list(BINARY_METRICS)
    for name, value in expected.items():
        assert got[name] == pytest.approx(value, rel=1e-12, abs=1e-12), name


def test_binary_string_labels_and_explicit_positive_class() -> None:
    y01, proba = binary_data(5)
    labels = np.array(["no", "yes"], dtype=object)
    y = labels[y01]
    # Default positive class is the larger label: "yes".
    got = as_dict(classification_metrics(y, proba, ["no", "yes"]))
    pred = np.where(proba[:, 1] >= 0.5, "yes", "no")
    assert got["precision"] == pytest.approx(skm.precision_score(y, pred, pos_label="yes"))
    assert got["roc_auc"] == pytest.approx(skm.roc_auc_score(y == "yes", proba[:, 1]))
    # With positive_class="no" the metrics are about column 0.
    got = as_dict(classification_metrics(y, proba, ["no", "yes"], positive_class="no"))
    pred = np.where(proba[:, 0] >= 0.5, "no", "yes")
    assert got["recall"] == pytest.approx(skm.recall_score(y, pred, pos_label="no"))
    assert got["accuracy"] == pytest.approx(skm.accuracy_score(y, pred))
    assert got["brier_score"] == pytest.approx(skm.brier_score_loss(y == "no", proba[:, 0]))
    assert got["average_precision"] == pytest.approx(skm.average_precision_score(y == "no", proba[:, 0]))


def test_labels_match_across_types() -> None:
    y, proba = binary_data(3)
    as_float = classification_metrics(y.astype(float), proba, [0, 1])
    as_text = classification_metrics(y.astype(str), proba, [0, 1], positive_class="1")
    assert as_dict(as_float) == as_dict(classification_metrics(y, proba, [0, 1]))
    assert as_dict(as_text) == as_dict(as_float)


def test_one_class_gives_none_for_undefined_metrics() -> None:
    y = np.zeros(50, dtype=int)
    rng = np.random.default_rng(0)
    p1 = rng.uniform(0, 0.4, 50)
    got = as_dict(classification_metrics(y, np.c_[1 - p1, p1], [0, 1]))
    assert got["roc_auc"] is None
    assert got["average_precision"] is None
    assert got["precision"] is None  # no positive prediction
    assert got["recall"] is None  # no positive row
    assert got["accuracy"] == 1.0
    assert got["log_loss"] == pytest.approx(skm.log_loss(y, np.c_[1 - p1, p1], labels=[0, 1]))
    assert got["brier_score"] == pytest.approx(skm.brier_score_loss(y, p1, pos_label=1))


def test_missing_labels_are_dropped_and_empty_gives_none() -> None:
    y, proba = binary_data(4, 40)
    with_nulls = np.array(y, dtype=object)
    with_nulls[:5] = None
    got = as_dict(classification_metrics(with_nulls, proba, [0, 1]))
    assert got == as_dict(classification_metrics(y[5:], proba[5:], [0, 1]))
    empty = as_dict(classification_metrics([], np.empty((0, 2)), [0, 1]))
    assert set(empty.values()) == {None}


def multiclass_data(seed: int, n: int = 400, k: int = 3) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    y = rng.integers(0, k, n)
    proba = rng.dirichlet(np.ones(k), n)
    proba[np.arange(n), y] += 0.5
    return y, proba / proba.sum(axis=1, keepdims=True)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_multiclass_matches_sklearn(seed: int) -> None:
    y, proba = multiclass_data(seed)
    labels = ["a", "b", "c"]
    y_text = np.array(labels, dtype=object)[y]
    found = classification_metrics(y_text, proba, labels)
    got = {m.metric: m.value for m in found if m.feature is None}
    pred = np.array(labels, dtype=object)[proba.argmax(axis=1)]
    assert list(got) == list(MULTICLASS_METRICS)
    close = {"rel": 1e-9, "abs": 1e-12}
    assert got["accuracy"] == pytest.approx(skm.accuracy_score(y_text, pred), **close)
    assert got["f1_macro"] == pytest.approx(skm.f1_score(y_text, pred, average="macro"), **close)
    assert got["f1_weighted"] == pytest.approx(skm.f1_score(y_text, pred, average="weighted"), **close)
    assert got["precision_macro"] == pytest.approx(skm.precision_score(y_text, pred, average="macro"), **close)
    assert got["recall_macro"] == pytest.approx(skm.recall_score(y_text, pred, average="macro"), **close)
    assert got["roc_auc_ovr"] == pytest.approx(
        skm.roc_auc_score(y_text, proba, multi_class="ovr", average="macro", labels=labels), **close)
    assert got["log_loss"] == pytest.approx(skm.log_loss(y_text, proba, labels=labels), **close)
    per_class = {(m.metric, m.feature): m.value for m in found if m.feature is not None}
    assert set(per_class) == {(m, c) for m in MULTICLASS_CLASS_METRICS for c in labels}
    for score, name in ((skm.precision_score, "precision"), (skm.recall_score, "recall"), (skm.f1_score, "f1")):
        expected = score(y_text, pred, labels=labels, average=None)
        for label, value in zip(labels, expected):
            assert per_class[(name, label)] == pytest.approx(value, **close)


def test_multiclass_labels_are_canonical_and_match_across_types() -> None:
    y, proba = multiclass_data(4)
    as_float = classification_metrics(y.astype(float), proba, [0, 1, 2])
    as_text = classification_metrics(y.astype(str), proba, [0.0, 1.0, 2.0])
    assert as_float == as_text
    assert {m.feature for m in as_float} == {None, "0", "1", "2"}


def test_multiclass_undefined_class_metrics_are_none_and_averages_as_sklearn() -> None:
    y = np.array([0, 0, 1, 1, 2, 2])
    proba = np.array([[0.8, 0.1, 0.1], [0.7, 0.2, 0.1], [0.6, 0.3, 0.1],
                      [0.2, 0.7, 0.1], [0.5, 0.4, 0.1], [0.1, 0.8, 0.1]])  # class 2 never predicted
    found = classification_metrics(y, proba, [0, 1, 2])
    per_class = {(m.metric, m.feature): m.value for m in found if m.feature is not None}
    assert per_class[("precision", "2")] is None  # no row predicted as 2: undefined, not 0
    assert per_class[("recall", "2")] == 0.0
    pred = proba.argmax(axis=1)
    got = as_dict([m for m in found if m.feature is None])
    assert got["precision_macro"] == pytest.approx(skm.precision_score(y, pred, average="macro", zero_division=0))
    assert got["f1_weighted"] == pytest.approx(skm.f1_score(y, pred, average="weighted", zero_division=0))


def test_multiclass_with_a_class_absent_from_y() -> None:
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 100)  # class 2 never occurs
    proba = rng.dirichlet([1, 1, 1], 100)
    got = as_dict([m for m in classification_metrics(y, proba, [0, 1, 2]) if m.feature is None])
    assert got["roc_auc_ovr"] is None
    assert got["log_loss"] == pytest.approx(skm.log_loss(y, proba, labels=[0, 1, 2]))


def test_bad_inputs() -> None:
    with pytest.raises(NodeError, match="positive_class"):
        classification_metrics([0, 1], np.array([[0.5, 0.5], [0.2, 0.8]]), [0, 1], positive_class=7)
    with pytest.raises(NodeError, match="shape"):
        classification_metrics([0, 1], np.array([0.5, 0.5]), [0, 1])
    assert positive_label([0, 1]) == 1
    assert positive_label(["no", "yes"], "no") == "no"


@pytest.mark.parametrize("seed", [0, 1])
def test_regression_matches_sklearn(seed: int) -> None:
    rng = np.random.default_rng(seed)
    y = rng.normal(10, 3, 200)
    pred = y + rng.normal(0, 1, 200)
    got = as_dict(regression_metrics(y, pred))
    assert list(got) == list(REGRESSION_METRICS)
    assert got["mae"] == pytest.approx(skm.mean_absolute_error(y, pred), rel=1e-9)
    assert got["mse"] == pytest.approx(skm.mean_squared_error(y, pred), rel=1e-9)
    assert got["rmse"] == pytest.approx(math.sqrt(skm.mean_squared_error(y, pred)))
    assert got["r2"] == pytest.approx(skm.r2_score(y, pred), rel=1e-9)
    assert got["mape"] == pytest.approx(skm.mean_absolute_percentage_error(y, pred), rel=1e-9)
    assert got["pearson"] == pytest.approx(stats.pearsonr(y, pred).statistic, rel=1e-9)


def test_regression_edge_cases() -> None:
    y = np.array([1.0, np.nan, 3.0, 4.0])
    pred = np.array([1.5, 2.0, np.nan, 3.0])
    got = as_dict(regression_metrics(y, pred))
    assert got["mae"] == pytest.approx(skm.mean_absolute_error([1.0, 4.0], [1.5, 3.0]))
    assert as_dict(regression_metrics([2.0], [1.0]))["r2"] is None
    assert set(as_dict(regression_metrics([], [])).values()) == {None}
    # Constant truth: sklearn's finite convention (0.0 when imperfect) is kept.
    assert as_dict(regression_metrics([1.0, 1.0], [1.0, 2.0]))["r2"] == skm.r2_score([1.0, 1.0], [1.0, 2.0])
    # A constant side leaves the correlation undefined.
    assert as_dict(regression_metrics([1.0, 1.0], [1.0, 2.0]))["pearson"] is None


def test_performance_drift() -> None:
    current = [MetricValue("accuracy", 0.8), MetricValue("roc_auc", None), MetricValue("f1", 0.5)]
    reference = [MetricValue("accuracy", 0.9), MetricValue("roc_auc", 0.7), MetricValue("log_loss", 0.3)]
    drift = {m.metric: m.value for m in performance_drift(current, reference)}
    assert drift == {"accuracy_drift": pytest.approx(-0.1), "roc_auc_drift": None}
