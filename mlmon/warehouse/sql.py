"""Every SQL statement mlmon generates, built as sqlglot expressions and rendered per dialect.

Identifiers are always quoted and values always bound or emitted as literals, never pasted in,
so a column called `order date` or a store called `select` is safe, and another engine only
needs a dialect name.
"""

from __future__ import annotations

from typing import Any, Iterable, Sequence

from sqlglot import exp

__all__ = [
    "ident",
    "table",
    "file_scan",
    "select_star",
    "create_table_as",
    "create_view_as",
    "drop_relation",
    "rename_table",
    "insert_values",
    "count_rows",
    "create_schema",
    "head_rows",
    "insert_by_name",
    "add_column",
    "set_column_type",
    "filtered_max",
    "json_label",
    "literal",
    "table_function",
]

_READERS = {"csv": "read_csv", "parquet": "read_parquet", "json": "read_json"}


def ident(name: str) -> exp.Identifier:
    return exp.to_identifier(name, quoted=True)


def table(name: str, schema: str | None = None) -> exp.Table:
    return exp.table_(name, db=schema, quoted=True)


def file_scan(fmt: str, paths: Sequence[str], options: dict[str, Any] | None = None) -> exp.Table:
    """A table function reading files: `read_csv(['a.csv', 'b.csv'], union_by_name = true)`."""
    files = exp.Array(expressions=[exp.Literal.string(p) for p in paths])
    return table_function(_READERS[fmt], files, {"union_by_name": True, **(options or {})})


def table_function(name: str, first: exp.Expression, options: dict[str, Any]) -> exp.Table:
    """`name(first, key = value, ...)` as a table: a reader (or DuckDB's sniff_csv) and its options."""
    args = [first, *(exp.EQ(this=exp.column(key), expression=literal(value)) for key, value in options.items())]
    return exp.Table(this=exp.Anonymous(this=name, expressions=args))


def literal(value: Any) -> exp.Expression:
    """A Python value as a SQL literal: a bool, a number, a string, a list (an array), a dict (a struct)."""
    if isinstance(value, bool):
        return exp.Boolean(this=value)
    if isinstance(value, (int, float)):
        return exp.Literal.number(value)
    if isinstance(value, (list, tuple)):
        return exp.Array(expressions=[literal(v) for v in value])
    if isinstance(value, dict):
        return exp.Struct(expressions=[exp.PropertyEQ(this=ident(k), expression=literal(v)) for k, v in value.items()])
    return exp.Literal.string(str(value))


def select_star(relation: exp.Expression) -> exp.Select:
    return exp.select("*").from_(relation)


def create_table_as(name: str, query: exp.Expression | str, schema: str | None = None) -> exp.Create:
    return exp.Create(this=table(name, schema), kind="TABLE", expression=_query(query), replace=True)


def create_view_as(name: str, query: exp.Expression | str, schema: str | None = None) -> exp.Create:
    return exp.Create(this=table(name, schema), kind="VIEW", expression=_query(query), replace=True)


def _query(query: exp.Expression | str) -> exp.Expression:
    import sqlglot

    return sqlglot.parse_one(query, read="duckdb") if isinstance(query, str) else query


def drop_relation(name: str, kind: str = "TABLE", schema: str | None = None) -> exp.Drop:
    return exp.Drop(tables=[table(name, schema)], kind=kind.upper(), exists=True)


def rename_table(old: str, new: str, schema: str | None = None) -> exp.Alter:
    return exp.Alter(
        this=table(old, schema), kind="TABLE",
        actions=[exp.AlterRename(this=exp.table_(new, quoted=True))],
    )


def insert_values(name: str, columns: Iterable[str], schema: str | None = None) -> str:
    """`INSERT INTO t (a, b) VALUES (?, ?)` for executemany with bound parameters."""
    cols = list(columns)
    target = exp.Schema(this=table(name, schema), expressions=[ident(c) for c in cols])
    values = exp.Tuple(expressions=[exp.Placeholder() for _ in cols])
    return exp.Insert(this=target, expression=exp.Values(expressions=[values])).sql("duckdb")


def count_rows(relation: exp.Expression) -> exp.Select:
    return exp.select(exp.Count(this=exp.Star())).from_(relation)


# -- evaluation stores ------------------------------------------------------------------------


def create_schema(name: str) -> exp.Create:
    return exp.Create(this=exp.Table(db=ident(name)), kind="SCHEMA", exists=True)


def head_rows(relation: str | exp.Expression, size: int) -> exp.Select:
    """The first `size` rows in the relation's own order."""
    return exp.select("*").from_(relation, dialect="duckdb").limit(int(size))


def insert_by_name(name: str, query: exp.Expression, schema: str | None = None) -> exp.Insert:
    """`INSERT INTO t BY NAME <query>`: columns matched by name, absent ones NULL."""
    return exp.Insert(this=table(name, schema), expression=query, by_name=True)


def add_column(name: str, column: str, dtype: str, schema: str | None = None) -> exp.Alter:
    definition = exp.ColumnDef(this=ident(column), kind=exp.DataType.build(dtype, dialect="duckdb"))
    return exp.Alter(this=table(name, schema), kind="TABLE", actions=[definition])


def set_column_type(name: str, column: str, dtype: str, schema: str | None = None) -> exp.Alter:
    change = exp.AlterColumn(this=ident(column), dtype=exp.DataType.build(dtype, dialect="duckdb"))
    return exp.Alter(this=table(name, schema), kind="TABLE", actions=[change])


def filtered_max(value: str, key: str, wanted: Any, alias: str) -> exp.Alias:
    """`MAX(value) FILTER (WHERE key = wanted) AS alias`: one cell of a long-to-wide pivot."""
    condition = exp.column(key, quoted=True).eq(literal(wanted))
    aggregate = exp.Filter(this=exp.Max(this=exp.column(value, quoted=True)), expression=exp.Where(this=condition))
    return exp.alias_(aggregate, alias, quoted=True)


def json_label(column: str, key: str, alias: str, table_alias: str | None = None) -> exp.Alias:
    """`json_extract_string(column, '$."key"') AS alias`, whatever characters the key holds."""
    escaped = key.replace("\\", "\\\\").replace('"', '\\"')
    path = exp.Literal.string(f'$."{escaped}"')
    source = exp.column(column, table=table_alias, quoted=True)
    extract = exp.Anonymous(this="json_extract_string", expressions=[source, path])
    return exp.alias_(extract, alias, quoted=True)
