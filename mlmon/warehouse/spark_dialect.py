"""DuckDB SQL → Spark SQL: sqlglot's transpiler plus the fixes it needs for exact answers.

mlmon writes its SQL once, in DuckDB's dialect (sqlglot expressions or text sqlglot parses).
On a Spark target every statement is parsed, passed through `to_spark` and generated for Spark.
Each transform below exists because sqlglot's default output is rejected by Spark, or accepted
and silently different (pyspark 4.3 / sqlglot 30):

- `quantile_cont(x, q)` → `PERCENTILE_CONT(x, q)`, which Spark rejects as an aggregate call;
  `percentile(x, q)` is Spark's exact, linearly interpolated quantile (numpy's default).
- one-argument `log(x)` is log10 in DuckDB and ln in Spark.
- `hash(...)` orders samples; Spark's 32-bit `hash` ties far more often than `xxhash64`.
- JSON paths: `$."a.b"` must become `$['a.b']`, not `$.a.b`. Spark's bracket form has no
  escapes (a backslash is literal, a quote ends the key): a key holding a quote is written in
  dot form, and a key Spark cannot name at all (a quote with a dot or `[`, or `*`), a wildcard,
  a negative index or a path sqlglot leaves unparsed (`[#-1]`) raises instead of reading NULL.
  (`->` / json_extract still return a string leaf unquoted on Spark, as JSON text on DuckDB.)
- file scans (`read_csv`, `read_parquet`, ...): `file_reader` gives format, literal paths and
  options for Spark's DataFrame reader, whichever argument sqlglot parsed the paths into.
- `CREATE OR REPLACE TABLE` and `DELETE` / `UPDATE` are not supported on session-catalog
  tables; the connection rebuilds the table instead (see `mlmon.warehouse.spark_connection`).

Statements Spark has no use for (transactions, DuckDB settings, PRAGMA, INSTALL / LOAD of
extensions, CHECKPOINT, which sqlglot reads as a bare column) become no-ops.

Not fixed here, for want of column types at translation: `CAST(<double> AS VARCHAR)` is
Python's repr on DuckDB ('1e-05', '123456789.0') and Java's Double.toString on Spark
('1.0E-5', '1.23456789E8'; on Java 17 not always the shortest digits). Both read back as the
same double, so text keys made this way (float-typed categories) differ in spelling only.
"""

from __future__ import annotations

import datetime as dt
import math
from decimal import Decimal
from typing import Any, Sequence

import sqlglot
from sqlglot import exp
from sqlglot.dialects.duckdb import DuckDB
from sqlglot.tokens import TokenType

from mlmon.errors import MlmonError

__all__ = ["SparkTranslationError", "parse_duckdb", "bind", "to_spark", "spark_sql", "literal", "is_noop",
           "FILE_READERS", "check_translatable", "file_reader"]

FILE_READERS = {exp.ReadCSV: "csv", exp.ReadParquet: "parquet"}
_ANONYMOUS_READERS = {"read_csv": "csv", "read_csv_auto": "csv", "read_parquet": "parquet", "read_json": "json",
                      "read_json_auto": "json", "parquet_scan": "parquet"}
_NOOPS = (exp.Transaction, exp.Commit, exp.Rollback, exp.Set, exp.Use, exp.Attach, exp.Pragma, exp.Install)
_NOOP_COMMANDS = {"CHECKPOINT", "PRAGMA", "LOAD", "INSTALL", "FORCE"}
# DuckDB functions with no Spark counterpart: named in the error rather than failing inside Spark.
_UNSUPPORTED = {"list_transform", "list_filter", "list_reduce", "unnest_struct", "read_ndjson", "glob",
                "range", "generate_series", "epoch_ms", "struct_pack", "list_sort", "array_transform"}


class SparkTranslationError(MlmonError):
    """A DuckDB construct with no faithful Spark SQL translation."""


def parse_duckdb(sql: str) -> list[exp.Expression]:
    try:
        return [e for e in sqlglot.parse(sql, read="duckdb") if e is not None]
    except sqlglot.errors.ParseError as err:
        raise SparkTranslationError(f"cannot parse SQL for translation to Spark: {err.errors[0]['description']}",
                                    hint="write the query in DuckDB SQL that sqlglot can parse") from None


def literal(value: Any) -> exp.Expression:
    """A bound parameter as a typed literal (doubles exact, timestamps typed)."""
    if value is None:
        return exp.Null()
    if isinstance(value, bool):
        return exp.Boolean(this=value)
    if isinstance(value, int):
        return exp.Literal.number(value)
    if isinstance(value, (float, Decimal)):
        value = float(value)
        text = repr(value) if math.isfinite(value) else ("NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity"))
        return exp.cast(exp.Literal.string(text), "DOUBLE")
    if isinstance(value, dt.datetime):
        return exp.cast(exp.Literal.string(value.isoformat(sep=" ")), "TIMESTAMP")
    if isinstance(value, dt.date):
        return exp.cast(exp.Literal.string(value.isoformat()), "DATE")
    return exp.Literal.string(str(value))


def bind(sql: str, params: Sequence[Any] | None) -> str:
    """`?` placeholders replaced, in the order they appear in the text, by literals.

    Done on tokens rather than on the parsed tree, whose walk order is not the text's order
    (a `LIMIT ?` is visited before an earlier `WHERE x = ?`).
    """
    if not params:
        return sql
    tokens = [t for t in DuckDB().tokenize(sql) if t.token_type == TokenType.PLACEHOLDER and t.text == "?"]
    if len(tokens) != len(params):
        raise MlmonError(f"{len(tokens)} placeholders but {len(params)} parameters in: {sql[:200]}")
    pieces, cursor = [], 0
    for token, value in zip(tokens, params):
        pieces += [sql[cursor:token.start], literal(value).sql("duckdb")]
        cursor = token.end + 1
    return "".join(pieces) + sql[cursor:]


def is_noop(statement: exp.Expression) -> bool:
    if isinstance(statement, _NOOPS):
        return True
    if isinstance(statement, exp.Command):  # LOAD x, FORCE CHECKPOINT
        return str(statement.this).upper() in _NOOP_COMMANDS
    # sqlglot reads `CHECKPOINT` as a column and `CHECKPOINT db` as a column aliased db.
    target = statement.this if isinstance(statement, exp.Alias) else statement
    return isinstance(target, exp.Column) and not target.table and target.name.upper() == "CHECKPOINT"


def file_reader(table: exp.Table) -> tuple[str, list[str], dict[str, Any]] | None:
    """(format, paths, options) when `table` is a DuckDB file scan such as read_csv([...])."""
    func = table.this
    fmt = FILE_READERS.get(type(func))
    if fmt is None and isinstance(func, exp.Anonymous):
        fmt = _ANONYMOUS_READERS.get(str(func.this).lower())
    if fmt is None:
        return None
    # sqlglot puts the paths in `this` of read_csv, in the first argument of read_parquet.
    if isinstance(func, exp.Anonymous) or func.this is None:
        first, options_args = (func.expressions[0] if func.expressions else None), func.expressions[1:]
    else:
        first, options_args = func.this, func.expressions
    items = first.expressions if isinstance(first, exp.Array) else [first]
    if not all(isinstance(i, exp.Literal) and i.is_string for i in items):
        raise SparkTranslationError(f"{func.sql('duckdb')}: only literal file paths can be read on Spark")
    options: dict[str, Any] = {}
    for option in options_args:
        if isinstance(option, (exp.EQ, exp.PropertyEQ)):
            options[option.this.name.lower()] = _option_value(option.expression)
    return fmt, [i.name for i in items], options


def _option_value(value: exp.Expression) -> Any:
    if isinstance(value, exp.Boolean):
        return value.this
    if isinstance(value, exp.Array):  # nullstr = ['NA', '']
        return [_option_value(v) for v in value.expressions]
    return value.name


def to_spark(statement: exp.Expression, schema_map: dict[str, str] | None = None) -> exp.Expression:
    """The transforms that make sqlglot's Spark output exact (module docstring)."""
    schema_map = schema_map or {}

    def rewrite(node: exp.Expression) -> exp.Expression:
        if isinstance(node, exp.PercentileCont):
            return exp.Anonymous(this="PERCENTILE", expressions=[node.this.copy(), node.expression.copy()])
        if isinstance(node, exp.PercentileDisc):
            raise SparkTranslationError("quantile_disc / percentile_disc has no exact Spark aggregate",
                                        hint="use quantile_cont")
        if isinstance(node, exp.WithinGroup) and isinstance(node.this, exp.PercentileCont):
            order = node.expression.expressions[0].this
            return exp.Anonymous(this="PERCENTILE", expressions=[order.copy(), node.this.this.copy()])
        if isinstance(node, exp.Log) and node.expression is None:
            return exp.Anonymous(this="LOG10", expressions=[node.this.copy()])
        if isinstance(node, exp.Anonymous):
            name = str(node.this).lower()
            if name == "hash":
                return exp.Anonymous(this="XXHASH64", expressions=[e.copy() for e in node.expressions])
            if name in _UNSUPPORTED:
                raise SparkTranslationError(f"the DuckDB function {name}() has no Spark translation",
                                            hint="rewrite it with portable SQL (CASE, aggregates, joins)")
        if isinstance(node, (exp.JSONExtract, exp.JSONExtractScalar)):
            path = node.expression
            if isinstance(path, exp.JSONPath):
                return exp.Anonymous(this="GET_JSON_OBJECT", expressions=[node.this.copy(), exp.Literal.string(_json_path(path))])
            if isinstance(path, exp.Literal) and path.is_string:  # DuckDB-only syntax sqlglot did not parse
                raise SparkTranslationError(f"the JSON path {path.name!r} has no Spark translation")
        if isinstance(node, exp.Table) and node.args.get("db") is not None and node.db in schema_map:
            node.set("db", exp.to_identifier(schema_map[node.db], quoted=True))
        return node

    return statement.transform(rewrite, copy=False)


def _json_path(path: exp.JSONPath) -> str:
    """The path as Spark's get_json_object reads it: ['key'] (no escapes inside), .key, [n]."""
    parts = ["$"]
    for part in path.expressions:
        if isinstance(part, exp.JSONPathRoot):
            continue
        if isinstance(part, exp.JSONPathKey) and isinstance(part.this, str) and part.this != "*":
            key = part.this
            if "'" not in key:
                parts.append(f"['{key}']")
                continue
            if key and not set(key) & {".", "["}:  # dot form reads up to the next . or [
                parts.append(f".{key}")
                continue
        elif isinstance(part, exp.JSONPathSubscript) and isinstance(part.this, int) and part.this >= 0:
            parts.append(f"[{part.this}]")
            continue
        raise SparkTranslationError(f"the JSON path {path.sql('duckdb')} has no Spark translation")
    return "".join(parts)


def check_translatable(sql: str) -> None:
    """Raise SparkTranslationError naming the construct when `sql` cannot run on Spark."""
    for statement in parse_duckdb(sql):
        for table in statement.find_all(exp.Table):
            file_reader(table)
        spark_sql(to_spark(statement))


def spark_sql(statement: exp.Expression) -> str:
    try:
        return statement.sql("spark", unsupported_level=sqlglot.ErrorLevel.RAISE)
    except sqlglot.errors.UnsupportedError as err:
        raise SparkTranslationError(f"cannot translate to Spark SQL: {err}", hint="rewrite the construct portably") from None
