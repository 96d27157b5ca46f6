"""Data-quality problems are recorded as drift: a dropped feature, a number column turned to
text, values far outside the reference's range, outcomes of a class the reference never saw."""

from __future__ import annotations

import json
import shutil
import textwrap

import numpy as np
import pandas as pd
import pytest
import sklearn.metrics as skm

from tests.evaluation.conftest import make_frame, run_cli

QUALITY_YML = """
evaluations:
  - name: ev_quality
    model: clf
    data: current
    labels: {month: "{{ var('month') }}"}
  - name: ev_lenient
    model: clf
    data: current
    skip_performance: true
    drift: {out_of_range_share: 0.5, psi: 100, min_psi: 100}
"""

N = 2000


def build(mlmon, store: str, month: str):
    return mlmon("build", "-s", store, "--vars", f"{{month: '{month}'}}")


def latest(df, store: str) -> tuple[pd.Series, dict[tuple[str, str | None], float]]:
    evaluation = df("SELECT * FROM mlmon.evaluations WHERE store = ? ORDER BY created_at DESC LIMIT 1", [store]).iloc[0]
    rows = df("SELECT metric, feature, value FROM mlmon.metrics WHERE evaluation_id = ? AND segment IS NULL",
              [evaluation["evaluation_id"]])
    return evaluation, {(r.metric, None if pd.isna(r.feature) else r.feature): r.value for r in rows.itertuples()}


@pytest.fixture(scope="module")
def truth(project):
    """Writes the broken month and the month with unknown labels; returns their true shares."""
    data = project / "data"
    rng = np.random.default_rng(21)
    broken = make_frame(N, 11).drop(columns=["x2"])  # a feature dropped by the export
    broken["const"] = ["1,0"] * N  # a number column exported as text (a decimal comma)
    outside = rng.permutation(N)[: N // 20]  # exactly 5% of the rows far outside x1's range
    broken.loc[outside, "x1"] = 1e6
    unknown = rng.permutation(N)[: 70]  # 3.5% of the outcomes hold class 2
    broken.loc[unknown, "label"] = 2
    broken.to_parquet(data / "current_broken.parquet", index=False)

    labels = make_frame(N, 12)
    labels.loc[rng.permutation(N)[:80], "label"] = 2
    labels.to_parquet(data / "current_unknown.parquet", index=False)
    (project / "monitors" / "quality.yml").write_text(textwrap.dedent(QUALITY_YML).lstrip(), encoding="utf-8")
    return {"out_of_range": len(outside) / N, "unknown": len(unknown) / N, "unknown_month": 80 / N}


def test_a_broken_month_is_recorded_as_drift_not_a_crash_or_a_pass(truth, project, mlmon, df):
    result = build(mlmon, "ev_quality", "broken")
    assert result.exit_code == 0, result.output
    evaluations = df("SELECT * FROM mlmon.evaluations WHERE store = 'ev_quality'")
    assert len(evaluations) == 1
    evaluation, values = latest(df, "ev_quality")
    warnings = json.loads(evaluation["warnings"])

    assert values[("feature_missing", "x2")] == 1.0 and values[("drifted", "x2")] == 1.0
    assert values[("type_changed", "const")] == 1.0 and values[("drifted", "const")] == 1.0
    assert values[("feature_missing", "const")] == 0.0 and values[("type_changed", "x1")] == 0.0
    assert any("feature const changed type" in w and "VARCHAR" in w for w in warnings), warnings
    # 5% planted far outside, plus the few values beyond the reference's extremes by chance.
    reference = df("SELECT min(x1) AS lo, max(x1) AS hi FROM mlmon.ref_clf_v1").iloc[0]
    x1 = pd.read_parquet(project / "data" / "current_broken.parquet")["x1"]
    share = float(((x1 < reference["lo"]) | (x1 > reference["hi"])).mean())
    assert truth["out_of_range"] <= share < truth["out_of_range"] + 0.01
    assert values[("out_of_range_share", "x1")] == pytest.approx(share, abs=1e-12)
    assert values[("drifted", "x1")] == 1.0
    assert values[("unknown_label_share", None)] == pytest.approx(truth["unknown"], abs=1e-12)
    assert any("target label" in w and "does not know: 2 " in w for w in warnings), warnings
    assert values[("n_features_drifted", None)] == sum(v for (m, f), v in values.items() if m == "drifted")
    assert values[("n_features_drifted", None)] >= 3

    # The model cannot read "1,0" as a number: input drift is recorded, prediction drift is absent.
    assert any("the model could not score the data" in w for w in warnings), warnings
    assert not any(m.startswith(("prediction_", "predicted_class", "estimated_")) for m, _ in values)
    assert ("ks_pvalue", "x1") in values and ("chi2_pvalue", "cat") in values
    assert values[("missing_share_reference", "x2")] == pytest.approx(
        df("SELECT avg(CASE WHEN x2 IS NULL OR isnan(x2) THEN 1.0 ELSE 0 END) AS s FROM mlmon.ref_clf_v1")["s"][0])


def test_outcomes_of_an_unknown_class_are_left_out_of_performance(truth, mlmon, df):
    result = build(mlmon, "ev_quality", "unknown")
    assert result.exit_code == 0, result.output
    evaluation, values = latest(df, "ev_quality")
    assert values[("unknown_label_share", None)] == pytest.approx(truth["unknown_month"], abs=1e-12)
    assert any("holds a class the reference does not know: 2 (4.00% of labelled rows)" in w
               for w in json.loads(evaluation["warnings"]))
    rows = df("SELECT label, proba_1 FROM mlmon.rows_ev_quality WHERE evaluation_id = ?", [evaluation["evaluation_id"]])
    known = rows[rows["label"] != 2]
    assert values[("roc_auc", None)] == pytest.approx(skm.roc_auc_score(known["label"], known["proba_1"]), rel=1e-12)
    assert values[("accuracy", None)] == pytest.approx(
        skm.accuracy_score(known["label"], (known["proba_1"] >= 0.5).astype(int)), rel=1e-12)
    assert ("prediction_psi", None) in values  # this month the model scores fine


def test_drift_settings_of_an_evaluation_are_used(truth, mlmon, df):
    result = build(mlmon, "ev_lenient", "broken")
    assert result.exit_code == 0, result.output
    _, values = latest(df, "ev_lenient")
    assert values[("out_of_range_share", "x1")] >= truth["out_of_range"]
    assert values[("drifted", "x1")] == 0.0  # 5% is under the store's own 50%
    assert values[("drifted", "x2")] == 1.0  # a dropped feature is drift whatever the settings


def test_a_bad_drift_setting_is_a_compile_error_at_its_line(project, tmp_path):
    root = tmp_path / "project"
    shutil.copytree(project, root)
    (root / "monitors" / "bad.yml").write_text(textwrap.dedent("""
        evaluations:
          - name: ev_bad
            model: clf
            data: current
            drift:
              pvalue: 0.01
              min_psy: 0.2
              psi: -1
            segments: [x1]
        """).lstrip(), encoding="utf-8")
    before = (root / "target" / "warehouse.duckdb").stat().st_mtime_ns
    result = run_cli(root, "build", "-s", "ev_bad")
    assert result.exit_code == 2, result.output
    assert "monitors/bad.yml:7: unknown drift setting 'min_psy'" in result.output
    assert "did you mean 'min_psi'?" in result.output
    assert "monitors/bad.yml:8: drift setting `psi` must be at least 0" in result.output
    assert (root / "target" / "warehouse.duckdb").stat().st_mtime_ns == before


def test_an_unknown_segment_column_fails_before_anything_is_written(project, mlmon, df):
    (project / "monitors" / "segments.yml").write_text(textwrap.dedent("""
        evaluations:
          - name: ev_badsegment
            model: clf
            data: current
            skip_performance: true
            segments: [regoin]
        """).lstrip(), encoding="utf-8")
    try:
        result = build(mlmon, "ev_badsegment", "01")
        assert result.exit_code == 2, result.output  # the files' columns are known at compile time
        assert "monitors/segments.yml:6: segment column 'regoin' is not a column of data 'current'" in result.output
        assert "did you mean" not in result.output or "columns:" in result.output
        assert df("SELECT count(*) AS n FROM mlmon.evaluations WHERE store = 'ev_badsegment'")["n"][0] == 0
    finally:
        (project / "monitors" / "segments.yml").unlink()


def test_a_segment_column_the_reference_lacks_fails_before_anything_is_written(project, mlmon, df):
    # `extra` is in the data but not a model feature, so the held-out reference rows lack it.
    (project / "monitors" / "segments.yml").write_text(textwrap.dedent("""
        evaluations:
          - name: ev_refsegment
            model: clf
            data: current
            skip_performance: true
            segments: [extra]
        """).lstrip(), encoding="utf-8")
    try:
        result = build(mlmon, "ev_refsegment", "01")
        assert result.exit_code == 1, result.output
        assert "monitors/segments.yml:6: segment column extra not in the reference rows" in result.output
        assert df("SELECT count(*) AS n FROM mlmon.evaluations WHERE store = 'ev_refsegment'")["n"][0] == 0
    finally:
        (project / "monitors" / "segments.yml").unlink()
