"""The columns of file datasets, checked at compile time, are kept while the files are unchanged.

Kept columns must never hide a change: a file rewritten without a column, a file added to or
removed from a glob, each gives the answer a fresh DESCRIBE gives.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from mlmon.nodes.file_columns import COLUMNS_FILE
from tests.evaluation.conftest import run_cli

NODES = """
datasets:
  - name: logged
    files: data/logged_*.csv
  - name: reference_rows
    files: data/reference.csv
evaluations:
  - name: monthly
    data: logged
    reference: reference_rows
    predictions: {proba: score}
    target: y
    period: {column: scored_at, every: month}
"""


def _rows(month: str, n: int = 40, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame({"x": rng.normal(size=n), "score": rng.random(n), "y": rng.integers(0, 2, n),
                         "scored_at": pd.date_range(f"{month}-01", periods=n, freq="h")})


def _project(root: Path) -> Path:
    (root / "data").mkdir(parents=True)
    (root / "models").mkdir()
    (root / "mlmon_project.yml").write_text("name: kept_columns\n")
    (root / "models" / "monthly.yml").write_text(NODES)
    _rows("2019-01").to_csv(root / "data" / "reference.csv", index=False)
    for month in ("2019-02", "2019-03"):
        _rows(month).to_csv(root / "data" / f"logged_{month}.csv", index=False)
    return root


def _compile(root: Path) -> str:
    result = run_cli(root, "compile")
    return f"{result.exit_code} " + " ".join(result.output.split())


def _kept(root: Path) -> list[dict[str, str]]:
    return list(json.loads((root / "target" / COLUMNS_FILE).read_text()).values())


def test_kept_columns_follow_the_files(tmp_path: Path) -> None:
    root = _project(tmp_path / "project")
    assert _compile(root).startswith("0 "), _compile(root)
    kept = _kept(root)
    assert {"x", "score", "y", "scored_at"} <= set(kept[0])
    assert kept[0]["scored_at"].startswith("TIMESTAMP")

    # Unchanged files: the kept answer, and nothing new kept.
    assert _compile(root).startswith("0 ")
    assert _kept(root) == kept
    # What the compile reads while the files are unchanged is the kept answer (edited here to
    # prove it is read at all), not a new DESCRIBE.
    path = root / "target" / COLUMNS_FILE
    edited = {key: {**columns, "scored_at": "VARCHAR"} for key, columns in json.loads(path.read_text()).items()}
    path.write_text(json.dumps(edited))
    assert "type VARCHAR, not a timestamp or date" in _compile(root)
    path.unlink()

    # A file of the glob rewritten with the period column as text: caught at once.
    broken = _rows("2019-03")
    broken["scored_at"] = "March"
    broken.to_csv(root / "data" / "logged_2019-03.csv", index=False)
    output = _compile(root)
    assert output.startswith("2 ") and "type VARCHAR, not a timestamp or date" in output, output

    # Removed from the glob: the remaining files are described again, and pass.
    os.remove(root / "data" / "logged_2019-03.csv")
    assert _compile(root).startswith("0 ")

    # A new file without the logged score: the glob's union lacks nothing, but a file that
    # replaces the only one does.
    os.remove(root / "data" / "logged_2019-02.csv")
    _rows("2019-04").drop(columns=["score"]).to_csv(root / "data" / "logged_2019-04.csv", index=False)
    output = _compile(root)
    assert output.startswith("2 ") and "has no column 'score'" in output, output


@pytest.mark.parametrize("text", ["{not json", "[1, 2]"])
def test_an_unreadable_kept_file_is_described_again(tmp_path: Path, text: str) -> None:
    root = _project(tmp_path / "project")
    (root / "target").mkdir()
    (root / "target" / COLUMNS_FILE).write_text(text)
    assert _compile(root).startswith("0 ")
    assert _kept(root)


def test_a_damaged_kept_entry_is_described_again(tmp_path: Path) -> None:
    root = _project(tmp_path / "project")
    assert _compile(root).startswith("0 ")
    path = root / "target" / COLUMNS_FILE
    path.write_text(json.dumps({key: {"scored_at": 3} for key in json.loads(path.read_text())}))
    assert _compile(root).startswith("0 ")
    assert _kept(root)[0]["scored_at"].startswith("TIMESTAMP")
