"""A DB-API-shaped connection over a SparkSession that speaks mlmon's DuckDB SQL.

Every statement goes parse (DuckDB) → bind → `spark_dialect.to_spark` → generate (Spark).
What Spark's session catalog cannot do in one statement is done here with the catalog at hand:
file scans become temporary views read by Spark's DataFrame reader (`spark_files`), `CREATE OR REPLACE TABLE`
becomes drop-and-create, and `DELETE` / `UPDATE` rebuild the table under a staging name and
swap it in (`mlmon.warehouse.spark_rewrites`). `information_schema.tables` and `DESCRIBE` are
answered from the catalog with DuckDB's type names, so callers need not know which engine
they talk to.

Spark pays a job, often several, for every statement, and the metastore a round trip for every
table created or dropped; on small data that is nearly all of a build's time. So what needs no
Spark job runs none: DESCRIBE comes from the query's analysed schema, a query over
information_schema alone runs in an in-memory DuckDB over the catalog's listing (kept until
mlmon changes a table; `spark_information_schema`), a query's rows are memoised until the next statement that writes (a
scratch table is counted several times), a relation's description until a statement may change
its columns (it is described several times), and the staging schema's tables are cached
temporary views (`mlmon.warehouse.spark_staged`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

import pandas as pd
import pyarrow as pa
from sqlglot import exp

from mlmon.warehouse.duckdb import CATALOG
from mlmon.warehouse.spark_catalog import CatalogListing, created_table, ddl_targets, keeps_listing
from mlmon.warehouse.spark_codegen import chooses_expression_mode
from mlmon.warehouse.spark_errors import is_spark_error
from mlmon.warehouse.spark_files import FileViews
from mlmon.warehouse.spark_information_schema import COLUMNS, InformationSchema, reads_only_information_schema
from mlmon.warehouse.spark_result import SparkQueryError, SparkResult, duckdb_type
from mlmon.warehouse.spark_rewrites import (as_parquet_table, delete_by_rebuild, json_as_text,
                                            qualify_rename, update_by_rebuild)
from mlmon.warehouse.spark_staged import StagedViews
from mlmon.warehouse.spark_trace import traced
from mlmon.warehouse.spark_unions import merge_union_scans
from mlmon.warehouse.tables import STAGING_SCHEMA, SYSTEM_SCHEMA
from mlmon.warehouse.spark_dialect import (
    bind, file_reader, is_noop, parse_duckdb, spark_sql, to_spark,
)

__all__ = ["SparkConnection", "SparkResult", "SparkQueryError", "duckdb_type"]

_DESCRIBE_COLUMNS = ("column_name", "column_type", "null", "key", "default", "extra")  # as DuckDB's DESCRIBE
_DESCRIBE_RESULT = [(name, "VARCHAR") for name in _DESCRIBE_COLUMNS]
# Functions whose answer changes between two runs of the same query: never memoised.
_VOLATILE = (exp.Rand, exp.Randn, exp.CurrentTimestamp, exp.CurrentDate, exp.CurrentTime, exp.CurrentDatetime, exp.Uuid)


class SparkConnection:
    """What mlmon calls on a DuckDB connection, answered by Spark."""

    engine = "spark"

    def __init__(self, spark: Any, root: Path, schema_map: dict[str, str], memoise: bool = True):
        """`memoise`: keep query answers until this connection writes; only for the warehouse's
        one writer, since nobody else can change a table meanwhile."""
        self.spark = spark
        self.root = Path(root)
        self.schema_map = dict(schema_map)  # DuckDB schema → Spark database
        self._duckdb_schema = {v: k for k, v in self.schema_map.items()}
        self._files = FileViews(spark, self.root)
        self._catalog = CatalogListing(spark, lambda: {*self.schema_map.values(), SYSTEM_SCHEMA, STAGING_SCHEMA},
                                       lambda frame: [(f.name, duckdb_type(f.dataType)) for f in frame.schema.fields])
        self._staged = StagedViews(spark)
        self._memo: dict[tuple[str, str], Any] = {}  # query answers, until the next write
        # DESCRIBE answers by statement text, until a relation the text names may have changed
        # (`_forget_described`): rows written or a lookup table registered change no columns.
        self._described: dict[str, tuple[Any, ...]] = {}
        self._memoise = memoise
        self._information_schema = InformationSchema(spark, self._information_schema_rows)
        # Rewrites that evaluate expressions on rows a WHERE drops need Spark's NULL-for-errors.
        self._merge_unions = str(spark.conf.get("spark.sql.ansi.enabled", "false")).lower() != "true"
        self._pick_mode = chooses_expression_mode(spark)

    def catalog_changed(self) -> None:
        """Forget the cached catalog listing and answers: a table was created, dropped or altered."""
        self._catalog.forget()
        self._memo.clear()
        self._described.clear()

    def stage_frame(self, table: str, frame: Any) -> int | None:
        """Keep a DataFrame as the staging-schema table `table` (DuckDB SQL names it), cached
        (`mlmon.warehouse.spark_staged`): its row count. None, having done nothing, when `table`
        is not in the staging schema."""
        name = StagedViews.staged_name(exp.to_table(table, dialect="duckdb"))
        if name is None:
            return None
        self._forget_described(name)
        return self._staged.create_from(name, frame)

    # -- the DuckDB connection surface --------------------------------------------------------

    def execute(self, sql: str | exp.Expression, params: Sequence[Any] | None = None) -> SparkResult:
        if isinstance(sql, exp.Expression):
            sql = sql.sql("duckdb")
        text = bind(sql, params)
        # A relation is described again and again (each metric family asks for its columns): the
        # answer is kept until a statement may change the relation's columns.
        described = text if self._memoise and text[:9].upper() == "DESCRIBE " else None
        if described is not None and described in self._described:
            return SparkResult(None, rows=list(self._described[described]), columns=_DESCRIBE_RESULT)
        result = SparkResult(None)
        for statement in parse_duckdb(text):
            result = self._run(statement)
        if described is not None and result._rows is not None:
            self._described[described] = tuple(result._rows)
        return result

    def _forget_described(self, name: str | None = None) -> None:
        """Forget the descriptions naming `name` (a staged relation or a registered lookup
        table created, replaced or dropped), or every description."""
        if name is None:
            self._described.clear()
            return
        needle = name.lower()
        self._described = {text: rows for text, rows in self._described.items() if needle not in text.lower()}

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
        self._memo.clear()  # the name may have meant other rows
        self._forget_described(name)

    def unregister(self, name: str) -> None:
        self.spark.catalog.dropTempView(name)
        self._memo.clear()
        self._forget_described(name)

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
        self._staged.drop_all()
        self._files.close()
        self._memo.clear()
        self._described.clear()
        self._information_schema.close()

    # -- statements ---------------------------------------------------------------------------

    def _run(self, statement: exp.Expression) -> SparkResult:
        text = ""

        def sql_text() -> str:
            nonlocal text
            text = statement.sql("duckdb")  # before translation rewrites the tree in place
            return text

        try:
            with traced(self.spark, "run", type(statement).__name__, sql_text):
                result = self._translate_and_run(statement)
            result._sql = text
            return result
        except Exception as exc:
            if is_spark_error(exc):
                raise SparkQueryError(exc, statement) from None
            raise

    def _translate_and_run(self, statement: exp.Expression) -> SparkResult:
        if is_noop(statement):
            return SparkResult(None)
        reads = isinstance(statement, (exp.Query, exp.Describe))
        if not reads:
            self._memo.clear()
            self._forget_changed(statement)
        staged = self._staged_statement(statement)
        if staged is not None:
            return staged
        if isinstance(statement, exp.Create) and self._exists_already(statement):
            return SparkResult(None)
        change = None
        ddl = isinstance(statement, (exp.Create, exp.Drop, exp.Alter, exp.Delete, exp.Update))
        if ddl and not keeps_listing(statement):
            # A store's three views refreshed would otherwise list the catalog after each.
            change = self._catalog.change_of(statement, self.schema_map)
            if change is None:
                self.catalog_changed()
            else:
                self._catalog.changing(change)
        try:
            result = self._run_translated(statement, reads)
        except BaseException:
            if change is not None:
                self.catalog_changed()  # whatever the failed statement left, list again
            raise
        if change is not None:
            self._catalog.changed(change)
        return result

    def _run_translated(self, statement: exp.Expression, reads: bool) -> SparkResult:
        if isinstance(statement, exp.Describe):
            return self._describe(statement.this)
        if isinstance(statement, exp.Query) and reads_only_information_schema(statement):
            return self._information_schema.answer_locally(statement)
        counted = self._staged.count(statement)
        if counted is not None:
            return SparkResult(None, rows=[(counted,)], columns=[("count_star()", "BIGINT")])
        self._replace_sources(statement)
        statement = to_spark(statement, self.schema_map)
        if isinstance(statement, exp.Delete):
            delete_by_rebuild(self.spark, statement)
            return SparkResult(None)
        if isinstance(statement, exp.Update):
            update_by_rebuild(self.spark, statement)
            return SparkResult(None)
        if isinstance(statement, exp.Create) and statement.kind == "SCHEMA" and statement.args.get("exists"):
            if self.spark.catalog.databaseExists(self.schema_map.get(statement.this.db, statement.this.db)):
                return SparkResult(None)  # the metastore logs an error for IF NOT EXISTS on an existing one
        if isinstance(statement, exp.Create) and statement.kind == "TABLE":
            statement = as_parquet_table(self.spark, statement)
        if isinstance(statement, exp.Alter):
            qualify_rename(statement)
        json_as_text(statement)
        frame, text = self._merged_query(statement) if reads else (None, "")
        if frame is None:
            text = spark_sql(statement)
            frame = self.spark.sql(text)
        if reads and self._memoise and not any(statement.find_all(*_VOLATILE)):
            return SparkResult(frame, memo=self._memo, key=text, pick_mode=self._pick_mode)
        return SparkResult(frame, pick_mode=self._pick_mode)

    def _merged_query(self, query: exp.Expression) -> tuple[Any | None, str]:
        """(DataFrame, Spark SQL) of the query with its UNION ALL branches over one relation
        read in one scan (`mlmon.warehouse.spark_unions`); (None, "") when nothing merges or
        Spark refuses the merged form (the query is then run as written)."""
        if not self._merge_unions or not query.find(exp.Union):
            return None, ""
        merged = query.copy()
        if not merge_union_scans(merged):
            return None, ""
        text = spark_sql(merged)
        try:
            return self.spark.sql(text), text
        except Exception as exc:
            if is_spark_error(exc):
                return None, ""
            raise

    def _forget_changed(self, statement: exp.Expression) -> None:
        """Forget the descriptions a write may change: an INSERT changes no columns, a staged
        relation created or dropped only its own (and any description naming it)."""
        if isinstance(statement, exp.Insert):
            return
        names = [StagedViews.staged_name(t) for t in ddl_targets(statement) or []]
        if not names or None in names:
            self._forget_described()
            return
        for name in names:
            self._forget_described(name)

    def _staged_statement(self, statement: exp.Expression) -> SparkResult | None:
        """CREATE TABLE / VIEW AS and DROP TABLE / VIEW of the staging schema, done with temporary views
        (`mlmon.warehouse.spark_staged`); None for any other statement."""
        if isinstance(statement, exp.Create) and statement.kind in ("TABLE", "VIEW") and statement.expression is not None:
            name = StagedViews.staged_name(statement.this)
            if name is None:
                return None
            if statement.args.get("exists") and name in self._staged:
                return SparkResult(None)
            query = statement.expression
            self._replace_sources(query)
            self._staged.create(name, spark_sql(to_spark(query, self.schema_map)), cache=statement.kind == "TABLE")
            return SparkResult(None)
        if isinstance(statement, exp.Drop) and statement.kind in ("TABLE", "VIEW"):
            names = [StagedViews.staged_name(t) for t in statement.args.get("tables") or []]
            if names and all(n is not None and n in self._staged for n in names):
                for name in names:
                    self._staged.drop(name)
                return SparkResult(None)
        if isinstance(statement, exp.Drop) and statement.kind == "SCHEMA":
            if any(t.db == STAGING_SCHEMA or t.name == STAGING_SCHEMA for t in statement.args.get("tables") or []):
                self._staged.drop_all()
        return None

    def _describe(self, query: exp.Expression) -> SparkResult:
        """The query's columns from its analysed plan: no Spark job."""
        frame = self.dataframe(query)
        rows = [(f.name, duckdb_type(f.dataType), "YES", None, None, None) for f in frame.schema.fields]
        return SparkResult(None, rows=rows, columns=_DESCRIBE_RESULT)

    def _replace_sources(self, statement: exp.Expression) -> None:
        """File scans → temporary views; information_schema.tables → the catalog's answer."""
        self._staged.substitute(statement)
        for table in list(statement.find_all(exp.Table)):
            scan = file_reader(table)
            if scan is not None:
                view = self._files.view(*scan)
                table.replace(exp.Table(this=exp.to_identifier(view, quoted=True), alias=table.args.get("alias")))
            elif table.db.lower() == "information_schema" and table.name.lower() in COLUMNS:
                view = self._information_schema.view(table.name.lower())
                table.replace(exp.Table(this=exp.to_identifier(view, quoted=True), alias=table.args.get("alias")))
            elif table.catalog == CATALOG:  # DuckDB's attached file: here, the session catalog
                table.set("catalog", None)
        for call in list(statement.find_all(exp.CurrentSchema)):
            call.replace(exp.Literal.string("main"))

    def _information_schema_rows(self, which: str) -> list[tuple]:
        """DuckDB's information_schema.tables / .columns over mlmon's databases, from the catalog.

        Only the databases mlmon writes are listed (a cluster's catalog may hold thousands), and
        the listing is kept until mlmon changes a table (`catalog_changed`). Staged relations
        (cached views) are listed as the staging schema's tables they stand for.
        """
        listed = self.catalog_tables() + [(STAGING_SCHEMA, name, "BASE TABLE") for name in self._staged.names()]
        if which == "tables":
            return [(CATALOG, self._duckdb_schema.get(db, db), name, kind) for db, name, kind in listed]
        rows = []
        for database, name, _ in listed:
            if database == STAGING_SCHEMA and name in self._staged:
                columns = [(f.name, duckdb_type(f.dataType)) for f in self._staged.schema(name)]
            else:
                columns = self._catalog.columns(database, name)
            schema = self._duckdb_schema.get(database, database)
            rows += [(CATALOG, schema, name, column, i, dtype) for i, (column, dtype) in enumerate(columns, 1)]
        return rows

    def catalog_tables(self) -> list[tuple[str, str, str]]:
        """(database, name, 'BASE TABLE' | 'VIEW') of mlmon's databases (`CatalogListing`)."""
        return self._catalog.tables()

    def _exists_already(self, create: exp.Create) -> bool:
        """Whether `CREATE TABLE IF NOT EXISTS` has nothing to do: answered from the kept listing
        (opening the warehouse asks it for every system table)."""
        if create.kind != "TABLE" or not create.args.get("exists") or create.args.get("replace"):
            return False
        table = created_table(create)
        return self.relation_kind(table.name, table.db or "main") is not None

    def relation_kind(self, name: str, schema: str = "main") -> str | None:
        """'BASE TABLE', 'VIEW' or None for a relation of a DuckDB schema, from the kept listing
        (the metastore stores names in lower case)."""
        return self._catalog.kind(self.schema_map.get(schema, schema), name)
