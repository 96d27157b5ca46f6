"""Periods of timestamps with a zone are UTC months on every machine, as on Spark."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd


def test_periods_are_utc_months_whatever_the_machines_zone(tmp_path: Path) -> None:
    root = tmp_path / "project"
    (root / "data").mkdir(parents=True)
    (root / "models").mkdir()
    (root / "mlmon_project.yml").write_text("name: zones\n")
    rng = np.random.default_rng(0)
    n = 400
    # Around the turn of a month, written with an offset: the UTC month and the local ones differ.
    instants = pd.Timestamp("2024-01-31T20:00:00Z") + pd.to_timedelta(rng.integers(0, 8 * 3600, n), unit="s")
    proba = rng.random(n)
    rows = pd.DataFrame({"at": instants.tz_convert("Asia/Karachi").strftime("%Y-%m-%dT%H:%M:%S%z"), "x": rng.normal(size=n),
                         "score": proba, "outcome": (rng.random(n) < proba).astype(int)})
    rows.to_csv(root / "data" / "logged.csv", index=False)
    rows.drop(columns="at").to_csv(root / "data" / "reference.csv", index=False)
    (root / "models" / "all.yml").write_text(
        "datasets:\n  - name: logged\n    files: data/logged.csv\n  - name: reference\n    files: data/reference.csv\n"
        "evaluations:\n  - name: zoned\n    data: logged\n    reference: reference\n    predictions: {proba: score}\n"
        "    target: outcome\n    features: [x]\n    period: {column: at, every: month}\n    data_drift: false\n")
    env = {**os.environ, "TZ": "America/New_York"}  # five hours behind UTC, Karachi five ahead
    done = subprocess.run([sys.executable, "-m", "mlmon", "build"], cwd=root, env=env, capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    con = duckdb.connect(str(root / "target" / "warehouse.duckdb"), read_only=True)
    try:
        got = dict(con.execute("SELECT CAST(period AS VARCHAR), n_evaluated FROM zoned").fetchall())
    finally:
        con.close()
    utc_months = instants.tz_convert("UTC").strftime("%Y-%m-01").value_counts().to_dict()
    assert got == utc_months and set(got) == {"2024-01-01", "2024-02-01"}
