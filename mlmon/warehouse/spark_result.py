"""What a Spark statement answers, shaped like a DuckDB cursor, and the error it raises.

Rows are fetched lazily (a statement whose rows nobody reads runs no Spark job) and typed with
DuckDB's names, so code written against DuckDB reads either engine's answers alike.
"""

from __future__ import annotations

from contextlib import nullcontext
from typing import Any

import numpy as np
import pandas as pd
from sqlglot import exp

from mlmon.errors import MlmonError
from mlmon.warehouse.spark_codegen import expressions_for
from mlmon.warehouse.spark_errors import spark_error_line
from mlmon.warehouse.spark_trace import traced

__all__ = ["SparkQueryError", "SparkResult", "duckdb_type"]


class SparkQueryError(MlmonError):
    """Spark refused or failed a statement; the message is Spark's first line, then the SQL."""

    def __init__(self, exc: Exception, statement: exp.Expression):
        super().__init__(f"Spark: {spark_error_line(exc)}", hint=f"while running: {statement.sql('duckdb')[:300]}")



def duckdb_type(spark_type: Any) -> str:
    """A Spark DataType as DuckDB names it, so type checks written for DuckDB hold."""
    name = spark_type.simpleString().upper()
    simple = {"STRING": "VARCHAR", "INT": "INTEGER", "TINYINT": "TINYINT", "SMALLINT": "SMALLINT",
              "BIGINT": "BIGINT", "DOUBLE": "DOUBLE", "FLOAT": "FLOAT", "BOOLEAN": "BOOLEAN", "DATE": "DATE",
              "TIMESTAMP": "TIMESTAMP WITH TIME ZONE", "TIMESTAMP_NTZ": "TIMESTAMP", "VOID": "NULL", "BINARY": "BLOB"}
    if name in simple:
        return simple[name]
    if name.startswith("ARRAY<"):
        return duckdb_type(spark_type.elementType) + "[]"
    return name  # DECIMAL(p,s), STRUCT<...>, MAP<...>


class SparkResult:
    """The answer to one statement, fetched lazily like a DuckDB cursor.

    `rows` with `columns` [(name, DuckDB type)] is an answer known without Spark; `memo`, a dict
    the connection empties whenever a statement writes, keeps a query's answer under `key`;
    `pick_mode`: whether the rows are fetched with the expression mode their size calls for
    (mlmon.warehouse.spark_codegen)."""

    def __init__(self, frame: Any | None, sql: str = "", rows: list[tuple] | None = None,
                 columns: list[tuple[str, str]] | None = None, memo: dict | None = None, key: str = "",
                 pick_mode: bool = False):
        self._frame = frame
        self._pick_mode = pick_mode
        self._sql = sql  # for the trace
        self._rows = rows
        self._columns = columns
        self._memo = memo
        self._key = key

    @property
    def description(self) -> list[tuple] | None:
        if self._columns is not None:
            return [(name, dtype, None, None, None, None, None) for name, dtype in self._columns]
        if self._frame is None:
            return None
        return [(f.name, duckdb_type(f.dataType), None, None, None, None, None) for f in self._frame.schema.fields]

    def _collect(self) -> list[tuple]:
        if self._rows is None and self._frame is None:
            self._rows = []
        if self._rows is None and self._memo is not None and ("rows", self._key) in self._memo:
            self._rows = list(self._memo[("rows", self._key)])
        if self._rows is None:
            with traced(self._frame.sparkSession, "fetch", "rows", self._sql), self._mode():
                self._rows = [tuple(_plain(v) for v in row) for row in self._frame.collect()]
            if self._memo is not None:
                self._memo[("rows", self._key)] = tuple(self._rows)
        return self._rows

    def _mode(self) -> Any:
        return expressions_for(self._frame) if self._pick_mode else nullcontext()

    def fetchall(self) -> list[tuple]:
        rows, self._rows = self._collect(), []
        return rows

    def fetchone(self) -> tuple | None:
        rows = self._collect()
        return rows.pop(0) if rows else None

    def df(self) -> pd.DataFrame:
        if self._frame is None:
            if self._columns is None:
                return pd.DataFrame()
            return pd.DataFrame.from_records(self._collect(), columns=[name for name, _ in self._columns])
        if self._memo is not None and ("frame", self._key) in self._memo:
            return self._memo[("frame", self._key)].copy(deep=True)
        with traced(self._frame.sparkSession, "fetch", "frame", self._sql), self._mode():
            frame = self._frame.toPandas()
        if self._memo is not None:
            self._memo[("frame", self._key)] = frame.copy(deep=True)
        return frame

    def fetchnumpy(self) -> dict[str, np.ndarray]:
        frame = self.df()
        return {name: frame[name].to_numpy() for name in frame.columns}



def _plain(value: Any) -> Any:
    if hasattr(value, "asDict"):  # a Row (struct)
        return {k: _plain(v) for k, v in value.asDict().items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value
