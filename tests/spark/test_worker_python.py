"""Spark's Python workers: mlmon's own interpreter on a local master, the target's `python:` if
given, and a worker's failure reported by its Python exception."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tests.spark.test_build_on_spark import mlmon_by_path

pytestmark = pytest.mark.slow


def test_a_failing_worker_reports_its_python_exception(tmp_path: Path) -> None:
    """The target's workers run a Python that cannot import scikit-learn: scoring fails with
    that ModuleNotFoundError as its error line, not with Spark's generic worker message."""
    blocked = tmp_path / "blocked" / "sklearn"
    blocked.mkdir(parents=True)
    (blocked / "__init__.py").write_text("raise ModuleNotFoundError(\"No module named 'sklearn'\")\n")
    python = tmp_path / "python_without_sklearn"
    python.write_text(f"#!/bin/sh\nPYTHONPATH={blocked.parent}:$PYTHONPATH exec {sys.executable} \"$@\"\n")
    python.chmod(0o755)
    root = tmp_path / "project"
    (root / "data").mkdir(parents=True)
    rng = np.random.default_rng(0)
    x = rng.normal(size=200)
    pd.DataFrame({"x": x, "y": (x + rng.normal(size=200) > 0).astype(int)}).to_csv(root / "data" / "rows.csv", index=False)
    (root / "mlmon_project.yml").write_text(
        "name: workers\ntarget: lake\ntargets:\n"
        f"  lake: {{type: spark, master: 'local[1]', warehouse_dir: '{tmp_path / 'spark'}', python: '{python}'}}\n")
    (root / "models").mkdir()
    (root / "models" / "nodes.yml").write_text(
        "datasets:\n  - name: rows\n    files: data/rows.csv\n"
        "models:\n  - name: m\n    data: rows\n    target: y\n    estimator: sklearn.linear_model.LogisticRegression\n"
        "scores:\n  - name: scored\n    model: m\n    data: rows\n")
    code, output = mlmon_by_path(root, "build")
    assert code == 1, output
    line = next(line for line in output.splitlines() if "scored" in line and "error" in line.lower())
    assert "ModuleNotFoundError: No module named 'sklearn'" in line, output
