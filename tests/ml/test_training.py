"""Training on small synthetic frames: splits, outputs, determinism and clear errors."""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.pipeline import Pipeline

from mlmon.errors import NodeError
from mlmon.ml.training import TrainSpec, train

CLASSIFIER = TrainSpec(
    target="fraud",
    features=None,
    exclude=["id", "spend", "tier"],
    estimator="sklearn.ensemble.HistGradientBoostingClassifier",
    params={"max_iter": 30},
)
REGRESSOR = TrainSpec(
    target="spend",
    features=["amount", "age", "city", "online"],
    exclude=[],
    estimator="sklearn.linear_model.Ridge",
    params={"alpha": 1.0},
)


def test_binary_classifier(frame: pd.DataFrame) -> None:
    model = train(frame, CLASSIFIER)
    assert model.task == "binary"
    assert model.features == ["amount", "age", "city", "online"]
    assert model.numeric == ["amount", "age"] and model.categorical == ["city", "online"]
    assert model.classes == [0, 1] and model.positive_class == 1
    assert (model.n_train, model.n_test) == (480, 120)
    test = model.test_frame
    assert list(test.columns) == model.features + ["fraud", "proba_0", "proba_1", "prediction"]
    assert len(test) == 120
    np.testing.assert_allclose(test["proba_0"] + test["proba_1"], 1.0)
    assert (test["prediction"] == (test["proba_1"] >= 0.5).astype(int)).all()
    assert model.metrics["roc_auc"] == pytest.approx(roc_auc_score(test["fraud"], test["proba_1"]))
    assert model.metrics["roc_auc"] > 0.7
    # The split is stratified: the held-out share of fraud matches the whole frame's.
    assert test["fraud"].mean() == pytest.approx(frame["fraud"].mean(), abs=0.01)


def test_threshold_and_positive_class(frame: pd.DataFrame) -> None:
    model = train(frame, replace(CLASSIFIER, threshold=0.8, positive_class="0"))
    test = model.test_frame
    assert model.positive_class == 0
    assert (test["prediction"] == np.where(test["proba_0"] >= 0.8, 0, 1)).all()
    with pytest.raises(NodeError, match="positive_class 7"):
        train(frame, replace(CLASSIFIER, positive_class=7))


def test_multiclass_string_labels(frame: pd.DataFrame) -> None:
    spec = replace(CLASSIFIER, target="tier", exclude=["id", "spend", "fraud"], estimator="sklearn.linear_model.LogisticRegression", params={})
    model = train(frame, spec)
    assert model.task == "multiclass"
    assert model.classes == ["high", "low", "mid"]
    test = model.test_frame
    probas = test[["proba_high", "proba_low", "proba_mid"]].to_numpy()
    assert (test["prediction"].to_numpy() == np.array(model.classes)[probas.argmax(axis=1)]).all()
    assert set(model.metrics) == {"accuracy", "f1_macro", "f1_weighted", "precision_macro", "recall_macro",
                                  "log_loss", "roc_auc_ovr"}


def test_a_classifier_without_probabilities_is_refused_with_a_hint(frame: pd.DataFrame) -> None:
    with pytest.raises(NodeError, match="no class probabilities") as caught:
        train(frame, replace(CLASSIFIER, estimator="sklearn.linear_model.RidgeClassifier", params={}))
    assert "CalibratedClassifierCV" in (caught.value.hint or "")


def test_boolean_classes_give_canonical_column_names(frame: pd.DataFrame) -> None:
    rows = frame.assign(fraud=frame["fraud"].astype(bool))
    model = train(rows, replace(CLASSIFIER, estimator="sklearn.linear_model.LogisticRegression", params={}))
    assert model.classes == [False, True] and model.positive_class is True
    assert {"proba_false", "proba_true"} <= set(model.test_frame.columns)


def test_regressor(frame: pd.DataFrame) -> None:
    model = train(frame, REGRESSOR)
    assert model.task == "regression" and model.classes is None
    assert list(model.test_frame.columns) == REGRESSOR.features + ["spend", "prediction"]
    assert model.metrics["r2"] > 0.9 and model.metrics["pearson"] > 0.9
    assert model.metrics["rmse"] == pytest.approx(math.sqrt(model.metrics["mse"]))


def test_deterministic_with_seed(frame: pd.DataFrame) -> None:
    spec = replace(CLASSIFIER, estimator="sklearn.ensemble.RandomForestClassifier", params={"n_estimators": 10})
    a, b = train(frame, spec), train(frame, spec)
    pd.testing.assert_frame_equal(a.test_frame, b.test_frame)
    assert a.metrics == b.metrics
    c = train(frame, replace(spec, seed=1))
    assert not c.test_frame["proba_1"].equals(a.test_frame["proba_1"])


def test_null_targets_dropped_with_a_warning(frame: pd.DataFrame) -> None:
    frame = frame.copy()
    frame["fraud"] = frame["fraud"].astype(float)
    frame.loc[:49, "fraud"] = np.nan
    model = train(frame, CLASSIFIER)
    assert model.n_train + model.n_test == 550
    assert any("dropped 50 of 600 rows" in w for w in model.warnings)
    assert model.classes == [0, 1]  # 0.0/1.0 read back from a nullable column are ints again


def numeric_pipeline(C: float = 1.0) -> Pipeline:
    """A user's own pipeline, named in a model as tests.ml.test_training.numeric_pipeline."""
    return Pipeline([("impute", SimpleImputer()), ("model", LogisticRegression(C=C))])


def test_custom_pipeline_is_used_as_is(frame: pd.DataFrame) -> None:
    spec = replace(
        CLASSIFIER, features=["amount", "age"], estimator=f"{__name__}.numeric_pipeline", params={"C": 0.5}
    )
    model = train(frame, spec)
    assert [name for name, _ in model.pipeline.steps] == ["impute", "model"]
    assert model.pipeline.named_steps["model"].C == 0.5
    assert model.test_frame["proba_1"].between(0, 1).all()


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda f: f.iloc[0:0], "empty"),
        (lambda f: f.drop(columns=["fraud"]), "target 'fraud' is not a column.*columns: id, amount"),
        (lambda f: f.assign(fraud=np.nan), "null in all 600 rows"),
        (lambda f: f.assign(fraud=1), "single class"),
    ],
)
def test_data_errors(frame: pd.DataFrame, change, message: str) -> None:
    with pytest.raises(NodeError, match=message):
        train(change(frame), CLASSIFIER)


def test_spec_errors(frame: pd.DataFrame) -> None:
    with pytest.raises(NodeError, match="'amont'") as info:
        train(frame, replace(CLASSIFIER, features=["amont", "age"]))
    assert "amount" in info.value.hint
    with pytest.raises(NodeError, match="test_size"):
        train(frame, replace(CLASSIFIER, test_size=1.5))
    with pytest.raises(NodeError, match="target 'fraud' is also listed"):
        train(frame, replace(CLASSIFIER, features=["amount", "fraud"]))
    with pytest.raises(NodeError, match="clash"):
        train(frame.rename(columns={"age": "prediction"}), CLASSIFIER)
    with pytest.raises(NodeError, match="too few"):
        train(frame.head(1), replace(CLASSIFIER, estimator="sklearn.linear_model.Ridge", target="spend"))
