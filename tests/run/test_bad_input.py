"""Bad files and values: an error that names the file or the column and the fix, no traceback."""

from __future__ import annotations

import os

import numpy as np
import pandas as pd
import pytest

MODEL = {
    "models/s.yml": """
        datasets:
          - {name: train_rows, files: data/train.csv}
          - {name: fresh_rows, files: "data/fresh_*.csv"}
        models:
          - {name: clf, data: train_rows, target: label, estimator: sklearn.linear_model.LogisticRegression}
        scores:
          - {name: scored, model: clf, data: fresh_rows}
        """,
}


def _rows(n: int = 300, seed: int = 1) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({"a": rng.normal(size=n), "b": rng.normal(size=n)})
    frame["label"] = (frame["a"] + rng.normal(size=n) > 0).astype(int)
    return frame


@pytest.fixture
def project(make_project):
    root = make_project(MODEL)
    (root / "data").mkdir()
    _rows().to_csv(root / "data" / "train.csv", index=False)
    _rows(seed=2).to_csv(root / "data" / "fresh_01.csv", index=False)
    return root


@pytest.mark.parametrize("content,problem,fix", [
    ("", "data/fresh_02.csv is empty (0 bytes)", "write its rows (with a header line)"),
    ("a,b,label\n", "data/fresh_02.csv has a header line but no rows", "add its rows"),
])
def test_an_empty_file_is_named_with_the_fix(project, mlmon, content, problem, fix):
    (project / "data" / "fresh_02.csv").write_text(content)
    result = mlmon("build", project=project)
    assert result.exit_code == 1
    assert f"models/s.yml:4: {problem}" in result.output and fix in result.output
    assert "column0" not in result.output and "Traceback" not in result.output
    alone = mlmon("build", "-s", "scored", project=project)  # the file dataset read without being built
    assert alone.exit_code == 1 and problem in alone.output and "column0" not in alone.output


def test_infinities_in_a_feature_name_the_column(project, mlmon):
    fresh = _rows(seed=2)
    fresh.loc[5, "b"] = np.inf
    fresh.to_csv(project / "data" / "fresh_01.csv", index=False)
    result = mlmon("build", project=project)
    assert result.exit_code == 1
    assert "column 'b' holds 1 infinite value(s)" in result.output
    assert "CASE WHEN isinf(b) THEN NULL ELSE b END" in result.output
    assert "ValueError" not in result.output


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes anywhere")
def test_a_dashboard_to_an_unwritable_path_is_a_clear_error(project, mlmon, tmp_path):
    _dashboard_unwritable(project, mlmon, tmp_path)


def test_a_dashboard_to_a_path_under_a_file_is_a_clear_error(project, mlmon, tmp_path):
    (project / "models" / "d.yml").write_text("dashboards:\n  - {name: board, tiles: []}\n")
    blocker = tmp_path / "a_file"
    blocker.write_text("")
    result = mlmon("dashboard", "board", "-o", str(blocker / "board.html"), project=project)
    assert result.exit_code == 2
    assert f"cannot write {blocker / 'board.html'}" in result.output and "Traceback" not in result.output


def _dashboard_unwritable(project, mlmon, tmp_path):
    (project / "models" / "d.yml").write_text("dashboards:\n  - {name: board, tiles: []}\n")
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o500)
    result = mlmon("dashboard", "board", "-o", str(locked / "board.html"), project=project)
    assert result.exit_code == 2 and "cannot write" in result.output
