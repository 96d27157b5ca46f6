"""What a SQL dataset reads: table names found with sqlglot, CTEs and table functions excluded."""

from __future__ import annotations

from dataclasses import dataclass

import sqlglot
from sqlglot import exp

from mlmon.errors import ConfigError, Location

__all__ = ["TableUse", "parse_sql", "tables_read"]


@dataclass(frozen=True)
class TableUse:
    name: str
    schema: str | None
    line: int | None
    col: int | None


def parse_sql(sql: str, location: Location, dialect: str = "duckdb") -> exp.Expression:
    """Parse one statement; a syntax error carries the file, line and column."""
    try:
        statements = [s for s in sqlglot.parse(sql, read=dialect) if s is not None]
    except sqlglot.errors.ParseError as exc:
        first = exc.errors[0] if exc.errors else {}
        line = first.get("line")
        where = Location(location.path, (location.line or 1) + line - 1 if line else location.line, first.get("col"))
        message = first.get("description", str(exc)).split(" <Token")[0]
        raise ConfigError(f"SQL does not parse: {message}", location=where) from None
    if len(statements) != 1 or not isinstance(statements[0], exp.Query):
        raise ConfigError(
            "a SQL dataset must be exactly one SELECT query", location=location,
            hint="mlmon creates the table or view itself; remove CREATE/INSERT and extra statements",
        )
    return statements[0]


def tables_read(query: exp.Expression, sql: str) -> list[TableUse]:
    """Every table the query reads, in order of appearance, without CTE names or table functions.

    `sql` is the text that was parsed: positions are taken from it so the column is where the
    name starts (sqlglot's token column is where it ends)."""
    cte_names = {cte.alias_or_name for cte in query.find_all(exp.CTE)}
    seen: dict[tuple[str | None, str], TableUse] = {}
    for table in query.find_all(exp.Table):
        if not isinstance(table.this, exp.Identifier):
            continue  # read_csv(...), range(...), unnest(...)
        schema = table.db or None
        if schema is None and table.name in cte_names:
            continue
        start = table.this.meta.get("start")
        line = col = None
        if start is not None:
            line = sql.count("\n", 0, start) + 1
            col = start - sql.rfind("\n", 0, start)
        seen.setdefault((schema, table.name), TableUse(table.name, schema, line, col))
    return sorted(seen.values(), key=lambda t: (t.line or 0, t.col or 0))
