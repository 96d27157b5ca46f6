"""A small monitoring project with a trained model, built once per session and copied per module.

Data are parquet files so that column types survive exactly (an all-missing month stays DOUBLE).
`current_<month>.parquet` months: 01 (like training), 02 (shifted, unseen category, a feature
entirely missing), nolabel (no target column), nulllabel (target always null), one (1 row),
empty (0 rows), nox2 (already scored, feature x2 dropped), rawnox2 (x2 dropped).
"""

from __future__ import annotations

import shutil
import textwrap
from pathlib import Path
from typing import Any, Callable, Iterator

import duckdb
import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner, Result

import mlmon.warehouse.duckdb as warehouse_module
from mlmon.cli import cli
from tests.conftest import query_frame, query_rows

PROJECT_YML = """
name: eval_tests
vars:
  month: "01"
"""

MODELS_YML = """
datasets:
  - name: train
    files: data/train.parquet
  - name: current
    files: "data/current_{{ var('month') }}.parquet"
models:
  - name: clf
    data: train
    target: label
    exclude: [id, extra]
    categorical: [flag]
    estimator: sklearn.linear_model.LogisticRegression
    params: {max_iter: 500}
scores:
  - name: current_scored
    model: clf
    data: current
"""

MONITORS_YML = """
evaluations:
  - name: ev_scored
    model: clf
    data: current_scored
    labels: {month: "{{ var('month') }}"}
  - name: ev_raw
    model: clf
    data: current
    sampling: {method: random, size: 400, seed: 7}
    labels: {month: "{{ var('month') }}", team: risk}
  - name: ev_head
    model: clf
    data: current
    sampling: {method: head, size: 50}
    skip_performance: true
  - name: ev_nolabels
    model: clf
    data: current
    skip_performance: true
    labels: {month: "{{ var('month') }}"}
  - name: ev_strict
    model: clf
    data: current
    labels: {month: "{{ var('month') }}"}
  - name: ev_first
    model: clf
    data: current
    reference: first
    labels: {month: "{{ var('month') }}"}
  - name: ev_previous
    model: clf
    data: current
    reference: previous
    skip_performance: true
    labels: {month: "{{ var('month') }}"}
  - name: ev_features
    model: clf
    data: current
    skip_performance: true
    features: [x1, cat, flag, const, extra]
    categorical: [x1]
  - name: ev_threshold
    model: clf
    data: current_scored
    threshold: 0.3
"""


def make_frame(n: int, seed: int, shift: float = 0.0, new_category: bool = False) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    x1 = rng.normal(shift, 1.0, n)
    x2 = rng.gamma(2.0, 1.0 + shift, n)
    x2[rng.random(n) < 0.1] = np.nan
    categories = ["a", "b", "c", "d"] if new_category else ["a", "b", "c"]
    weights = [0.3, 0.3, 0.2, 0.2] if new_category else [0.5, 0.3, 0.2]
    cat = rng.choice(categories, n, p=weights)
    flag = rng.integers(0, 3, n)
    logit = 1.5 * x1 - 0.6 * np.nan_to_num(x2, nan=2.0) + np.where(cat == "a", 1.0, 0.0) + 0.3 * flag + 0.8
    label = (logit + rng.logistic(size=n) > 0).astype(np.int64)
    return pd.DataFrame({"id": np.arange(n), "x1": x1, "x2": x2, "cat": cat, "flag": flag,
                         "const": np.full(n, 1.0), "extra": rng.normal(0, 1, n), "label": label})


def write_data(root: Path) -> None:
    data = root / "data"
    data.mkdir(parents=True, exist_ok=True)
    make_frame(3000, 0).to_parquet(data / "train.parquet", index=False)
    make_frame(1500, 1).to_parquet(data / "current_01.parquet", index=False)
    shifted = make_frame(1200, 2, shift=0.8, new_category=True)
    shifted["x2"] = np.nan  # a feature that is missing for a whole month
    shifted.to_parquet(data / "current_02.parquet", index=False)
    make_frame(800, 3).drop(columns=["label"]).to_parquet(data / "current_nolabel.parquet", index=False)
    nulls = make_frame(600, 4)
    nulls["label"] = pd.array([None] * len(nulls), dtype="Int64")
    nulls.to_parquet(data / "current_nulllabel.parquet", index=False)
    make_frame(1, 5).to_parquet(data / "current_one.parquet", index=False)
    make_frame(5, 6).iloc[:0].to_parquet(data / "current_empty.parquet", index=False)
    make_frame(700, 9).drop(columns=["x2"]).to_parquet(data / "current_rawnox2.parquet", index=False)
    # Already scored elsewhere (outputs present), and without feature x2.
    nox2 = make_frame(900, 7).drop(columns=["x2"])
    nox2["proba_1"] = np.random.default_rng(8).uniform(0, 1, len(nox2))
    nox2["proba_0"] = 1.0 - nox2["proba_1"]
    nox2["prediction"] = (nox2["proba_1"] >= 0.5).astype(np.int64)
    nox2.to_parquet(data / "current_nox2.parquet", index=False)


def write_project(root: Path) -> None:
    for rel, text in {"mlmon_project.yml": PROJECT_YML, "models/models.yml": MODELS_YML,
                      "monitors/evaluations.yml": MONITORS_YML}.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip(), encoding="utf-8")
    write_data(root)


def run_cli(root: Path, *args: str) -> Result:
    return CliRunner().invoke(cli, [*args, "--project-dir", str(root)], catch_exceptions=False)


@pytest.fixture(scope="session")
def base_project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The project with its model trained and month 01 scored."""
    root = tmp_path_factory.mktemp("eval_base") / "project"
    write_project(root)
    result = run_cli(root, "build", "-s", "+current_scored")
    assert result.exit_code == 0, result.output
    return root


@pytest.fixture(scope="module")
def project(base_project: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A private copy of the built project for one test module."""
    root = tmp_path_factory.mktemp("eval") / "project"
    shutil.copytree(base_project, root)
    return root


@pytest.fixture(scope="module")
def mlmon(project: Path) -> Callable[..., Result]:
    """`mlmon ARGS` on the module's project."""
    return lambda *args: run_cli(project, *args)


Query = Callable[..., list[tuple[Any, ...]]]


# The shared helpers, under the names these tests use.
query_warehouse = query_rows
frame_of = query_frame


@pytest.fixture(scope="module")
def q(project: Path) -> Query:
    return lambda sql, params=None: query_warehouse(project, sql, params)


@pytest.fixture(scope="module")
def df(project: Path) -> Callable[..., pd.DataFrame]:
    return lambda sql, params=None: frame_of(project, sql, params)


# -- statements a build runs ---------------------------------------------------------------------


class RecordingConnection:
    """A DuckDB connection that records the text and parameters of every statement it runs."""

    def __init__(self, con: duckdb.DuckDBPyConnection, record: list[str]):
        self.con, self.record = con, record

    def execute(self, sql: str, params: Any = None) -> Any:
        self.record.append(sql + "".join(f" | {p}" for p in params or ()))
        return self.con.execute(sql, params) if params is not None else self.con.execute(sql)

    def executemany(self, sql: str, rows: Any) -> Any:
        self.record.append(sql)
        return self.con.executemany(sql, rows)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.con, name)


class _RecordingDuckDB:
    """The duckdb module as the warehouse sees it: its connections record their statements."""

    def __init__(self, record: list[str]):
        self.record = record

    def connect(self, *args: Any, **kwargs: Any) -> RecordingConnection:
        return RecordingConnection(duckdb.connect(*args, **kwargs), self.record)

    def __getattr__(self, name: str) -> Any:
        return getattr(duckdb, name)


@pytest.fixture
def recorded(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[Path, str], list[str]]]:
    """`build(root, selection, *options)`: the statements of `mlmon build -s selection *options`
    on its warehouse."""
    def build(root: Path, selection: str, *options: str) -> list[str]:
        record: list[str] = []
        with monkeypatch.context() as patched:
            patched.setattr(warehouse_module, "duckdb", _RecordingDuckDB(record))
            result = run_cli(root, "build", "-s", selection, *options)
        assert result.exit_code == 0, result.output
        return record

    yield build
