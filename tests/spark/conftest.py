"""Spark local mode beside DuckDB, for tests that run the same SQL on both engines.

Every test of this directory is skipped when pyspark or a Java runtime is missing, so the rest
of the suite runs without Spark. A process holds one SparkSession and it serves one
warehouse_dir (`spark_session` refuses a second), so every Spark test of a pytest run shares
`spark_home`.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
from pathlib import Path
from typing import Any, Callable, Iterator

import duckdb
import pandas as pd
import pyarrow as pa
import pytest

from mlmon.warehouse.spark import spark_session  # pyspark itself is imported on first use
from mlmon.warehouse.spark_connection import SparkConnection
from mlmon.warehouse.targets import Target


def _spark_unavailable() -> str | None:
    """Why Spark cannot run here, or None."""
    try:
        if importlib.util.find_spec("pyspark") is None:
            return "pyspark is not installed (pip install 'mlmon[spark]')"
    except (ImportError, ValueError):
        return "pyspark cannot be imported"
    java_home = os.environ.get("JAVA_HOME")
    if shutil.which("java") is None and not (java_home and (Path(java_home) / "bin" / "java").exists()):
        return "Spark needs a Java runtime (java is not on PATH)"
    return None


_UNAVAILABLE = _spark_unavailable()
# Before any session starts: local mode must not depend on the host's name resolving.
os.environ["SPARK_LOCAL_IP"] = "127.0.0.1"


@pytest.fixture(scope="session", autouse=True)
def _requires_spark() -> None:
    # A skip in a fixture, not at import: pytest aborts when a conftest named on the command
    # line (pytest tests/spark) raises Skipped while it is loaded.
    if _UNAVAILABLE:
        pytest.skip(_UNAVAILABLE)


# A loader: (table name, frame) -> the relation's SQL, '"main"."<name>"', on both engines.
LoadTable = Callable[[str, "pd.DataFrame | pa.Table"], str]


@pytest.fixture(scope="session")
def spark_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The warehouse_dir of the process's only Spark session (metastore and tables)."""
    return tmp_path_factory.mktemp("spark_home")


@pytest.fixture(scope="session")
def spark_target(spark_home: Path) -> Target:
    """A local Spark target on `spark_home`; two cores at most, the machine is shared."""
    return Target(name="lake", type="spark", master="local[2]", warehouse_dir=spark_home)


@pytest.fixture(scope="session")
def spark_con(spark_target: Target, spark_home: Path) -> Iterator[SparkConnection]:
    """A DuckDB-dialect connection answered by Spark, with schema `main` mapped to database `main`.

    Built from the session rather than a SparkWarehouse: a SparkWarehouse holds the
    warehouse's write lock while open, which would lock other tests out of `spark_home`.
    """
    con = SparkConnection(spark_session(spark_target), spark_home, {"main": "main"})
    con.execute('CREATE SCHEMA IF NOT EXISTS "main"')
    yield con
    con.close()


@pytest.fixture(scope="session")
def duck_con() -> Iterator[duckdb.DuckDBPyConnection]:
    """An in-memory DuckDB; its default schema is `main`, like the Spark side's."""
    con = duckdb.connect()
    yield con
    con.close()


def as_arrow(frame: pd.DataFrame | pa.Table) -> pa.Table:
    """The frame as Arrow with NaN kept apart from NULL: NaN stays NaN, None / pd.NA is NULL.

    pyarrow's pandas conversion would turn every NaN into NULL, and so would the engines'. (A
    float64 column cannot hold None: give NULLs as dtype object or "Float64".)
    """
    if isinstance(frame, pa.Table):
        return frame
    return pa.table({str(name): pa.array(frame[name], from_pandas=False) for name in frame.columns})


@pytest.fixture(scope="session")
def load_table(duck_con: duckdb.DuckDBPyConnection, spark_con: SparkConnection) -> LoadTable:
    """Load one frame as table `main.<name>` into both engines; returns its relation SQL.

    Both copies are created by the same DuckDB-dialect CREATE TABLE AS (translated on Spark),
    from the same Arrow table, so the column types match: DOUBLE, BIGINT, VARCHAR, BOOLEAN.
    """

    def load(name: str, frame: pd.DataFrame | pa.Table) -> str:
        table, view, relation = as_arrow(frame), f"__load_{name}", f'"main"."{name}"'
        create = f"CREATE OR REPLACE TABLE {relation} AS SELECT * FROM {view}"
        for con in (duck_con, spark_con):
            con.register(view, table)
            try:
                con.execute(create)
            finally:
                con.unregister(view)
        return relation

    return load


@pytest.fixture(scope="session")
def engines(duck_con: duckdb.DuckDBPyConnection, spark_con: SparkConnection) -> dict[str, Any]:
    """Both connections by engine name, DuckDB first (the reference answer)."""
    return {"duckdb": duck_con, "spark": spark_con}
