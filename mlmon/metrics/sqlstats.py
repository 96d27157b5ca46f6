"""SQL that reduces samples to small sufficient statistics inside the warehouse.

Builders return SQL text for a `dialect` (identifiers quoted by sqlglot, doubles written as
`<repr>e0` so they round-trip exactly (`double_literal`), only portable functions except where a
dialect switch is explicit). Relations are SQL text: a table name or a parenthesised subquery.
Every relation is scanned more than once, so it must be deterministic (a table, a view, or a
subquery without random sampling). The two-sample engine built on these is
mlmon.metrics.twosample.
"""

from __future__ import annotations

import math
from typing import Callable, Sequence

from sqlglot import exp

__all__ = [
    "DECILES",
    "quote",
    "double_literal",
    "as_double",
    "present",
    "computed",
    "with_value",
    "string_type",
    "quantiles_sql",
    "moments_sql",
    "counts_sql",
    "bin_case_sql",
    "bin_index_sql",
]

DECILES: tuple[float, ...] = tuple(i / 10 for i in range(1, 10))


def quote(name: str, dialect: str = "duckdb") -> str:
    return exp.to_identifier(name, quoted=True).sql(dialect)


def double_literal(x: float, dialect: str = "duckdb") -> str:
    """`x` as a DOUBLE literal both engines read back bit for bit: the shortest text that
    round-trips, with an exponent (a bare decimal literal may be typed DECIMAL and rounded; one
    with an exponent is a DOUBLE on both, and one token, where a cast of a string is six and a
    conversion: statements full of cell bounds stay quick to parse and plan)."""
    x = float(x)
    if not math.isfinite(x):
        return f"CAST('{'NaN' if math.isnan(x) else ('Infinity' if x > 0 else '-Infinity')}' AS DOUBLE)"
    text = repr(x)
    return text if "e" in text else f"{text}e0"


def as_double(column: str, dialect: str = "duckdb") -> str:
    return f"CAST({quote(column, dialect)} AS DOUBLE)"


def present(expr: str, dialect: str = "duckdb") -> str:
    """True when a double expression is neither NULL nor NaN (both count as missing)."""
    return f"({expr} IS NOT NULL AND NOT ISNAN({expr}))"


def computed(relation: str, items: dict[str, str], where: str | None = None) -> str:
    """`relation` (alias t) as a subquery, also aliased t, of the named expressions `items`
    (name: SQL) computed once per row, of the rows `where` keeps: a query that tests and
    buckets a value many times names it instead of repeating its expression, which keeps the
    statement short to parse, translate and plan."""
    columns = ", ".join(f"{expr} AS {name}" for name, expr in items.items())
    return f"(SELECT {columns} FROM {relation} AS t{'' if where is None else f' WHERE {where}'}) AS t"


def with_value(relation: str, expr: str, where: str | None = None, **items: str) -> str:
    """`computed` rows holding the double value of `expr` as `v`, and the further `items`."""
    return computed(relation, {**items, "v": f"CAST(({expr}) AS DOUBLE)"}, where)


def string_type(dialect: str = "duckdb") -> str:
    return exp.DataType.build("VARCHAR").sql(dialect)


def quantiles_sql(expr: str, probabilities: Sequence[float], dialect: str = "duckdb") -> str:
    """All quantiles in one aggregate (one sort), linear interpolation as numpy.quantile."""
    probs = ", ".join(repr(float(p)) for p in probabilities)
    if dialect == "duckdb":
        return f"QUANTILE_CONT({expr}, [{probs}])"
    if dialect in ("spark", "spark2", "databricks"):
        return f"PERCENTILE({expr}, ARRAY({probs}))"
    raise NotImplementedError(f"no exact multi-quantile aggregate for dialect {dialect!r}")


def moments_sql(relation: str, numeric: Sequence[str], *, quantiles: bool, dialect: str = "duckdb") -> str:
    """One row: the row count, then per numeric column its present count, min and max (and
    deciles when `quantiles`)."""
    items = ["COUNT(*)"]
    for col in numeric:
        v = as_double(col, dialect)
        kept = f"CASE WHEN {present(v, dialect)} THEN {v} END"
        items += [f"COUNT({kept})", f"MIN({kept})", f"MAX({kept})"]
        if quantiles:
            items.append(quantiles_sql(kept, DECILES, dialect))
    return f"SELECT {', '.join(items)} FROM {relation} AS t"


def bin_case_sql(value: str, edges: Sequence[float], leaf: Callable[[int], str], dialect: str = "duckdb") -> str:
    """A CASE that finds the PSI bin j of a present value (the number of edges strictly below
    it) by bisection, about half the comparisons of testing every edge, and yields leaf(j)."""

    def node(lo: int, hi: int) -> str:  # edges[lo:hi], bins lo..hi
        if lo == hi:
            return leaf(lo)
        mid = (lo + hi) // 2
        return f"CASE WHEN {value} > {double_literal(edges[mid], dialect)} THEN {node(mid + 1, hi)} ELSE {node(lo, mid)} END"

    return node(0, len(edges))


def bin_index_sql(value: str, edges: Sequence[float], dialect: str = "duckdb") -> str:
    """The PSI bin of a present value: the number of edges strictly below it."""
    return bin_case_sql(value, edges, str, dialect)


def _category_expr(column: str, is_float: bool, dialect: str) -> str:
    text = f"CAST({quote(column, dialect)} AS {string_type(dialect)})"
    if is_float:
        v = as_double(column, dialect)
        return f"CASE WHEN {present(v, dialect)} THEN {text} END"
    return text


def counts_sql(
    relation: str,
    binned: Sequence[tuple[str, Sequence[float]]],
    categorical: Sequence[str],
    *,
    float_categorical: Sequence[str] = (),
    dialect: str = "duckdb",
    group: str | None = None,
    where: str | None = None,
) -> str:
    """Per-bin counts of numeric columns and per-category counts in a single scan.

    Output columns: GROUPING(g_i) for every key, then the keys g_i, then the count. A row
    belongs to the key whose GROUPING is 0; a NULL key in that row counts the missing values.
    With a `group` expression every count is per group, whose value leads each output row;
    `where` keeps some rows only.
    """
    keys = []
    for col, edges in binned:
        v = as_double(col, dialect)
        keys.append(f"CASE WHEN {present(v, dialect)} THEN {bin_index_sql(v, edges, dialect)} END")
    for col in categorical:
        keys.append(_category_expr(col, col in float_categorical, dialect))
    names = [f"g{i}" for i in range(len(keys))]
    inner = ", ".join(f"{k} AS {n}" for k, n in zip(keys, names))
    grouping = ", ".join(f"GROUPING({n})" for n in names)
    lead = "" if group is None else "grp, "
    sets = ", ".join(f"({lead}{n})" for n in names)
    inner = inner if group is None else f"{group} AS grp, {inner}"
    filtered = "" if where is None else f" WHERE {where}"
    return (
        f"SELECT {lead}{grouping}, {', '.join(names)}, COUNT(*) FROM (SELECT {inner} FROM {relation} AS t{filtered}) "
        f"AS k GROUP BY GROUPING SETS ({sets})"
    )
