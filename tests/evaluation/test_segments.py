"""Metrics per segment: each value of a segment column against the reference's rows of that value."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pytest
import sqlglot
from scipy import stats
from sklearn.metrics import roc_auc_score

from mlmon.evaluation.segments import segment_relation

from tests.conftest import query_frame
from tests.evaluation.conftest import run_cli

TRICKY = "it's; DROP TABLE mlmon.metrics; --"
QUOTED = 'say "hi"'
REGIONS = ["north", TRICKY, QUOTED, "tiny"]

PROJECT = {
    "mlmon_project.yml": """
        name: segment_tests
        vars:
          month: "01"
        """,
    "models/models.yml": """
        datasets:
          - name: train
            files: data/train.parquet
          - name: current
            files: "data/current_{{ var('month') }}.parquet"
        models:
          - name: clf
            data: train
            target: label
            features: [x, region, kind]
            estimator: sklearn.linear_model.LogisticRegression
            params: {max_iter: 500}
        """,
    "monitors/evaluations.yml": """
        evaluations:
          - name: by_region
            model: clf
            data: current
            segments: [region]
            labels: {month: "{{ var('month') }}"}
        """,
}


def frame(n: int, seed: int, shift: float = 0.0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    region = rng.choice(REGIONS, n, p=[0.4, 0.3, 0.27, 0.03])
    # The tricky region drifts in the current month; the others do not.
    x = rng.normal(0, 1, n) + np.where(region == TRICKY, shift, 0.0)
    kind = rng.choice(["p", "q", "r"], n, p=[0.5, 0.3, 0.2])
    label = (x + np.where(kind == "p", 0.5, 0.0) + rng.logistic(size=n) > 0).astype(np.int64)
    return pd.DataFrame({"x": x, "region": region, "kind": kind, "label": label})


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("segments") / "project"
    for rel, text in PROJECT.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(textwrap.dedent(text).lstrip(), encoding="utf-8")
    (root / "data").mkdir()
    frame(5000, 0).to_parquet(root / "data" / "train.parquet", index=False)
    frame(3000, 1, shift=1.0).to_parquet(root / "data" / "current_01.parquet", index=False)
    result = run_cli(root, "build")
    assert result.exit_code == 0, result.output
    return root


def psi_by_spec(ref: np.ndarray, cur: np.ndarray) -> float:
    edges = np.unique(np.quantile(ref, np.arange(1, 10) / 10))
    r = np.maximum(np.bincount(np.searchsorted(edges, ref, "left"), minlength=len(edges) + 1) / len(ref), 0.001)
    c = np.maximum(np.bincount(np.searchsorted(edges, cur, "left"), minlength=len(edges) + 1) / len(cur), 0.001)
    return float(np.sum((c - r) * np.log(c / r)))


def segment_metrics(project: Path, segment: str | None) -> dict[tuple[str, str | None], float]:
    rows = query_frame(project, "SELECT metric, feature, value FROM mlmon.metrics WHERE store = 'by_region' "
                                "AND segment IS NOT DISTINCT FROM ?", [segment])
    return {(r.metric, None if pd.isna(r.feature) else r.feature): r.value for r in rows.itertuples()}


@pytest.mark.parametrize("region", ["north", TRICKY, QUOTED])
def test_each_segment_equals_scipy_on_its_own_rows(project, region):
    ref = query_frame(project, "SELECT * FROM mlmon.ref_clf_v1")
    cur = pd.read_parquet(project / "data" / "current_01.parquet")
    ref, cur = ref[ref["region"] == region], cur[cur["region"] == region]
    got = segment_metrics(project, f"region={region}")
    ks = stats.ks_2samp(ref["x"], cur["x"])
    assert got[("ks_statistic", "x")] == pytest.approx(ks.statistic, rel=1e-9, abs=1e-12)
    assert got[("ks_pvalue", "x")] == pytest.approx(ks.pvalue, rel=1e-9, abs=1e-300)
    assert got[("psi", "x")] == pytest.approx(psi_by_spec(ref["x"].to_numpy(), cur["x"].to_numpy()), rel=1e-9)
    counts = ref["kind"].value_counts()
    table = [counts.to_numpy(), cur["kind"].value_counts().reindex(counts.index, fill_value=0).to_numpy()]
    assert got[("chi2_pvalue", "kind")] == pytest.approx(stats.chi2_contingency(table).pvalue, rel=1e-9)
    # performance on the segment's labelled rows, and its drift against the reference's segment
    assert got[("roc_auc", None)] is not None and ("roc_auc_drift", None) in got
    assert got[("drifted", "x")] == (1.0 if region == TRICKY else 0.0)


def test_segments_are_stored_apart_and_viewed_per_segment(project):
    whole = query_frame(project, "SELECT * FROM by_region")
    assert len(whole) == 1  # segment rows do not leak into the store view
    segments = query_frame(project, "SELECT * FROM by_region_segments ORDER BY segment")
    assert sorted(segments["segment"]) == sorted(f"region={r}" for r in ["north", TRICKY, QUOTED])
    assert {"n_features_drifted", "data_drift", "roc_auc"} <= set(segments.columns)
    tricky = segments.set_index("segment").loc[f"region={TRICKY}"]
    assert tricky["n_features_drifted"] >= 1
    features = query_frame(project, "SELECT * FROM by_region_feature_drift")
    assert len(features) == 3  # x, region, kind: the whole data only
    # The tricky value was data, never code: the metrics table is still there and no view
    # carries a segment value in its name.
    views = query_frame(project, "SELECT table_name FROM information_schema.tables WHERE table_schema = 'main'")
    assert not any("DROP" in v or "north" in v for v in views["table_name"])


def test_small_segments_are_named_in_a_warning_not_computed(project):
    warnings = json.loads(query_frame(project, "SELECT warnings FROM mlmon.evaluations WHERE store = 'by_region'")
                          ["warnings"][0])
    assert any("region=tiny" in w and "under 100 rows" in w for w in warnings), warnings
    assert segment_metrics(project, "region=tiny") == {}


def test_segment_values_are_bound_safely_in_sql():
    con = duckdb.connect()
    con.execute("CREATE TABLE t AS SELECT * FROM (VALUES (1, ?), (2, 'x'), (3, ?)) AS v(id, s)", [TRICKY, QUOTED])
    assert con.execute(f"SELECT id FROM {segment_relation('t', 's', TRICKY)}").fetchall() == [(1,)]
    assert con.execute(f"SELECT id FROM {segment_relation('t', 's', QUOTED)}").fetchall() == [(3,)]
    sqlglot.parse_one(segment_relation("t", "s", TRICKY), read="duckdb").sql("spark", unsupported_level=sqlglot.ErrorLevel.RAISE)


@pytest.mark.parametrize("region", ["north", TRICKY])
def test_a_segments_performance_drift_is_against_the_references_rows_of_that_segment(project, region):
    ref = query_frame(project, "SELECT label, proba_1, region FROM mlmon.ref_clf_v1")
    cur = query_frame(project, "SELECT label, proba_1, region FROM mlmon.rows_by_region")
    ref, cur = ref[ref["region"] == region], cur[cur["region"] == region]
    got = segment_metrics(project, f"region={region}")
    auc = roc_auc_score(cur["label"], cur["proba_1"])
    assert got[("roc_auc", None)] == pytest.approx(auc, rel=1e-9)
    assert got[("roc_auc_drift", None)] == pytest.approx(auc - roc_auc_score(ref["label"], ref["proba_1"]), rel=1e-9)
