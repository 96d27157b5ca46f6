"""Segments and drift settings of a store evaluated per period from logged predictions."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from scipy import stats

from tests.conftest import query_frame
from tests.evaluation.conftest import run_cli
from tests.evaluation.standalone_project import MONTHS, add_segmented_store, write_standalone_project


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, pd.DataFrame]:
    root = tmp_path_factory.mktemp("standalone_segments") / "project"
    logged = write_standalone_project(root)
    add_segmented_store(root, drift="{pvalue: 0.99, min_psi: 0.000001}")
    result = run_cli(root, "build", "-s", "by_category")
    assert result.exit_code == 0, result.output
    return root, logged


def test_every_period_has_per_segment_ks_equal_to_scipy(built) -> None:
    root, logged = built
    reference = pd.read_parquet(root / "data" / "reference.parquet")
    rows = query_frame(root, "SELECT e.labels, m.segment, m.value FROM mlmon.metrics AS m JOIN mlmon.evaluations AS e "
                             "USING (evaluation_id) WHERE e.store = 'by_category' AND m.metric = 'ks_statistic' "
                             "AND m.feature = 'x1'")
    got = {(json.loads(r.labels)["period"], r.segment): r.value for r in rows.itertuples()}
    assert len(got) == len(MONTHS) * 4  # the whole data and segments a, b, c, per month
    for month in MONTHS:
        current = logged[logged["scored_at"].dt.strftime("%Y-%m") == month]
        for cat in ("a", "b", "c"):
            expected = stats.ks_2samp(reference.loc[reference["cat"] == cat, "x1"],
                                      current.loc[current["cat"] == cat, "x1"]).statistic
            assert got[(f"{month}-01", f"cat={cat}")] == pytest.approx(expected, rel=1e-9)


def test_the_stores_drift_settings_judge_its_features(built) -> None:
    root, _ = built
    flags = query_frame(root, "SELECT value FROM mlmon.metrics WHERE store = 'by_category' AND metric = 'drifted' "
                              "AND feature = 'x2' AND segment IS NULL")["value"]
    # a p-value up to 0.99 with a PSI above 0.000001 counts as drift: every month's x2 is flagged,
    # which the defaults (0.05 with a PSI above 0.1) would not do
    assert len(flags) == len(MONTHS) and (flags == 1).all()
