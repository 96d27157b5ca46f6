"""A small monitoring project whose warehouse file is not called warehouse.duckdb, built once
per module: what BI tools read (the warehouse opened directly, and its published copy)."""

from __future__ import annotations

import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner, Result

from mlmon.cli import cli

FILES = {
    "mlmon_project.yml": """
        name: bi_tests
        warehouse: target/monitoring.duckdb
        vars:
          month: "2017_01"
        """,
    "models/models.yml": """
        datasets:
          - name: train
            files: data/train.parquet
          - name: current
            files: "data/current_{{ var('month') }}.parquet"
          - name: current_summary
            publish: true
          - name: private_summary
        models:
          - name: clf
            data: train
            target: label
            exclude: [id]
            estimator: sklearn.linear_model.LogisticRegression
        """,
    "models/current_summary.sql": "select count(*) as n, avg(x1) as mean_x1 from current\n",
    "models/private_summary.sql": "select count(*) as n from current\n",
    "monitors/evaluations.yml": """
        evaluations:
          - name: fraud_monitor
            model: clf
            data: current
            labels: {month: "{{ var('month') }}"}
        """,
}


def frame(n: int, seed: int, shift: float = 0.0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    x1 = rng.normal(shift, 1.0, n)
    x2 = rng.normal(0.0, 1.0, n)
    label = (1.2 * x1 - 0.5 * x2 + rng.logistic(size=n) > 0).astype(np.int64)
    return pd.DataFrame({"id": np.arange(n), "x1": x1, "x2": x2, "label": label})


def write_bi_project(root: Path) -> Path:
    for rel, text in FILES.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip(), encoding="utf-8")
    (root / "data").mkdir(exist_ok=True)
    frame(600, 0).to_parquet(root / "data" / "train.parquet", index=False)
    frame(300, 1).to_parquet(root / "data" / "current_2017_01.parquet", index=False)
    frame(300, 2, shift=1.0).to_parquet(root / "data" / "current_2017_02.parquet", index=False)
    return root


def run_cli(root: Path, *args: str) -> Result:
    return CliRunner().invoke(cli, [*args, "--project-dir", str(root)], catch_exceptions=False)


@pytest.fixture(scope="module")
def bi_project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = write_bi_project(tmp_path_factory.mktemp("bi") / "project")
    result = run_cli(root, "build")
    assert result.exit_code == 0, result.output
    return root
