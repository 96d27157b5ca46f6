"""References first / previous, reproducible sampling, kept rows and the reference cache."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from scipy import stats

import mlmon.evaluation.reference as reference_module
from mlmon.config import RunConfig
from mlmon.evaluation.run import EvaluationRequest, run_evaluation
from mlmon.evaluation.sampling import Sampling
from mlmon.ml.registry import ModelRegistry
from mlmon.project.compiler import compile_project
from mlmon.warehouse.duckdb import Warehouse


def build(mlmon, store: str, month: str) -> None:
    result = mlmon("build", "-s", store, "--vars", f"{{month: '{month}'}}")
    assert result.exit_code == 0, result.output


def evaluations(df, store: str) -> pd.DataFrame:
    return df("SELECT * FROM mlmon.evaluations WHERE store = ? ORDER BY created_at", [store])


def metric(df, evaluation_id: str, name: str, feature: str | None = None) -> float:
    condition = "feature IS NULL" if feature is None else "feature = ?"
    params = [evaluation_id, name] + ([] if feature is None else [feature])
    return df(f"SELECT value FROM mlmon.metrics WHERE evaluation_id = ? AND metric = ? AND {condition}", params)["value"][0]


def test_reference_first(mlmon, df):
    for month in ("01", "02", "01"):
        build(mlmon, "ev_first", month)
    runs = evaluations(df, "ev_first")
    first, second, third = runs["evaluation_id"]
    assert runs["reference"].tolist() == ["training", "first", "first"]
    assert runs["reference_evaluation_id"].tolist()[1:] == [first, first]
    assert any("has no earlier evaluation yet" in w for w in json.loads(runs["warnings"][0]))

    kept = df("SELECT x1 FROM mlmon.rows_ev_first WHERE evaluation_id = ?", [first])["x1"]
    month2 = df("SELECT x1 FROM mlmon.rows_ev_first WHERE evaluation_id = ?", [second])["x1"]
    assert len(kept) == 1500 and len(month2) == 1200
    assert metric(df, second, "ks_pvalue", "x1") == pytest.approx(stats.ks_2samp(kept, month2).pvalue, rel=1e-6)
    assert metric(df, second, "accuracy_drift") == pytest.approx(
        metric(df, second, "accuracy") - metric(df, first, "accuracy"))
    # The third month equals the first: nothing drifts against it.
    assert metric(df, third, "ks_statistic", "x1") == 0.0
    assert metric(df, third, "accuracy_drift") == pytest.approx(0.0)


def test_reference_previous(mlmon, df):
    for month in ("01", "02", "01"):
        build(mlmon, "ev_previous", month)
    runs = evaluations(df, "ev_previous")
    ids = runs["evaluation_id"].tolist()
    assert runs["reference"].tolist() == ["training", "previous", "previous"]
    assert runs["reference_evaluation_id"].tolist()[1:] == ids[:2]
    assert json.loads(runs["labels"][2]) == {"month": "01"}
    assert metric(df, ids[2], "drifted", "x1") == 1.0, "month 01 against month 02 drifts"


def test_head_sampling_takes_the_first_rows(project, mlmon, df):
    build(mlmon, "ev_head", "01")
    run = evaluations(df, "ev_head").iloc[-1]
    assert (run["n_rows"], run["n_evaluated"]) == (1500, 50)
    kept = df("SELECT x1 FROM mlmon.rows_ev_head WHERE evaluation_id = ?", [run["evaluation_id"]])["x1"]
    first = pd.read_parquet(project / "data" / "current_01.parquet")["x1"].head(50)
    assert sorted(kept) == sorted(first)


def test_random_sampling_is_reproducible(mlmon, df):
    build(mlmon, "ev_raw", "01")
    build(mlmon, "ev_raw", "01")
    a, b = evaluations(df, "ev_raw")["evaluation_id"].tolist()[-2:]
    rows = [df("SELECT x1 FROM mlmon.rows_ev_raw WHERE evaluation_id = ? ORDER BY x1", [e])["x1"].tolist() for e in (a, b)]
    assert len(rows[0]) == 400 and rows[0] == rows[1]
    for name in ("data_drift", "roc_auc"):
        assert metric(df, a, name) == metric(df, b, name), name
    # CBPE's sums are taken in score order, whatever order the engine's threads return the groups in.
    for name in ("estimated_accuracy", "estimated_roc_auc", "estimated_f1"):
        assert metric(df, a, name) == metric(df, b, name), name


def test_reference_profile_is_computed_once(mlmon, q, monkeypatch):
    build(mlmon, "ev_nolabels", "01")
    profiles = q("SELECT count(*) FROM mlmon.reference_profiles WHERE kind = 'univariate_profile' AND reference = 'training'")
    importances = q("SELECT count(*) FROM mlmon.reference_profiles WHERE kind = 'model_importance'")
    assert profiles[0][0] >= 1 and importances[0][0] == 1

    def rescan(*args, **kwargs):
        raise AssertionError("the reference was profiled again")

    monkeypatch.setattr(reference_module, "profile_reference", rescan)
    monkeypatch.setattr(reference_module, "model_importance", rescan)
    build(mlmon, "ev_nolabels", "02")
    assert q("SELECT count(*) FROM mlmon.reference_profiles WHERE kind = 'univariate_profile' AND reference = 'training'") == profiles


def test_kept_rows_are_capped_by_a_reproducible_sample(project: Path, mlmon, df):
    build(mlmon, "ev_nolabels", "01")  # the store exists, so its views and kept rows too
    config = RunConfig(project_dir=project, vars={"month": "01"})
    compiled = compile_project(config)
    node = compiled.nodes["ev_nolabels"]
    with Warehouse(compiled.settings.warehouse, search_path=compiled.root) as warehouse:
        models = ModelRegistry(warehouse, compiled.root)
        version = models.active("clf")
        request = EvaluationRequest.from_config(node.name, node.config, compiled.relation_sql("current"), "test")
        assert request.sampling == Sampling("full")
        stored = [run_evaluation(warehouse, request, version, lambda: models.load(version), keep_rows=100)
                  for _ in range(2)]
    ids = [s.record.evaluation_id for s in stored]
    kept = [df("SELECT x1 FROM mlmon.rows_ev_nolabels WHERE evaluation_id = ? ORDER BY x1", [i])["x1"].tolist()
            for i in ids]
    assert len(kept[0]) == 100 and kept[0] == kept[1]
    assert all(s.record.n_evaluated == 1500 for s in stored)
    assert df("SELECT count(*) AS n FROM ev_nolabels WHERE evaluation_id IN (?, ?)", ids)["n"][0] == 2
