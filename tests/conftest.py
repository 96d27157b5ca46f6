"""Shared fixtures: small projects written into tmp folders and the real CLI to run them."""

from __future__ import annotations

import shutil
import textwrap
from pathlib import Path
from typing import Any, Callable

import duckdb
import pandas as pd
import pytest
from click.testing import CliRunner, Result

from mlmon.cli import cli

REPO_ROOT = Path(__file__).resolve().parents[1]
EXAMPLE_FILES = ("mlmon_project.yml", "models", "monitors", "checks", "macros", "data")


def copy_example_project(root: Path) -> Path:
    """The example project at the repository root, copied into `root` as a user would clone it."""
    for name in EXAMPLE_FILES:
        source = REPO_ROOT / name
        (shutil.copytree if source.is_dir() else shutil.copy)(source, root / name)
    return root

ProjectFactory = Callable[[dict[str, str]], Path]


@pytest.fixture
def make_project(tmp_path: Path) -> ProjectFactory:
    """Write {relative path: text} into a fresh project folder (mlmon_project.yml added if absent)."""

    def make(files: dict[str, str]) -> Path:
        root = tmp_path / "project"
        files = {"mlmon_project.yml": "name: test_project\nvars:\n  month: '01'\n", **files}
        for rel, text in files.items():
            path = root / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(textwrap.dedent(text), encoding="utf-8")
        return root

    return make


@pytest.fixture
def mlmon() -> Callable[..., Result]:
    """Run `mlmon ARGS` in-process through click's CliRunner; --project-dir is appended."""

    def run(*args: str, project: Path | None = None) -> Result:
        argv = list(args) + (["--project-dir", str(project)] if project is not None else [])
        return CliRunner().invoke(cli, argv, catch_exceptions=False)

    return run


def _warehouse(root: Path) -> duckdb.DuckDBPyConnection:
    """A read-only connection to a project's warehouse, opened directly as any DuckDB client
    opens it (no ATTACH): every test reading the warehouse also checks that this works."""
    return duckdb.connect(str(root / "target" / "warehouse.duckdb"), read_only=True)


def query_rows(root: Path, sql: str, params: list[Any] | None = None) -> list[tuple]:
    con = _warehouse(root)
    try:
        return con.execute(sql, params or []).fetchall()
    finally:
        con.close()


def query_frame(root: Path, sql: str, params: list[Any] | None = None) -> pd.DataFrame:
    con = _warehouse(root)
    try:
        return con.execute(sql, params or []).df()
    finally:
        con.close()
