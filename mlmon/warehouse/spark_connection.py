"""A DB-API-shaped connection over a SparkSession that speaks mlmon's DuckDB SQL.

Every statement goes parse (DuckDB) → bind → `spark_dialect.to_spark` → generate (Spark).
What Spark's session catalog cannot do in one statement is done here with the catalog at hand:
file scans become temporary views read by Spark's DataFrame reader, `CREATE OR REPLACE TABLE`
becomes drop-and-create, and `DELETE` / `UPDATE` rebuild the table under a staging name and
swap it in. `information_schema.tables` and `DESCRIBE` are answered from the catalog with
DuckDB's type names, so callers need not know which engine they talk to.
"""

from __future__ import annotations

import glob
import hashlib
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import pandas as pd
import pyarrow as pa
from sqlglot import exp

from mlmon.errors import MlmonError
from mlmon.warehouse.duckdb import CATALOG
from mlmon.warehouse.spark_errors import is_spark_error, spark_error_line
from mlmon.warehouse.tables import SCRATCH_SCHEMA, SYSTEM_SCHEMA
from mlmon.warehouse.spark_dialect import (
    SparkTranslationError, bind, file_reader, is_noop, parse_duckdb, spark_sql, to_spark,
)

__all__ = ["SparkConnection", "SparkResult", "SparkQueryError", "duckdb_type"]

_REWRITE_SUFFIX = "__mlmon_rewrite"
_INFORMATION_SCHEMA = {
    "tables": "table_catalog string, table_schema string, table_name string, table_type string",
    "columns": "table_catalog string, table_schema string, table_name string, column_name string, "
               "ordinal_position int, data_type string",
}


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
    """The answer to one statement, fetched lazily like a DuckDB cursor."""

    def __init__(self, frame: Any | None):
        self._frame = frame
        self._rows: list[tuple] | None = None

    @property
    def description(self) -> list[tuple] | None:
        if self._frame is None:
            return None
        return [(f.name, duckdb_type(f.dataType), None, None, None, None, None) for f in self._frame.schema.fields]

    def _collect(self) -> list[tuple]:
        if self._rows is None:
            self._rows = [] if self._frame is None else [tuple(_plain(v) for v in row) for row in self._frame.collect()]
        return self._rows

    def fetchall(self) -> list[tuple]:
        rows, self._rows = self._collect(), []
        return rows

    def fetchone(self) -> tuple | None:
        rows = self._collect()
        return rows.pop(0) if rows else None

    def df(self) -> pd.DataFrame:
        if self._frame is None:
            return pd.DataFrame()
        return self._frame.toPandas()

    def fetchnumpy(self) -> dict[str, np.ndarray]:
        frame = self.df()
        return {name: frame[name].to_numpy() for name in frame.columns}



def _plain(value: Any) -> Any:
    if hasattr(value, "asDict"):  # a Row (struct)
        return {k: _plain(v) for k, v in value.asDict().items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


class SparkConnection:
    """What mlmon calls on a DuckDB connection, answered by Spark."""

    engine = "spark"

    def __init__(self, spark: Any, root: Path, schema_map: dict[str, str]):
        self.spark = spark
        self.root = Path(root)
        self.schema_map = dict(schema_map)  # DuckDB schema → Spark database
        self._duckdb_schema = {v: k for k, v in self.schema_map.items()}
        self._file_views: dict[str, str] = {}
        self._tables: list[tuple[str, str, str]] | None = None  # (database, name, type) until DDL
        self._columns_cache: dict[tuple[str, str], list[tuple[str, str]]] = {}

    def _databases(self) -> list[str]:
        mine = {*self.schema_map.values(), SYSTEM_SCHEMA, SCRATCH_SCHEMA}
        return sorted(r[0] for r in self.spark.sql("SHOW DATABASES").collect() if r[0] in mine)

    def catalog_changed(self) -> None:
        """Forget the cached catalog listing: a table was created, dropped or altered."""
        self._tables = None
        self._columns_cache.clear()

    # -- the DuckDB connection surface --------------------------------------------------------

    def execute(self, sql: str | exp.Expression, params: Sequence[Any] | None = None) -> SparkResult:
        if isinstance(sql, exp.Expression):
            sql = sql.sql("duckdb")
        result = SparkResult(None)
        for statement in parse_duckdb(bind(sql, params)):
            result = self._run(statement)
        return result

    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        """One INSERT with every row, rather than one Spark job per row."""
        statement = parse_duckdb(sql)[0]
        values = statement.expression
        if not isinstance(statement, exp.Insert) or not isinstance(values, exp.Values):
            for row in rows:
                self.execute(sql, row)
            return
        template = values.expressions[0].sql("duckdb")
        values.set("expressions", [parse_duckdb(f"SELECT {bind(template, row)}")[0].expressions[0] for row in rows])
        if rows:
            self._run(statement)

    def sql(self, sql: str) -> SparkResult:
        return self.execute(sql)

    def register(self, name: str, data: pd.DataFrame | pa.Table) -> None:
        table = data if isinstance(data, pa.Table) else pa.Table.from_pandas(data, preserve_index=False)
        # Spark cannot store a column of type NULL; an all-null column is text until proven otherwise.
        for index, field in enumerate(table.schema):
            if pa.types.is_null(field.type):
                table = table.set_column(index, field.name, table.column(index).cast(pa.string()))
        self.spark.createDataFrame(table).createOrReplaceTempView(name)

    def unregister(self, name: str) -> None:
        self.spark.catalog.dropTempView(name)

    def dataframe(self, sql: str | exp.Expression) -> Any:
        """A Spark DataFrame for one DuckDB-dialect query, not yet computed."""
        statement = parse_duckdb(sql)[0] if isinstance(sql, str) else sql
        self._replace_sources(statement)
        return self.spark.sql(spark_sql(to_spark(statement, self.schema_map)))

    def table_name(self, name: str) -> str:
        """A DuckDB table name (`"main"."t"`, `t`) as Spark SQL names it."""
        return to_spark(exp.to_table(name, dialect="duckdb"), self.schema_map).sql("spark")

    def cursor(self) -> "SparkConnection":
        return self

    def close(self) -> None:
        for view in self._file_views.values():
            self.spark.catalog.dropTempView(view)
        self._file_views.clear()

    # -- statements ---------------------------------------------------------------------------

    def _run(self, statement: exp.Expression) -> SparkResult:
        try:
            return self._translate_and_run(statement)
        except Exception as exc:
            if is_spark_error(exc):
                raise SparkQueryError(exc, statement) from None
            raise

    def _translate_and_run(self, statement: exp.Expression) -> SparkResult:
        if is_noop(statement):
            return SparkResult(None)
        if isinstance(statement, (exp.Create, exp.Drop, exp.Alter, exp.Delete, exp.Update)):
            self.catalog_changed()
        if isinstance(statement, exp.Describe):
            return self._describe(statement.this)
        self._replace_sources(statement)
        statement = to_spark(statement, self.schema_map)
        if isinstance(statement, exp.Delete):
            where = statement.args.get("where")
            deleted = where.this if where is not None else exp.true()
            return self._rebuild(statement.this, keep=exp.not_(exp.func("COALESCE", deleted, exp.false())))
        if isinstance(statement, exp.Update):
            return self._update(statement)
        if isinstance(statement, exp.Create) and statement.kind == "SCHEMA" and statement.args.get("exists"):
            if self.spark.catalog.databaseExists(self.schema_map.get(statement.this.db, statement.this.db)):
                return SparkResult(None)  # the metastore logs an error for IF NOT EXISTS on an existing one
        if isinstance(statement, exp.Create) and statement.kind == "TABLE":
            statement = self._create_table(statement)
        if isinstance(statement, exp.Alter):
            self._qualify_rename(statement)
        _json_as_text(statement)
        return SparkResult(self.spark.sql(spark_sql(statement)))

    def _describe(self, query: exp.Expression) -> SparkResult:
        frame = self.dataframe(query)
        rows = [(f.name, duckdb_type(f.dataType), "YES") for f in frame.schema.fields]
        described = self.spark.createDataFrame(rows, "column_name string, column_type string, null string") if rows else None
        return SparkResult(described)

    def _replace_sources(self, statement: exp.Expression) -> None:
        """File scans → temporary views; information_schema.tables → the catalog's answer."""
        for table in list(statement.find_all(exp.Table)):
            scan = file_reader(table)
            if scan is not None:
                view = self._file_view(*scan)
                table.replace(exp.Table(this=exp.to_identifier(view, quoted=True), alias=table.args.get("alias")))
            elif table.db.lower() == "information_schema" and table.name.lower() in _INFORMATION_SCHEMA:
                view = self._information_schema(table.name.lower())
                table.replace(exp.Table(this=exp.to_identifier(view, quoted=True), alias=table.args.get("alias")))
            elif table.catalog == CATALOG:  # DuckDB's attached file: here, the session catalog
                table.set("catalog", None)
        for call in list(statement.find_all(exp.CurrentSchema)):
            call.replace(exp.Literal.string("main"))

    def _file_view(self, fmt: str, paths: list[str], options: dict[str, Any]) -> str:
        # Lake URIs (s3://, abfss://, hdfs://...) are the cluster's to resolve; local paths are
        # relative to the project, as in DuckDB.
        resolved = [p if "://" in p or Path(p).is_absolute() else str(self.root / p) for p in paths]
        key = hashlib.sha256(repr((fmt, resolved, sorted(options.items()))).encode()).hexdigest()[:16]
        if key in self._file_views:
            return self._file_views[key]
        missing = [p for p in resolved if "://" not in p and not glob.glob(p)]
        if missing:
            raise SparkTranslationError(f"no file matches {missing[0]}")
        reader = self.spark.read
        if fmt == "csv":
            delimiter = options.get("delim") or options.get("sep") or ","
            reader = reader.option("header", str(options.get("header", True)).lower()).option("inferSchema", "true").option("sep", delimiter)
        # One reader per file, unioned in the order given: rows keep file order as in DuckDB.
        frames = [getattr(reader, fmt)(path) for path in resolved]
        frame = frames[0]
        for other in frames[1:]:
            frame = frame.unionByName(other, allowMissingColumns=True)
        view = f"__mlmon_files_{key}"
        frame.createOrReplaceTempView(view)
        self._file_views[key] = view
        return view

    def _information_schema(self, which: str) -> str:
        """DuckDB's information_schema.tables / .columns over mlmon's databases, from the catalog.

        Only the databases mlmon writes are listed (a cluster's catalog may hold thousands), and
        the answer is kept until mlmon changes a table (`catalog_changed`).
        """
        if self._tables is None:
            self._tables = []
            for database in self._databases():
                views = {r[1] for r in self.spark.sql(f"SHOW VIEWS IN `{database}`").collect() if not r[2]}
                for row in self.spark.sql(f"SHOW TABLES IN `{database}`").collect():
                    if not row[2]:  # isTemporary
                        self._tables.append((database, row[1], "VIEW" if row[1] in views else "BASE TABLE"))
        if which == "tables":
            rows = [(CATALOG, self._duckdb_schema.get(db, db), name, kind) for db, name, kind in self._tables]
        else:
            rows = []
            for database, name, _ in self._tables:
                if (database, name) not in self._columns_cache:
                    fields = self.spark.table(f"`{database}`.`{name}`").schema.fields
                    self._columns_cache[(database, name)] = [(f.name, duckdb_type(f.dataType)) for f in fields]
                schema = self._duckdb_schema.get(database, database)
                rows += [(CATALOG, schema, name, column, i, dtype)
                         for i, (column, dtype) in enumerate(self._columns_cache[(database, name)], 1)]
        view = f"__mlmon_information_schema_{which}"
        self.spark.createDataFrame(rows, _INFORMATION_SCHEMA[which]).createOrReplaceTempView(view)
        return view

    def _create_table(self, create: exp.Create) -> exp.Create:
        if create.args.get("replace"):
            create.set("replace", False)
            table = create.this.this if isinstance(create.this, exp.Schema) else create.this
            self.spark.sql(f"DROP TABLE IF EXISTS {table.sql('spark')}")
        properties = create.args.get("properties") or exp.Properties(expressions=[])
        properties.append("expressions", exp.FileFormatProperty(this=exp.Var(this="PARQUET")))
        create.set("properties", properties)
        return create

    def _qualify_rename(self, alter: exp.Alter) -> None:
        for action in alter.args.get("actions") or []:
            if isinstance(action, exp.AlterRename) and not action.this.db and alter.this.db:
                action.this.set("db", exp.to_identifier(alter.this.db, quoted=True))

    def _columns(self, table: exp.Table) -> list[tuple[str, str]]:
        frame = self.spark.table(table.sql("spark"))
        return [(f.name, f.dataType.simpleString()) for f in frame.schema.fields]

    def _update(self, update: exp.Update) -> SparkResult:
        table = update.this
        assigned = {eq.this.name: eq.expression for eq in update.expressions}
        condition = update.args["where"].this if update.args.get("where") else exp.true()
        projection = []
        for name, dtype in self._columns(table):
            column = exp.column(name, quoted=True)
            if name in assigned:
                value = exp.If(this=condition.copy(), true=assigned[name].copy(), false=column)
                column = exp.cast(value, exp.DataType.build(dtype, dialect="spark"))
            projection.append(exp.alias_(column, name, quoted=True))
        return self._rebuild(table, projection=projection)

    def _rebuild(self, table: exp.Table, keep: exp.Expression | None = None,
                 projection: list[exp.Expression] | None = None) -> SparkResult:
        """Rewrite `table` as SELECT projection FROM table WHERE keep, swapped in by rename."""
        staging = exp.table_(table.name + _REWRITE_SUFFIX, db=table.db, quoted=True)
        query = exp.select(*(projection or [exp.Star()])).from_(table.copy())
        if keep is not None:
            query = query.where(keep)
        self.spark.sql(f"DROP TABLE IF EXISTS {staging.sql('spark')}")
        self.spark.sql(f"CREATE TABLE {staging.sql('spark')} USING PARQUET AS {query.sql('spark')}")
        self.spark.sql(f"DROP TABLE {table.sql('spark')}")
        self.spark.sql(f"ALTER TABLE {staging.sql('spark')} RENAME TO {table.sql('spark')}")
        return SparkResult(None)


def _json_as_text(statement: exp.Expression) -> None:
    """Spark tables have no JSON type: JSON documents are stored as STRING."""
    for dtype in statement.find_all(exp.DataType):
        if dtype.this == exp.DataType.Type.JSON:
            dtype.replace(exp.DataType.build("STRING"))
