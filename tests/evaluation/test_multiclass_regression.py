"""Multiclass and regression models end to end: train, score, evaluate, dashboard; every stored
metric checked against scikit-learn / scipy on the very rows the warehouse holds."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from sklearn import metrics as skm

from tests.conftest import query_frame

MODELS_YML = """
datasets:
  - name: train_rows
    files: data/train.csv
  - name: fresh_rows
    files: data/fresh.csv
models:
  - name: mode
    data: train_rows
    target: mode
    exclude: [id, fare, late]
    estimator: sklearn.linear_model.LogisticRegression
    params: {max_iter: 1000}
  - name: fare
    data: train_rows
    target: fare
    exclude: [id, mode, late]
    estimator: sklearn.ensemble.HistGradientBoostingRegressor
    params: {max_iter: 60}
  - name: late
    data: train_rows
    target: late
    exclude: [id, mode, fare]
    estimator: sklearn.linear_model.LogisticRegression
scores:
  - {name: mode_scored, model: mode, data: fresh_rows}
  - {name: fare_scored, model: fare, data: fresh_rows}
evaluations:
  - {name: mes_mode, model: mode, data: mode_scored}
  - {name: mes_fare, model: fare, data: fare_scored}
  - {name: mes_late, model: late, data: fresh_rows}
  - {name: mes_mode_quick, model: mode, data: fresh_rows, data_drift: false, skip_performance: true}
checks:
  - {name: f1_of_class_2, store: mes_mode, metric: f1, feature: 2.0, min: 0.0}
  - {name: late_share, store: mes_late, metric: predicted_class_share, feature: true, max: 1.0}
dashboards:
  - name: other_tasks
    tiles:
      - {type: performance, store: mes_mode}
      - {type: performance, store: mes_fare}
      - {type: prediction_drift, store: mes_mode}
      - {type: prediction_drift, store: mes_fare}
      - {type: feature_drift, store: mes_fare}
      - {type: metric_history, store: mes_mode, metric: estimated_accuracy}
      - {type: metric, store: mes_mode, metric: f1, feature: "2"}
      - {type: metric, store: mes_mode, metric: predicted_class_share, feature: 3}
      - {type: model_versions}
"""

CLOSE = {"rel": 1e-9, "abs": 1e-12}


def _rows(n: int, seed: int, shift: float = 0.0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    distance = rng.gamma(2.0, 5.0, n) + shift * 5
    hour = rng.integers(0, 24, n)
    zone = rng.choice(["centre", "suburb", "rural"], n, p=[0.5, 0.3, 0.2])
    logits = np.c_[1.5 - distance / 5, 0.2 * (zone == "suburb") + (hour > 17), distance / 10 - 0.5]
    proba = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    mode = (rng.random(n)[:, None] >= np.cumsum(proba, axis=1)).sum(axis=1).clip(0, 2) + 1
    fare = 2.5 + 1.2 * distance + 3.0 * (zone == "rural") + 0.1 * hour + rng.normal(0, 1.5, n)
    late = rng.random(n) < 1 / (1 + np.exp(-(distance / 8 - 1.5)))
    return pd.DataFrame({"id": np.arange(n), "distance": distance, "hour": hour, "zone": zone,
                         "mode": mode.astype(float), "fare": fare, "late": late})


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> Path:
    from click.testing import CliRunner

    from mlmon.cli import cli

    root = tmp_path_factory.mktemp("tasks") / "project"
    (root / "models").mkdir(parents=True)
    (root / "data").mkdir()
    (root / "mlmon_project.yml").write_text("name: tasks\n", encoding="utf-8")
    (root / "models" / "nodes.yml").write_text(MODELS_YML, encoding="utf-8")
    _rows(1500, 1).to_csv(root / "data" / "train.csv", index=False)
    fresh = _rows(900, 2, shift=0.4)
    fresh["mode"] = fresh["mode"].astype(int)  # 1 in the data, 1.0 in training: the same class
    fresh.to_csv(root / "data" / "fresh.csv", index=False)
    runner = CliRunner()
    result = runner.invoke(cli, ["build", "--project-dir", str(root)], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    result = runner.invoke(cli, ["dashboard", "other_tasks", "--project-dir", str(root)], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return root


def _metrics(project: Path, store: str) -> dict[tuple[str, str | None], tuple[float | None, float | None, float | None]]:
    frame = query_frame(project, "SELECT metric, feature, value, lower, upper FROM mlmon.metrics WHERE store = ?", [store])
    return {(r.metric, None if pd.isna(r.feature) else r.feature):
            tuple(None if pd.isna(v) else float(v) for v in (r.value, r.lower, r.upper)) for r in frame.itertuples()}


def _value(found, metric: str, feature: str | None = None) -> float | None:
    return found[(metric, feature)][0]


def test_scores_registry_and_references_hold_each_task_outputs(project):
    scored = query_frame(project, "SELECT * FROM mode_scored")
    assert list(scored.columns)[-4:] == ["proba_1", "proba_2", "proba_3", "prediction"]
    assert np.allclose(scored[["proba_1", "proba_2", "proba_3"]].sum(axis=1), 1.0)
    fares = query_frame(project, "SELECT * FROM fare_scored")
    assert list(fares.columns) == ["id", "distance", "hour", "zone", "mode", "fare", "late", "prediction"]
    versions = query_frame(project, "SELECT model, task, classes, metrics FROM mlmon.model_versions ORDER BY model")
    by_model = {r.model: r for r in versions.itertuples()}
    assert by_model["mode"].task == "multiclass" and json.loads(by_model["mode"].classes) == [1, 2, 3]
    assert by_model["fare"].task == "regression"
    assert set(json.loads(by_model["fare"].metrics)) == {"mae", "mse", "rmse", "r2", "mape", "pearson"}
    reference = query_frame(project, "SELECT * FROM mlmon.ref_fare_v1")
    assert {"fare", "prediction"} <= set(reference.columns) and not any(c.startswith("proba_") for c in reference)
    late = query_frame(project, "SELECT * FROM mlmon.ref_late_v1")
    assert {"proba_false", "proba_true"} <= set(late.columns)  # boolean classes, canonical text


def test_multiclass_performance_equals_sklearn(project):
    found = _metrics(project, "mes_mode")
    rows = query_frame(project, "SELECT * FROM mode_scored")
    y, proba = rows["mode"].to_numpy(), rows[["proba_1", "proba_2", "proba_3"]].to_numpy()
    pred = rows["prediction"].to_numpy()
    labels = [1, 2, 3]
    expected = {
        "accuracy": skm.accuracy_score(y, pred),
        "f1_macro": skm.f1_score(y, pred, average="macro"),
        "f1_weighted": skm.f1_score(y, pred, average="weighted"),
        "precision_macro": skm.precision_score(y, pred, average="macro"),
        "recall_macro": skm.recall_score(y, pred, average="macro"),
        "log_loss": skm.log_loss(y, proba, labels=labels),
        "roc_auc_ovr": skm.roc_auc_score(y, proba, multi_class="ovr", average="macro", labels=labels),
    }
    for name, value in expected.items():
        assert _value(found, name) == pytest.approx(value, **CLOSE), name
    ref = query_frame(project, "SELECT * FROM mlmon.ref_mode_v1")
    ref_pred = ref[["proba_1", "proba_2", "proba_3"]].to_numpy().argmax(axis=1) + 1
    assert _value(found, "f1_macro_drift") == pytest.approx(
        expected["f1_macro"] - skm.f1_score(ref["mode"], ref_pred, average="macro"), **CLOSE)
    for score, name in ((skm.precision_score, "precision"), (skm.recall_score, "recall"), (skm.f1_score, "f1")):
        current = score(y, pred, labels=labels, average=None)
        before = score(ref["mode"], ref_pred, labels=labels, average=None)
        for i, label in enumerate(("1", "2", "3")):
            assert _value(found, name, label) == pytest.approx(current[i], **CLOSE), (name, label)
            assert _value(found, f"{name}_drift", label) == pytest.approx(current[i] - before[i], **CLOSE)
    view = query_frame(project, "SELECT * FROM mes_mode")
    assert {"f1_macro", "roc_auc_ovr", "estimated_accuracy", "prediction_chi2_pvalue"} <= set(view.columns)
    features = query_frame(project, "SELECT * FROM mes_mode_feature_drift")
    assert set(features["feature"]) == {"distance", "hour", "zone"}  # classes are not features
    assert not {"precision", "f1", "recall_drift"} & set(features.columns)


def test_multiclass_prediction_drift_and_estimates(project):
    found = _metrics(project, "mes_mode")
    cur = query_frame(project, "SELECT prediction FROM mode_scored")["prediction"]
    ref = query_frame(project, "SELECT prediction FROM mlmon.ref_mode_v1")["prediction"]
    counts = [[int((side == c).sum()) for c in (1, 2, 3)] for side in (ref, cur)]
    for i, label in enumerate(("1", "2", "3")):
        assert _value(found, "predicted_class_share", label) == pytest.approx(counts[1][i] / len(cur), **CLOSE)
        assert _value(found, "predicted_class_share_reference", label) == pytest.approx(counts[0][i] / len(ref), **CLOSE)
    table = [row for row in zip(*counts) if any(row)]
    assert _value(found, "prediction_chi2_pvalue") == pytest.approx(stats.chi2_contingency(np.array(table).T).pvalue,
                                                                     rel=1e-9)
    assert ("prediction_psi", None) not in found and ("estimated_roc_auc", None) not in found
    for name in ("estimated_accuracy", "estimated_f1_macro", "estimated_roc_auc_ovr"):
        value, lower, upper = found[(name, None)]
        assert lower <= value <= upper
    assert _value(found, "estimated_accuracy") == pytest.approx(_value(found, "accuracy"), abs=0.05)
    assert _value(found, "estimated_roc_auc_ovr") == pytest.approx(_value(found, "roc_auc_ovr"), abs=0.05)


def test_regression_performance_and_prediction_drift_equal_sklearn_and_scipy(project):
    found = _metrics(project, "mes_fare")
    rows = query_frame(project, "SELECT fare, prediction FROM fare_scored")
    y, pred = rows["fare"].to_numpy(), rows["prediction"].to_numpy()
    expected = {
        "mae": skm.mean_absolute_error(y, pred), "mse": skm.mean_squared_error(y, pred),
        "rmse": skm.root_mean_squared_error(y, pred), "r2": skm.r2_score(y, pred),
        "mape": skm.mean_absolute_percentage_error(y, pred), "pearson": stats.pearsonr(y, pred).statistic,
    }
    version = json.loads(query_frame(project, "SELECT metrics FROM mlmon.model_versions WHERE model = 'fare'")
                         ["metrics"][0])
    for name, value in expected.items():
        assert _value(found, name) == pytest.approx(value, **CLOSE), name
        assert _value(found, f"{name}_drift") == pytest.approx(value - version[name], **CLOSE), name
    ref = query_frame(project, "SELECT prediction FROM mlmon.ref_fare_v1")["prediction"].to_numpy()
    ks = stats.ks_2samp(ref, pred)
    assert _value(found, "prediction_ks_statistic") == pytest.approx(ks.statistic, **CLOSE)
    assert _value(found, "prediction_ks_pvalue") == pytest.approx(ks.pvalue, rel=1e-9)
    assert _value(found, "prediction_wasserstein") == pytest.approx(stats.wasserstein_distance(ref, pred), **CLOSE)
    assert _value(found, "prediction_mean") == pytest.approx(pred.mean(), **CLOSE)
    assert _value(found, "prediction_mean_reference") == pytest.approx(ref.mean(), **CLOSE)
    edges = np.unique(np.quantile(ref, np.linspace(0.1, 0.9, 9)))
    shares = [np.maximum(np.bincount(np.searchsorted(edges, side, side="left"), minlength=len(edges) + 1) / len(side),
                         0.001) for side in (ref, pred)]
    assert _value(found, "prediction_psi") == pytest.approx(
        float(np.sum((shares[1] - shares[0]) * np.log(shares[1] / shares[0]))), **CLOSE)
    assert not any(m.startswith("estimated_") or m.startswith("predicted_class") for m, _ in found)


def test_boolean_classes_are_stored_as_true_and_false(project):
    found = _metrics(project, "mes_late")
    assert {f for (m, f) in found if m == "predicted_class_share"} == {"false", "true"}
    rows = query_frame(project, "SELECT * FROM mlmon.rows_mes_late")
    assert _value(found, "roc_auc") == pytest.approx(skm.roc_auc_score(rows["late"], rows["proba_true"]), **CLOSE)


def test_checks_name_classes_by_their_canonical_text(project):
    results = query_frame(project, "SELECT \"check\", feature, value, status FROM mlmon.check_results ORDER BY 1")
    by_check = {r.check: r for r in results.itertuples()}
    assert by_check["f1_of_class_2"].feature == "2" and by_check["f1_of_class_2"].status == "OK"
    assert by_check["f1_of_class_2"].value == _value(_metrics(project, "mes_mode"), "f1", "2")
    assert by_check["late_share"].feature == "true" and by_check["late_share"].status == "OK"


def test_data_drift_false_skips_the_domain_classifier(project):
    quick, full = _metrics(project, "mes_mode_quick"), _metrics(project, "mes_mode")
    assert ("data_drift", None) in full and ("drift_importance", "distance") in full
    assert not any(m.startswith("data_drift") or m == "drift_importance" for m, _ in quick)
    assert ("psi", "distance") in quick and ("predicted_class_share", "1") in quick


def test_dashboard_shows_each_task(project):
    page = (project / "target" / "dashboards" / "other_tasks.html").read_text(encoding="utf-8")
    for text in ("f1_macro", "roc_auc_ovr", "estimated (CBPE)", "pearson", "prediction_wasserstein",
                 "Mean predicted value per evaluation"):
        assert text in page, text
    assert 'class="empty no-data"' not in page  # every tile found what it shows
    assert "<th>class</th>" in page  # the multiclass model's per-class table


def test_retrain_promotion_compares_each_task_on_its_ranking_metric(project):
    from types import SimpleNamespace

    from mlmon.nodes.retrains import _default_metric

    metrics = {}
    for row in query_frame(project, "SELECT model, task, metrics FROM mlmon.model_versions").itertuples():
        version = SimpleNamespace(task=row.task, is_classifier=row.task != "regression")
        metrics[row.model] = (_default_metric(version), json.loads(row.metrics))
    for model, (name, recorded) in metrics.items():
        assert name in recorded, (model, name)  # the default is a metric the version records
