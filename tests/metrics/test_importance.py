"""Batched permutation importance equals scikit-learn's `permutation_importance`, call for call."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor
from sklearn.inspection import permutation_importance
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler
from sklearn.tree import DecisionTreeClassifier

from mlmon.metrics import importance as importance_module
from mlmon.metrics.domain import model_importance
from mlmon.metrics.importance import permutation_importance_means, score_function


def _data(n: int, seed: int) -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = pd.DataFrame({
        "a": rng.normal(size=n), "b": rng.normal(size=n), "c": rng.exponential(size=n),
        "color": rng.choice(["red", "green", "blue"], n),
    })
    X.loc[rng.random(n) < 0.05, "b"] = np.nan
    y = ((X["a"] + (X["color"] == "red") + 0.5 * rng.normal(size=n)) > 0.5).map({True: "yes", False: "no"}).to_numpy()
    return X, y


def _pipeline(estimator):
    pre = ColumnTransformer([("num", "passthrough", ["a", "b", "c"]),
                             ("cat", OneHotEncoder(handle_unknown="ignore", sparse_output=False), ["color"])])
    return make_pipeline(pre, estimator)


@pytest.mark.parametrize("seed", [0, 7])
@pytest.mark.parametrize("repeats", [1, 3, 5])
def test_equals_scikit_learn_for_a_classifier_pipeline(seed, repeats, monkeypatch):
    X, y = _data(600, seed)
    model = _pipeline(HistGradientBoostingClassifier(max_iter=30, random_state=0)).fit(X, y)
    expected = permutation_importance(model, X, y, n_repeats=repeats, random_state=seed).importances_mean
    monkeypatch.setattr(importance_module, "_BATCH_ROWS", 1_500)  # several model calls, not one
    got = permutation_importance_means(model, X, y, repeats, seed, score_function(model))
    np.testing.assert_array_equal(got, expected)
    assert np.abs(got).max() > 0.05, "some feature matters: the comparison is not between zeros"


def test_equals_scikit_learn_for_a_regressor_on_an_array():
    X, _ = _data(500, 3)
    values = X[["a", "b", "c"]].fillna(0).to_numpy()
    target = 2 * values[:, 0] - values[:, 2] + np.random.default_rng(1).normal(size=len(values))
    model = HistGradientBoostingRegressor(max_iter=20, random_state=0).fit(values, target)
    expected = permutation_importance(model, values, target, n_repeats=3, random_state=4).importances_mean
    got = permutation_importance_means(model, values, target, 3, 4, score_function(model))
    np.testing.assert_array_equal(got, expected)


def test_score_function_only_for_the_default_scores():
    from sklearn.metrics import accuracy_score, r2_score

    assert score_function(LogisticRegression()) is accuracy_score
    assert score_function(make_pipeline(StandardScaler(), HistGradientBoostingRegressor())) is r2_score

    class OwnScore(DecisionTreeClassifier):
        def score(self, X, y, sample_weight=None):
            return 0.0

    assert score_function(OwnScore()) is None


def test_model_importance_matches_scikit_learn_through_the_evaluation_entry_point():
    X, y = _data(2500, 11)  # over the 2,000-row cap: the same rows are drawn first
    model = _pipeline(HistGradientBoostingClassifier(max_iter=20, random_state=0)).fit(X, y)
    got = model_importance(model, X, y, ["a", "b", "c", "color"], seed=0)
    rows = np.sort(np.random.default_rng(0).choice(len(X), 2_000, replace=False))
    expected = permutation_importance(model, X.iloc[rows], y[rows], n_repeats=3, random_state=0).importances_mean
    assert got == {f: max(0.0, float(v)) for f, v in zip(["a", "b", "c", "color"], expected)}
