from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.compose import ColumnTransformer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler
from sklearn.tree import DecisionTreeClassifier

from mlmon.metrics.domain import (
    MAX_CATEGORIES,
    MIN_ROWS_PER_SIDE,
    DomainDriftResult,
    data_drift,
    importance_metrics,
    model_importance,
)
from mlmon.metrics.stats import binomial_pvalue_greater, wilson_interval
from mlmon.metrics.types import MetricValue

NUMERIC = ["a", "b", "c"]
CATEGORICAL = ["color"]


def frame(n: int, seed: int, *, b_shift: float = 0.0, colors: tuple[str, ...] = ("red", "green", "blue")) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "a": rng.normal(0.0, 1.0, n),
            "b": rng.normal(b_shift, 1.0, n),
            "c": rng.exponential(1.0, n),
            "color": rng.choice(colors, n),
        }
    )


@pytest.fixture(scope="module")
def same() -> DomainDriftResult:
    return data_drift(frame(1500, 1), frame(1500, 2), NUMERIC, CATEGORICAL)


def test_identical_distributions_look_like_a_coin(same: DomainDriftResult) -> None:
    assert same.value is not None
    assert abs(same.value - 0.5) < 0.06
    assert same.pvalue is not None and same.pvalue > 0.01
    assert same.reason is None


def test_interval_and_pvalue_come_from_the_correct_count(same: DomainDriftResult) -> None:
    assert same.n_per_side == 1500
    assert same.n_test == 900  # 30% of 3,000 rows, stratified
    assert same.value == same.n_correct / same.n_test
    assert (same.lower, same.upper) == wilson_interval(same.n_correct, same.n_test)
    assert same.pvalue == binomial_pvalue_greater(same.n_correct, same.n_test, 0.5)
    assert same.lower < same.value < same.upper


@pytest.fixture(scope="module")
def shifted() -> DomainDriftResult:
    return data_drift(frame(1500, 1), frame(1200, 2, b_shift=5.0), NUMERIC, CATEGORICAL, drift_sample=1000)


def test_sides_are_cut_to_the_drift_sample(shifted: DomainDriftResult) -> None:
    assert shifted.n_per_side == 1000
    assert shifted.n_test == 600


def test_shifted_numeric_feature_is_found(shifted: DomainDriftResult) -> None:
    result = shifted
    assert result.value is not None and result.value > 0.97
    assert result.lower is not None and result.upper is not None
    assert result.lower <= result.value <= result.upper
    assert result.pvalue is not None and result.pvalue < 1e-100
    assert max(result.importance, key=result.importance.get) == "b"
    assert sum(result.importance.values()) == pytest.approx(1.0)


def test_shifted_category_sums_its_one_hot_columns() -> None:
    # Current sees a new level the reference never had: it must be ignored, not crash.
    result = data_drift(frame(1500, 1), frame(1500, 2, colors=("red", "red", "purple")), NUMERIC, CATEGORICAL)
    assert result.value is not None and result.value > 0.75
    assert set(result.importance) == {"a", "b", "c", "color"}
    assert max(result.importance, key=result.importance.get) == "color"


def test_missingness_is_a_level_of_its_own() -> None:
    ref, cur = frame(1000, 1), frame(1000, 2)
    cur["color"] = cur["color"].astype(object)
    cur.loc[cur.index[:600], "color"] = None
    result = data_drift(ref, cur, NUMERIC, CATEGORICAL)
    assert result.value is not None and result.value > 0.75
    assert max(result.importance, key=result.importance.get) == "color"


def test_same_inputs_same_outputs() -> None:
    ref, cur = frame(200, 3), frame(300, 4, b_shift=0.5)
    first = data_drift(ref, cur, NUMERIC, CATEGORICAL, seed=7)
    second = data_drift(ref.copy(), cur.copy(), NUMERIC, CATEGORICAL, seed=7)
    assert first == second
    assert first.n_per_side == 200


def test_metrics_rows(same: DomainDriftResult) -> None:
    result = same
    rows = result.metrics()
    assert rows[0] == MetricValue("data_drift", result.value, lower=result.lower, upper=result.upper)
    assert rows[1] == MetricValue("data_drift_pvalue", result.pvalue)
    assert {(r.metric, r.feature) for r in rows[2:]} == {("drift_importance", f) for f in NUMERIC + CATEGORICAL}


@pytest.mark.parametrize(("n_ref", "n_cur"), [(5, 500), (500, MIN_ROWS_PER_SIDE - 1), (0, 0)])
def test_too_few_rows_gives_a_reason(n_ref: int, n_cur: int) -> None:
    result = data_drift(frame(n_ref, 1), frame(n_cur, 2), NUMERIC, CATEGORICAL)
    assert result.value is None and result.pvalue is None
    assert result.reason is not None and "too few" in result.reason
    assert [m.value for m in result.metrics()] == [None, None]


def test_no_shared_features_gives_a_reason() -> None:
    result = data_drift(frame(100, 1), frame(100, 2), ["missing"], [], drift_sample=50)
    assert result.value is None and result.skipped_features == ("missing",)


def test_degenerate_columns() -> None:
    ref, cur = frame(400, 1), frame(400, 2)
    for side in (ref, cur):
        side["all_nan"] = np.nan
        side["constant"] = 3.0
        side["flag"] = side["a"] > 0  # booleans count as numbers
        side["text_num"] = side["a"].round(1).astype(str)  # strings listed as numeric are coerced
        side["const_cat"] = "x"
    # An ID-like column: every level unique, far more levels than one-hot columns allowed.
    ref["id"] = [f"r{i}" for i in range(len(ref))]
    cur["id"] = [f"c{i}" for i in range(len(cur))]
    assert MAX_CATEGORIES < len(ref)
    ref["inf"] = np.where(np.arange(400) % 7 == 0, np.inf, 1.0)
    cur["inf"] = 1.0
    numeric = NUMERIC + ["all_nan", "constant", "flag", "text_num", "inf"]
    result = data_drift(ref, cur, numeric, CATEGORICAL + ["const_cat", "id", "absent"])
    assert result.value is not None and 0.35 < result.value < 0.65
    assert result.importance["all_nan"] == 0.0
    assert result.importance["constant"] == 0.0
    assert result.importance["const_cat"] == 0.0
    assert result.skipped_features == ("absent",)
    assert "id" in result.importance


def test_only_constant_features() -> None:
    ref = pd.DataFrame({"k": [1.0] * 50, "s": ["a"] * 50})
    result = data_drift(ref, ref.copy(), ["k"], ["s"])
    assert result.value is not None and 0.3 <= result.value <= 0.7
    assert result.importance == {"k": 0.0, "s": 0.0}


# model_importance -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def labelled() -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(0)
    X = frame(3000, 5)
    X["unused"] = rng.normal(size=len(X))
    y = (X["a"] + 0.2 * rng.normal(size=len(X)) > 0).astype(int).to_numpy()
    return X, y


def test_model_importance_of_a_pipeline(labelled: tuple[pd.DataFrame, np.ndarray]) -> None:
    X, y = labelled
    pre = ColumnTransformer(
        [("num", StandardScaler(), ["a", "b", "c"]), ("cat", OneHotEncoder(handle_unknown="ignore"), ["color"])]
    )
    model = make_pipeline(pre, LogisticRegression()).fit(X[["a", "b", "c", "color"]], y)
    importance = model_importance(model, X, y, ["a", "b", "c", "color", "unused"])
    assert set(importance) == {"a", "b", "c", "color", "unused"}
    assert max(importance, key=importance.get) == "a"
    assert importance["a"] > 0.3
    assert importance["unused"] == 0.0  # the model never reads it
    assert importance == model_importance(model, X, y, ["a", "b", "c", "color", "unused"])


def test_model_importance_without_feature_names(labelled: tuple[pd.DataFrame, np.ndarray]) -> None:
    X, y = labelled
    features = ["a", "b", "c"]
    model = DecisionTreeClassifier(max_depth=3, random_state=0).fit(X[features].to_numpy(), y)
    y_with_gaps = y.astype(float)
    y_with_gaps[:10] = np.nan  # rows without a target are left out
    importance = model_importance(model, X, y_with_gaps, features, seed=1)
    assert max(importance, key=importance.get) == "a"


def test_importance_metrics() -> None:
    assert importance_metrics({"a": 0.25, "b": 0}, "model_importance") == [
        MetricValue("model_importance", 0.25, feature="a"),
        MetricValue("model_importance", 0.0, feature="b"),
    ]
