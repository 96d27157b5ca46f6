"""User SQL checked for Spark before anything runs: every function call it makes, translated
as the build will translate it, must be a function Spark knows.

sqlglot passes a function it does not know through unchanged (DuckDB's `regexp_full_match`
stays `REGEXP_FULL_MATCH` in Spark SQL), so only Spark's own function registry can tell: the
check lists it once per session (`SHOW FUNCTIONS`, which reads no data) and reports each call
at its line and column in the SQL the user wrote.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Iterable

from sqlglot import exp

from mlmon.errors import ConfigError, Location
from mlmon.warehouse.spark_dialect import SparkTranslationError, parse_duckdb, spark_sql, to_spark

__all__ = ["FunctionCall", "function_calls", "spark_functions", "unknown_functions", "untranslatable_call",
           "sql_location", "spark_errors"]

_CALL = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)\(")


@dataclass(frozen=True)
class FunctionCall:
    written: str  # the call as the user wrote it (DuckDB SQL), e.g. "glob('*.csv')"
    spark_name: str | None  # the function Spark is asked for (None: Spark syntax, not a call)
    line: int  # 1-based, in the SQL text
    col: int
    error: str | None = None  # why the call has no Spark translation


def _position(sql: str, node: exp.Expression) -> tuple[int, int]:
    start = node.meta.get("start")
    if start is None:
        return int(node.meta.get("line") or 1), int(node.meta.get("col") or 1)
    line_start = sql.rfind("\n", 0, start) + 1
    return sql.count("\n", 0, start) + 1, start - line_start + 1


def function_calls(sql: str) -> list[FunctionCall]:
    """Every function call of `sql` (DuckDB SQL) with the name Spark sees after translation."""
    calls = []
    for statement in parse_duckdb(sql):
        for func in statement.find_all(exp.Func):
            if not func.meta or isinstance(func.parent, exp.Table):  # sqlglot-built, or a file scan
                continue
            line, col = _position(sql, func)
            written = func.sql("duckdb")
            try:
                translated = spark_sql(to_spark(func.copy()))
            except SparkTranslationError as err:
                calls.append(FunctionCall(written, None, line, col, err.message))
                continue
            match = _CALL.match(translated)
            calls.append(FunctionCall(written, match.group(1).lower() if match else None, line, col))
    return calls


def untranslatable_call(sql: str) -> FunctionCall | None:
    """The first call with no Spark translation, to place a translation error in the text."""
    return next((c for c in function_calls(sql) if c.error is not None), None)


def spark_functions(spark: Any) -> set[str]:
    """Names of the functions a Spark session resolves (built-in, and the catalog's own)."""
    names = set()
    for row in spark.sql("SHOW FUNCTIONS").collect():
        names.add(str(row[0]).rsplit(".", 1)[-1].strip("`").lower())
    return names


def unknown_functions(sql: str, known: Iterable[str]) -> list[FunctionCall]:
    """The calls of `sql` whose translated name is not among `known`."""
    known = set(known)
    return [c for c in function_calls(sql) if c.spark_name is not None and c.spark_name not in known]


def sql_location(node: Any, line: int, col: int) -> Location:
    """Where line `line`, column `col` of a node's rendered SQL is in its file: a .sql file holds
    the SQL from its first line; SQL written under a YAML key starts on the line after the key."""
    if str(node.path).endswith(".sql"):
        return Location(node.path, line, col)
    first = node.key_lines.get("sql", node.line) if hasattr(node, "key_lines") else node.line
    return Location(node.path, (first or 1) + line, col)


def spark_errors(project: Any) -> list[ConfigError]:
    """Every call in the project's SQL that Spark does not know, asking the target's own
    Spark (a session starts; no table is read)."""
    from mlmon.warehouse.spark import spark_session

    nodes = [n for n in project.nodes.values() if n.sql]
    if not nodes:
        return []
    known = spark_functions(spark_session(project.target))
    errors = []
    for node in nodes:
        for call in unknown_functions(node.rendered_sql or node.sql, known):
            errors.append(ConfigError(
                f"cannot run on Spark: Spark has no function {call.spark_name}() (from {call.written[:80]})",
                location=sql_location(node, call.line, call.col),
                hint="rewrite the call with functions both DuckDB and Spark have"))
    return errors
