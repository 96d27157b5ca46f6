"""DuckDB's `information_schema.tables` / `.columns` on Spark, answered from the catalog listing.

A query over information_schema alone runs in an in-memory DuckDB over the listing (DuckDB's
own semantics, and no Spark job for a few dozen rows); a query joining it with tables reads a
temporary Spark view of the same rows.
"""

from __future__ import annotations

from typing import Any, Callable

import pyarrow as pa
from sqlglot import exp

from mlmon.warehouse.duckdb import CATALOG
from mlmon.warehouse.spark_result import SparkResult

__all__ = ["COLUMNS", "InformationSchema", "reads_only_information_schema"]

# The columns of each table, as Spark DDL.
COLUMNS = {
    "tables": "table_catalog string, table_schema string, table_name string, table_type string",
    "columns": "table_catalog string, table_schema string, table_name string, column_name string, "
               "ordinal_position int, data_type string",
}


def reads_only_information_schema(statement: exp.Expression) -> bool:
    """Whether every relation the query reads is information_schema.tables / .columns."""
    tables = list(statement.find_all(exp.Table))
    return bool(tables) and all(t.db.lower() == "information_schema" and t.name.lower() in COLUMNS
                                and t.catalog in ("", CATALOG) for t in tables)


class InformationSchema:
    """information_schema.<which> from `rows(which)`: the listing's rows in DuckDB's shape."""

    def __init__(self, spark: Any, rows: Callable[[str], list[tuple]]):
        self.spark, self.rows = spark, rows
        self._local: Any = None  # the in-memory DuckDB

    def answer_locally(self, statement: exp.Expression) -> SparkResult:
        """A query over information_schema alone, run by an in-memory DuckDB."""
        import duckdb

        if self._local is None:
            self._local = duckdb.connect()
        for table in list(statement.find_all(exp.Table)):
            which = table.name.lower()
            view = f"__mlmon_information_schema_{which}"
            self._local.register(view, self._table(which))
            table.replace(exp.Table(this=exp.to_identifier(view, quoted=True), alias=table.args.get("alias")))
        cursor = self._local.execute(statement.sql("duckdb"))
        columns = [(d[0], str(d[1])) for d in cursor.description]
        return SparkResult(None, rows=cursor.fetchall(), columns=columns)

    def view(self, which: str) -> str:
        """A temporary Spark view of information_schema.<which>, for a query that joins it with tables."""
        view = f"__mlmon_information_schema_{which}"
        self.spark.createDataFrame(self.rows(which), COLUMNS[which]).createOrReplaceTempView(view)
        return view

    def close(self) -> None:
        if self._local is not None:
            self._local.close()
            self._local = None

    def _table(self, which: str) -> pa.Table:
        names = [column.split()[0] for column in COLUMNS[which].split(", ")]
        types = [pa.int32() if column.endswith(" int") else pa.string() for column in COLUMNS[which].split(", ")]
        rows = self.rows(which)
        return pa.table({n: pa.array([r[i] for r in rows], type=t) for i, (n, t) in enumerate(zip(names, types))})
