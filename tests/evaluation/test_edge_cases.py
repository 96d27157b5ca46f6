"""Awkward data: missing months of a feature, constants, new categories, tiny and empty sets."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from tests.evaluation.conftest import run_cli


def build(mlmon, store: str, month: str):
    return mlmon("build", "-s", store, "--vars", f"{{month: '{month}'}}")


def latest(df, store: str) -> tuple[pd.Series, dict[tuple[str, str | None], float]]:
    evaluation = df("SELECT * FROM mlmon.evaluations WHERE store = ? ORDER BY created_at DESC LIMIT 1", [store]).iloc[0]
    rows = df("SELECT metric, feature, value FROM mlmon.metrics WHERE evaluation_id = ?", [evaluation["evaluation_id"]])
    values = {(r.metric, None if pd.isna(r.feature) else r.feature): r.value for r in rows.itertuples()}
    return evaluation, values


def test_shifted_month_with_new_category_and_an_all_missing_feature(project, mlmon, df):
    result = build(mlmon, "ev_strict", "02")
    assert result.exit_code == 0, result.output
    evaluation, values = latest(df, "ev_strict")
    warnings = json.loads(evaluation["warnings"])
    assert any("feature x2 is 100.0% missing" in w for w in warnings)
    assert values[("missing_share", "x2")] == 1.0
    assert np.isnan(values[("ks_pvalue", "x2")]) and np.isnan(values[("wasserstein", "x2")])

    current = pd.read_parquet(project / "data" / "current_02.parquet")
    ref = df("SELECT cat FROM mlmon.ref_clf_v1")
    assert values[("new_category_share", "cat")] == pytest.approx((current["cat"] == "d").mean())
    counts = ref["cat"].value_counts()
    observed = current["cat"].value_counts().reindex(counts.index, fill_value=0)  # unseen "d" left out
    expected = stats.chi2_contingency([counts.to_numpy(), observed.to_numpy()]).pvalue
    assert values[("chi2_pvalue", "cat")] == pytest.approx(expected, rel=1e-9)
    assert values[("drifted", "x1")] == 1.0 and values[("data_drift", None)] > 0.6

    # A constant column has no drift to report, and nothing breaks on it.
    assert values[("ks_statistic", "const")] == 0.0 and values[("ks_pvalue", "const")] == 1.0
    assert values[("psi", "const")] == 0.0 and values[("wasserstein", "const")] == 0.0


def test_one_row_gives_the_metrics_that_are_defined_and_a_warning(mlmon, df):
    result = build(mlmon, "ev_strict", "one")
    assert result.exit_code == 0, result.output
    evaluation, values = latest(df, "ev_strict")
    assert evaluation["n_evaluated"] == 1
    warnings = json.loads(evaluation["warnings"])
    assert any("sample has 1 rows" in w for w in warnings)
    assert any("data_drift is not computed" in w for w in warnings)
    assert np.isnan(values[("data_drift", None)])
    assert not np.isnan(values[("accuracy", None)])
    assert not np.isnan(values[("ks_pvalue", "x1")])
    assert "warning" in result.output or "sample has 1 rows" in result.output


def test_empty_data_is_a_clear_error(mlmon, q):
    before = q("SELECT count(*) FROM mlmon.evaluations")[0][0]
    result = build(mlmon, "ev_nolabels", "empty")
    assert result.exit_code == 1
    assert "data 'current' has no rows at all" in result.output
    assert q("SELECT count(*) FROM mlmon.evaluations")[0][0] == before


def test_sampling_size_must_keep_a_row(mlmon, project):
    monitors = project / "monitors" / "evaluations.yml"
    original = monitors.read_text()
    monitors.write_text(original.replace("sampling: {method: head, size: 50}", "sampling: {method: head, size: 0}"))
    try:
        result = mlmon("build", "-s", "ev_head")
    finally:
        monitors.write_text(original)
    assert result.exit_code == 2
    assert "monitors/evaluations.yml:" in result.output and "needs an integer `size` of at least 1" in result.output


@pytest.mark.parametrize("sampling", ["{method: random, size: 400, seed: 7, key: [idd]}", "{key: idd}"])
def test_a_sampling_key_the_data_lacks_is_an_error_at_its_line(mlmon, project, q, sampling):
    """A misspelt key must not fall back to drawing over whole rows unnoticed."""
    monitors = project / "monitors" / "evaluations.yml"
    original = monitors.read_text()
    monitors.write_text(original.replace("sampling: {method: random, size: 400, seed: 7}", f"sampling: {sampling}"))
    line = next(i for i, text in enumerate(monitors.read_text().splitlines(), 1) if "idd" in text)
    before = q("SELECT count(*) FROM mlmon.evaluations")[0][0]
    try:
        result = build(mlmon, "ev_raw", "01")
    finally:
        monitors.write_text(original)
    assert result.exit_code == 1
    assert (f"monitors/evaluations.yml:{line}: sampling key column 'idd' is not a column of the data — "
            "did you mean 'id'?") in result.output
    assert q("SELECT count(*) FROM mlmon.evaluations")[0][0] == before


def test_a_feature_absent_from_scored_data_is_drifted_with_a_warning(project, mlmon, df):
    result = build(mlmon, "ev_strict", "nox2")
    assert result.exit_code == 0, result.output
    assert "feature x2 is absent from the data" in result.output
    evaluation, values = latest(df, "ev_strict")
    assert any("feature x2 is absent" in w for w in json.loads(evaluation["warnings"]))
    # No distribution is compared, but the absence itself is recorded as drift, never passed.
    assert {metric for (metric, feature) in values if feature == "x2"} == {
        "model_importance", "missing_share", "missing_share_reference", "feature_missing", "type_changed", "drifted"}
    assert values[("feature_missing", "x2")] == 1.0 and values[("drifted", "x2")] == 1.0
    assert values[("missing_share", "x2")] == 1.0 and values[("type_changed", "x2")] == 0.0
    assert values[("n_features_drifted", None)] >= 1
    assert ("ks_pvalue", "x1") in values and values[("feature_missing", "x1")] == 0.0
    # The data's own probabilities were used: nothing was scored.
    current = pd.read_parquet(project / "data" / "current_nox2.parquet")
    assert values[("predicted_class_share", "1")] == pytest.approx((current["proba_1"] >= 0.5).mean())


def test_a_feature_absent_from_data_to_score_reaches_the_model_as_missing(mlmon, df):
    result = build(mlmon, "ev_strict", "rawnox2")
    assert result.exit_code == 0, result.output
    evaluation, values = latest(df, "ev_strict")
    assert evaluation["n_evaluated"] == 700
    assert "feature x2 is absent from the data: the model receives it as missing" in json.loads(evaluation["warnings"])
    assert values[("feature_missing", "x2")] == 1.0 and values[("drifted", "x2")] == 1.0
    assert ("ks_pvalue", "x2") not in values
    assert values[("roc_auc", None)] > 0.6, "the model still ranks rows with x2 imputed"
    kept = df("SELECT * FROM mlmon.rows_ev_strict WHERE evaluation_id = ?", [evaluation["evaluation_id"]])
    assert len(kept) == 700 and kept["x2"].isna().all(), "x2 was absent: it is kept as missing"


def test_features_and_categorical_override(mlmon, df):
    result = mlmon("build", "-s", "ev_features")
    assert result.exit_code == 0, result.output
    evaluation, values = latest(df, "ev_features")
    assert {f for (m, f) in values if m == "drifted"} == {"x1", "cat", "flag", "const"}
    assert ("chi2_pvalue", "x1") in values and ("ks_pvalue", "x1") not in values, "x1 is forced categorical"
    assert ("chi2_pvalue", "flag") in values, "the model treats flag as a category"
    assert {f for (m, f) in values if m == "model_importance"} == {"x1", "cat", "flag", "const"}
    # The training reference holds the model's features only.
    assert "feature extra is not in the reference rows" in " ".join(json.loads(evaluation["warnings"]))


def test_unlabelled_data_with_skip_performance(mlmon, df):
    result = build(mlmon, "ev_nolabels", "nolabel")
    assert result.exit_code == 0, result.output
    evaluation, values = latest(df, "ev_nolabels")
    assert not evaluation["has_ground_truth"]
    assert ("accuracy", None) not in values
    assert ("estimated_accuracy", None) in values and ("data_drift", None) in values


def test_an_identifier_among_the_features_is_named_once_not_per_segment(tmp_path) -> None:
    root = tmp_path / "project"
    (root / "data").mkdir(parents=True)
    rng = np.random.default_rng(3)
    for name, n in (("reference", 600), ("logged", 500)):
        proba = rng.random(n)
        pd.DataFrame({"user_id": [f"u{i}" for i in rng.permutation(10**6)[:n]], "x": rng.normal(size=n),
                      "region": rng.choice(["north", "south"], n), "score": proba,
                      "outcome": (rng.random(n) < proba).astype(int)}).to_csv(root / "data" / f"{name}.csv", index=False)
    (root / "mlmon_project.yml").write_text("name: ids\n")
    (root / "models").mkdir()
    (root / "models" / "all.yml").write_text(
        "datasets:\n  - name: logged\n    files: data/logged.csv\n  - name: reference\n    files: data/reference.csv\n"
        "evaluations:\n  - name: with_ids\n    data: logged\n    reference: reference\n    predictions: {proba: score}\n"
        "    target: outcome\n    segments: [region]\n    data_drift: false\n")
    result = run_cli(root, "build")
    assert result.exit_code == 0, result.output
    text = " ".join(result.output.split())
    assert text.count("looks like an identifier") == 1, result.output
    assert "feature user_id looks like an identifier (600 distinct values in 600 reference rows)" in text
    assert "feature region looks like" not in text and "feature x " not in text
