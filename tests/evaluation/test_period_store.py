"""A period store read in place (every period's univariate drift in grouped scans) stores what
the same store stores when each period's rows are copied and evaluated alone.

Two stores evaluate the same logged rows against the same reference: `in_place` evaluates all
rows (`sampling: full`: the periods are read in place from one table, their drift computed in
grouped scans), `copied` takes the first 100,000 rows of each period (all of them here) into a
table of its own and evaluates it alone. Every metric of every period (univariate drift, data
quality, CBPE, realised performance, prediction drift, label coverage, and the domain classifier,
which samples 600 rows of the first month and takes every row of the others, read together) and
every warning agree.
The months cover missing values, an unseen category, a month of one row and one of three.
"""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tests.conftest import query_frame
from tests.evaluation.conftest import run_cli

STORE = """
  - name: {name}
    data: logged
    reference: reference_rows
    predictions: {{proba: score, prediction: decision}}
    target: outcome
    period: {{column: at, every: month}}
    drift_sample: 600
    skip_performance: false
    sampling: {sampling}
"""


def _rows(rng: np.random.Generator, n: int, shift: float, month: str) -> pd.DataFrame:
    x = rng.normal(shift, 1.0, n)
    x[rng.random(n) < 0.1] = np.nan
    cat = rng.choice(["a", "b", "c"], n, p=[0.5 - shift / 4, 0.3, 0.2 + shift / 4]).astype(object)
    cat[rng.random(n) < 0.05] = None
    score = 1.0 / (1.0 + np.exp(-(1.5 * np.nan_to_num(x) + np.where(cat == "a", 0.7, 0.0))))
    outcome = (rng.random(n) < score).astype(float)
    outcome[rng.random(n) < 0.2] = np.nan  # outcomes not known yet
    at = pd.Timestamp(f"{month}-01") + pd.to_timedelta(rng.integers(0, 27 * 86_400, n), unit="s")
    return pd.DataFrame({"x": x, "ties": np.round(rng.normal(shift, 1, n), 1), "cat": cat, "score": score,
                         "decision": (score >= 0.4).astype(np.int64), "outcome": outcome, "at": at})


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("period_store") / "project"
    (root / "data").mkdir(parents=True)
    rng = np.random.default_rng(11)
    reference = _rows(rng, 2000, 0.0, "2020-01")
    reference["outcome"] = (rng.random(len(reference)) < reference["score"]).astype(float)
    reference.to_parquet(root / "data" / "reference.parquet", index=False)
    months = [_rows(rng, 700, 0.0, "2020-03"), _rows(rng, 500, 0.7, "2020-04"), _rows(rng, 1, 0.0, "2020-05"),
              _rows(rng, 3, 0.3, "2020-06")]
    months[1].loc[::9, "cat"] = "new"  # a category the reference never saw
    months[2]["outcome"] = 1.0
    pd.concat(months, ignore_index=True).to_parquet(root / "data" / "logged.parquet", index=False)
    files = {
        "mlmon_project.yml": "name: period_store\nsettings:\n  evaluation_keep_rows: 300\n",
        "models/datasets.yml": textwrap.dedent("""
            datasets:
              - name: reference_rows
                files: data/reference.parquet
              - name: logged
                files: data/logged.parquet
            """),
        "monitors/evaluations.yml": "evaluations:\n" + STORE.format(name="in_place", sampling="{method: full}")
        + STORE.format(name="copied", sampling="{method: head, size: 100000}"),
    }
    for rel, text in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text.lstrip(), encoding="utf-8")
    result = run_cli(root, "build")
    assert result.exit_code == 0, result.output
    return root


def _stored(root: Path, store: str) -> tuple[dict, dict]:
    metrics = query_frame(root, "SELECT e.labels, m.metric, m.feature, m.segment, m.value, m.lower, m.upper "
                                "FROM mlmon.metrics AS m JOIN mlmon.evaluations AS e USING (evaluation_id) "
                                "WHERE e.store = ?", [store])
    values = {}
    for r in metrics.itertuples():
        key = (json.loads(r.labels)["period"], r.metric, None if pd.isna(r.feature) else r.feature, r.segment)
        values[key] = tuple(None if pd.isna(v) else float(v) for v in (r.value, r.lower, r.upper))
    runs = query_frame(root, "SELECT labels, n_rows, n_evaluated, has_ground_truth, reference, warnings "
                             "FROM mlmon.evaluations WHERE store = ?", [store])
    records = {json.loads(r.labels)["period"]: (r.n_rows, r.n_evaluated, r.has_ground_truth, r.reference, r.warnings)
               for r in runs.itertuples()}
    return values, records


def test_every_period_stores_what_it_stores_alone(project: Path) -> None:
    grouped, grouped_runs = _stored(project, "in_place")
    alone, alone_runs = _stored(project, "copied")
    assert sorted(grouped_runs) == ["2020-03-01", "2020-04-01", "2020-05-01", "2020-06-01"]
    assert grouped_runs == alone_runs
    assert grouped.keys() == alone.keys()
    families = {key[1] for key in grouped}
    assert {"ks_pvalue", "wasserstein", "chi2_pvalue", "new_category_share", "missing_share", "estimated_roc_auc",
            "roc_auc", "accuracy", "f1", "log_loss", "brier_score", "average_precision", "accuracy_drift",
            "predicted_class_share", "label_coverage", "data_drift"} <= families
    for key, want in alone.items():
        for got, value in zip(grouped[key], want):
            if value is None:
                assert got is None, key
            else:
                assert got == pytest.approx(value, rel=1e-9, abs=1e-12), key
    assert grouped[("2020-04-01", "new_category_share", "cat", None)][0] > 0


def test_every_period_keeps_the_rows_it_keeps_alone(project: Path) -> None:
    """The kept rows drawn for all periods in grouped statements (at most 300 a period here) are each
    period's own sample."""
    kept = {}
    for store in ("in_place", "copied"):
        rows = query_frame(project, f"SELECT e.labels, r.* EXCLUDE (evaluation_id) FROM mlmon.rows_{store} AS r "
                                    "JOIN mlmon.evaluations AS e USING (evaluation_id)")
        kept[store] = sorted(map(str, rows.astype(str).itertuples(index=False)))
    assert len(kept["in_place"]) == 300 + 300 + 1 + 3  # at most 300 a period
    assert kept["in_place"] == kept["copied"]
