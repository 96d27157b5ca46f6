"""Estimators from import paths, automatic preprocessing and column typing."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from mlmon.errors import MlmonError, NodeError
from mlmon.ml.estimators import (
    EstimatorError,
    build_estimator,
    column_kinds,
    make_pipeline,
    pipeline_columns,
    prepare_features,
    task_of,
)


def test_build_estimator_with_params() -> None:
    est = build_estimator("sklearn.ensemble.HistGradientBoostingClassifier", {"max_iter": 20})
    assert isinstance(est, HistGradientBoostingClassifier)
    assert est.max_iter == 20


@pytest.mark.parametrize(
    ("path", "params", "message", "hint"),
    [
        ("sklearn.ensemble.HistGradientBoostingClasifier", {}, "has no estimator", "sklearn.ensemble.HistGradientBoostingClassifier"),
        ("sklearn.HistGradientBoostingClassifier", {}, "has no estimator", "sklearn.ensemble.HistGradientBoostingClassifier"),
        ("sklearn.ensembl.RandomForestClassifier", {}, "cannot import module", "sklearn.ensemble.RandomForestClassifier"),
        ("sklearn.ensemble.HistGradientBoostingClassifier", {"max_iters": 5}, "no parameter 'max_iters'", "max_iter"),
        ("sklearn.ensemble.HistGradientBoostingClassifier", {"max_iter": -1}, "bad params", None),
        ("LogisticRegression", {}, "not an import path", None),
        ("nosuchpackage.Model", {}, "cannot import module", None),
    ],
)
def test_build_estimator_errors(path: str, params: dict, message: str, hint: str | None) -> None:
    with pytest.raises(EstimatorError, match=message) as info:
        build_estimator(path, params)
    assert isinstance(info.value, NodeError) and isinstance(info.value, MlmonError)
    if hint:
        assert hint in (info.value.hint or "")


def test_build_estimator_refuses_non_estimators() -> None:
    with pytest.raises(EstimatorError, match="did not give an estimator"):
        build_estimator("collections.OrderedDict", {})


def test_column_kinds() -> None:
    frame = pd.DataFrame(
        {
            "n": [1.0, None],
            "i": [1, 2],
            "s": ["a", None],
            "b": [True, False],
            "cat": pd.Categorical(["x", "y"]),
            "zip": [75001, 69001],
            "when": pd.to_datetime(["2024-01-01", "2024-01-02"]),
        }
    )
    features = ["n", "i", "s", "b", "cat", "zip"]
    assert column_kinds(frame, features, ["zip"]) == (["n", "i"], ["s", "b", "cat", "zip"])
    with pytest.raises(NodeError, match="'when'"):
        column_kinds(frame, features + ["when"])
    assert column_kinds(frame, ["when"], strict=False) == ([], ["when"])
    with pytest.raises(NodeError, match="not features"):
        column_kinds(frame, features, ["zipp"])


def test_prepare_features_canonical_values() -> None:
    frame = pd.DataFrame(
        {
            "x": pd.array([1, None, 3], dtype="Int64"),
            "code": [1.0, 2.0, np.nan],  # integer codes read back as floats
            "flag": pd.array([True, None, False], dtype="boolean"),
        }
    )
    out = prepare_features(frame, ["x"], ["code", "flag"])
    assert out["x"].dtype == np.float64 and np.isnan(out["x"][1])
    assert out["code"].tolist()[:2] == ["1", "2"] and pd.isna(out["code"][2])
    assert out["flag"].tolist()[0] == "true" and pd.isna(out["flag"][1])
    with pytest.raises(NodeError, match="'x'.*as a number"):
        prepare_features(pd.DataFrame({"x": ["a", "b"]}), ["x"], [])


def test_make_pipeline_and_user_pipeline_passthrough() -> None:
    pipe = make_pipeline(LogisticRegression(), ["a"], ["c"])
    assert pipeline_columns(pipe) == (["a"], ["c"])
    user = Pipeline([("scale", StandardScaler()), ("model", LogisticRegression())])
    assert make_pipeline(user, ["a"], ["c"]) is user
    assert pipeline_columns(user) is None


def test_task_of() -> None:
    assert task_of(LogisticRegression(), [0, 1, 1]) == "binary"
    assert task_of(LogisticRegression(), ["a", "b", "c", None]) == "multiclass"
    assert task_of(LinearRegression(), [0.5, 1.0]) == "regression"
    assert task_of(make_pipeline(LogisticRegression(), ["a"], []), [0, 1]) == "binary"
