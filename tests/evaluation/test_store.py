"""Each build appends one evaluation; failures append nothing; the store views follow the metrics."""

from __future__ import annotations

import json

import pytest

import mlmon.evaluation.task as task_module
import mlmon.evaluation.store as store_module


def counts(q, store: str) -> tuple[int, int]:
    evaluations = q("SELECT count(*) FROM mlmon.evaluations WHERE store = ?", [store])[0][0]
    metrics = q("SELECT count(*) FROM mlmon.metrics WHERE store = ?", [store])[0][0]
    return evaluations, metrics


@pytest.fixture(scope="module")
def two_builds(mlmon, q) -> list[str]:
    """ev_scored built twice; its evaluation ids, oldest first."""
    for _ in range(2):
        result = mlmon("build", "-s", "ev_scored")
        assert result.exit_code == 0, result.output
    return [r[0] for r in q("SELECT evaluation_id FROM mlmon.evaluations WHERE store = 'ev_scored' ORDER BY created_at")]


def test_each_build_appends_one_evaluation(mlmon, q, df):
    assert counts(q, "ev_threshold") == (0, 0)
    result = mlmon("build", "-s", "ev_threshold")
    assert result.exit_code == 0, result.output
    n_eval, n_metrics = counts(q, "ev_threshold")
    assert n_eval == 1 and n_metrics > 40
    row = df("SELECT * FROM mlmon.evaluations WHERE store = 'ev_threshold'").iloc[0]
    assert row["model"] == "clf" and row["model_version"] == 1 and row["dataset"] == "current_scored"
    assert row["reference"] == "training" and row["reference_evaluation_id"] is None
    assert row["n_rows"] == row["n_evaluated"] == 1500 and bool(row["has_ground_truth"])
    assert json.loads(row["labels"]) == {}
    assert isinstance(json.loads(row["warnings"]), list)
    assert len(row["evaluation_id"]) == 32 and row["invocation_id"]

    assert mlmon("build", "-s", "ev_threshold").exit_code == 0
    assert counts(q, "ev_threshold") == (2, 2 * n_metrics)
    assert len(q("SELECT DISTINCT evaluation_id FROM mlmon.metrics WHERE store = 'ev_threshold'")) == 2
    assert len(q("SELECT * FROM ev_threshold")) == 2


def test_store_view_has_one_row_per_evaluation(two_builds, q, df):
    view = df("SELECT * FROM ev_scored")
    assert view["evaluation_id"].tolist() == two_builds
    assert list(view.columns[:9]) == ["evaluation_id", "created_at", "model", "model_version", "dataset", "n_rows",
                                      "n_evaluated", "has_ground_truth", "month"]
    assert view["month"].tolist() == ["01", "01"]
    for column in ("accuracy", "roc_auc", "accuracy_drift", "data_drift", "data_drift_lower", "data_drift_upper",
                   "data_drift_pvalue", "drifted_features_share", "max_psi", "estimated_roc_auc",
                   "estimated_roc_auc_lower", "estimated_accuracy_upper", "prediction_psi"):
        assert column in view.columns, column
    assert "ks_pvalue" not in view.columns, "per-feature metrics live in the feature view"
    metric = q("SELECT value FROM mlmon.metrics WHERE store = 'ev_scored' AND metric = 'roc_auc' "
               "AND evaluation_id = ?", [view["evaluation_id"][0]])[0][0]
    assert view["roc_auc"][0] == pytest.approx(metric)


def test_feature_drift_view(two_builds, df):
    view = df("SELECT * FROM ev_scored_feature_drift")
    assert set(view["feature"]) == {"x1", "x2", "cat", "flag", "const"}
    assert len(view) == 2 * 5
    assert {"ks_pvalue", "psi", "wasserstein", "chi2_pvalue", "missing_share", "drifted", "drift_importance",
            "model_importance", "new_category_share"} <= set(view.columns)
    assert "month" in view.columns
    assert view.loc[view["feature"] == "cat", "ks_pvalue"].isna().all()
    assert view.loc[view["feature"] == "x1", "chi2_pvalue"].isna().all()


def test_show_prints_the_store_newest_first(two_builds, mlmon):
    result = mlmon("show", "ev_scored", "--output", "json")
    assert result.exit_code == 0, result.output
    rows = json.loads(result.output)["rows"]
    assert [r["evaluation_id"] for r in rows] == two_builds[::-1]


def test_labels_become_columns(mlmon, df):
    assert mlmon("build", "-s", "ev_raw").exit_code == 0
    view = df("SELECT * FROM ev_raw")
    assert view[["month", "team"]].values.tolist() == [["01", "risk"]]


def test_missing_ground_truth_is_a_clear_error_and_appends_nothing(mlmon, q):
    before = counts(q, "ev_strict")
    for month in ("nolabel", "nulllabel"):
        result = mlmon("build", "-s", "ev_strict", "--vars", f"{{month: '{month}'}}")
        assert result.exit_code == 1
        assert "has no values of target 'label'" in result.output
        assert "set `skip_performance: true` on evaluation 'ev_strict'" in result.output
    assert counts(q, "ev_strict") == before
    assert q("SELECT count(*) FROM information_schema.tables WHERE table_schema = 'mlmon_scratch'")[0][0] == 0


def test_a_failing_metric_appends_nothing_and_keeps_the_views(two_builds, mlmon, q, df, monkeypatch):
    before = counts(q, "ev_scored")
    view_before = df("SELECT * FROM ev_scored")

    def broken(*args, **kwargs):
        raise RuntimeError("injected failure")

    monkeypatch.setattr(task_module, "estimate_performance_sql", broken)
    result = mlmon("build", "-s", "ev_scored")
    assert result.exit_code == 1 and "injected failure" in result.output
    assert counts(q, "ev_scored") == before
    assert df("SELECT * FROM ev_scored").equals(view_before)
    assert q("SELECT count(*) FROM information_schema.tables WHERE table_schema = 'mlmon_scratch'")[0][0] == 0


def test_a_failure_inside_the_append_rolls_everything_back(two_builds, mlmon, q, df, monkeypatch):
    before = counts(q, "ev_scored")
    kept_before = q("SELECT count(*) FROM mlmon.rows_ev_scored")[0][0]
    view_before = df("SELECT * FROM ev_scored")

    def broken(warehouse, store):
        raise RuntimeError("view failure")

    monkeypatch.setattr(store_module, "refresh_views", broken)
    result = mlmon("build", "-s", "ev_scored")
    assert result.exit_code == 1 and "view failure" in result.output
    assert counts(q, "ev_scored") == before
    assert q("SELECT count(*) FROM mlmon.rows_ev_scored")[0][0] == kept_before
    assert df("SELECT * FROM ev_scored").equals(view_before)


def test_a_store_is_available_once_it_has_an_evaluation(project, mlmon, q):
    (project / "checks").mkdir(exist_ok=True)
    (project / "checks" / "checks.yml").write_text(
        "checks:\n  - {name: nolabels_drift, store: ev_nolabels, metric: data_drift, max: 1.0}\n")
    result = mlmon("build", "-s", "nolabels_drift")
    assert result.exit_code == 1
    assert "upstream evaluation 'ev_nolabels' is not available (store 'ev_nolabels' has no evaluation yet)" in result.output
    assert mlmon("build", "-s", "ev_nolabels").exit_code == 0
    result = mlmon("build", "-s", "nolabels_drift")
    assert result.exit_code == 0, result.output
    assert q("SELECT count(*) FROM mlmon.check_results WHERE \"check\" = 'nolabels_drift'")[0][0] == 1
