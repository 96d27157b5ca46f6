"""The benchmark harness end to end at N = 2,000, mlmon only: what it writes, not how fast.

Runs `bench/harness.py` as the README says, with peers disabled and results and data in a
temporary folder (so the committed results and the README are left alone).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]
HARNESS = REPO / "bench" / "harness.py"
ROWS = 2_000
NUMERIC = [f"num_{i}" for i in range(10)]
CATEGORICAL = [f"cat_{i}" for i in range(5)]


@pytest.fixture(scope="module")
def results(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    out = tmp_path_factory.mktemp("bench")
    proc = subprocess.run(
        [sys.executable, str(HARNESS), "--rows", str(ROWS), "--peers", "none", "--repeat", "1",
         "--results-dir", str(out / "results"), "--data-dir", str(out / "data")],
        capture_output=True, text=True, cwd=str(REPO), timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-4000:]
    assert (out / "results" / "results.md").read_text().startswith("# mlmon benchmark results")
    return json.loads((out / "results" / "results.json").read_text())


def test_results_shape(results: dict[str, Any]) -> None:
    assert {"generated_at", "command", "machine", "versions", "sizes", "scale"} <= set(results)
    assert results["machine"]["cores"] >= 1
    assert "duckdb" in results["versions"] and "mlmon" in results["versions"]
    (size,) = results["sizes"]
    assert size["rows"] == ROWS and size["repeat"] == 1
    assert set(size["tools"]) == {"mlmon"} and size["ratios"] == {}
    run = size["tools"]["mlmon"]
    assert run["rows"] == ROWS
    for key in ("wall_s", "cpu_s", "floor_s", "import_s"):
        assert isinstance(run[key], float) and run[key] >= 0, key
    assert isinstance(run["peak_rss_bytes"], int) and run["peak_rss_bytes"] > 0
    assert {"profile", "univariate", "data_drift"} <= set(run["timings"])


def test_every_feature_has_its_statistics(results: dict[str, Any]) -> None:
    columns = results["sizes"][0]["tools"]["mlmon"]["columns"]
    assert set(columns) == set(NUMERIC + CATEGORICAL)
    for name in NUMERIC:
        assert {"ks_statistic", "ks_pvalue", "psi", "wasserstein", "drifted"} <= set(columns[name]), name
    for name in CATEGORICAL:
        assert {"chi2_pvalue", "psi", "drifted"} <= set(columns[name]), name


def test_ks_and_wasserstein_agree_with_scipy(results: dict[str, Any]) -> None:
    rows = results["sizes"][0]["agreement"]["rows"]
    for statistic in ("ks_statistic", "ks_pvalue", "wasserstein"):
        compared = [r for r in rows if r["tool"] == "mlmon" and r["statistic"] == statistic]
        assert {r["column"] for r in compared} == set(NUMERIC), statistic
        for row in compared:
            assert row["abs_diff"] is not None and row["abs_diff"] <= 1e-9, row
