"""Reproducible, uniform samples drawn in SQL, the same rows on DuckDB and on Spark.

A row's place in the sample order is `md5(<bucket> # <copy> # <seed>)`:

- the bucket is a text of the row's identifying columns (`key:`, default every column) that
  both engines render bit for bit: strings, dates and integers as text, booleans as 0/1,
  numbers as `floor(x * 2^20)` (multiplying by a power of two and flooring are exact in
  IEEE arithmetic, so no engine's float formatting is involved; close numbers may share a
  bucket, which only makes the bucket coarser);
- the copy is the row's ordinal inside its bucket, in the order of the columns' own values,
  which both engines sort alike. Identical rows get distinct copies, hence distinct draws: a
  hash of the contents alone would send every copy of a row to the same side of the cut, and
  a domain classifier would then "detect" drift between halves of one data set.

Every row thus gets its own pseudo-random draw, a function of the data and the seed only (not
of file order, threads or engine), and the `size` smallest draws are the sample.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np
import pandas as pd
import sqlglot
from sqlglot import exp

from mlmon.metrics.sqlstats import quote

__all__ = ["portable_sample_sql", "sample_query", "draw_hash_sample", "canonical_order", "bucket_text"]

_NUMERIC = {"TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "UTINYINT", "USMALLINT", "UINTEGER",
            "UBIGINT", "UHUGEINT", "DOUBLE", "FLOAT", "REAL", "DECIMAL", "NUMERIC"}
_TEXT = {"VARCHAR", "JSON", "DATE", "UUID"}
_ORDERABLE = _NUMERIC | _TEXT | {"BOOLEAN", "TIMESTAMP", "TIMESTAMP WITH TIME ZONE", "TIMESTAMP_NS",
                                 "TIMESTAMP_MS", "TIMESTAMP_S", "TIME"}
# Below 2^40 a number keeps 20 fractional bits in its bucket; above it, its integer part.
_SCALED_LIMIT = "1e12"
_NULL_TEXT = "\\N"


def _base_type(dtype: str) -> str:
    return dtype.split("(")[0].strip().upper()


def _render(column: str, dtype: str) -> str | None:
    """SQL of the column's portable text, or None for a type with no portable rendering."""
    c, base = quote(column), _base_type(dtype)
    if base in _NUMERIC:
        x = f"CAST({c} AS DOUBLE)"
        scaled = f"CAST(FLOOR({x} * 1048576.0) AS BIGINT)"
        whole = f"CAST(FLOOR({x}) AS BIGINT)"
        # NaN and infinities fail both comparisons and fall to NULL.
        number = f"CASE WHEN ABS({x}) < {_SCALED_LIMIT} THEN {scaled} WHEN ABS({x}) < 9e18 THEN {whole} END"
        return f"CAST({number} AS VARCHAR)"
    if base in _TEXT:
        return f"CAST({c} AS VARCHAR)"
    if base == "BOOLEAN":
        return f"CASE WHEN {c} THEN '1' WHEN NOT {c} THEN '0' END"
    if base == "TIMESTAMP":  # no time zone on either engine: its date is the same text
        return f"CAST(CAST({c} AS DATE) AS VARCHAR)"
    return None


def bucket_text(columns: Sequence[tuple[str, str]]) -> str:
    """SQL of a row's bucket: the portable texts of `columns` ((name, DuckDB type)) joined."""
    pieces = [f"COALESCE({r}, '{_NULL_TEXT}')" for r in (_render(n, t) for n, t in columns) if r is not None]
    return " || '|' || ".join(pieces) if pieces else "''"


def portable_sample_sql(relation: str, select: Sequence[str], hashed: Sequence[tuple[str, str]], size: int,
                        seed: int, where: str | None = None, others: Sequence[tuple[str, str]] = ()) -> str:
    """SQL (DuckDB dialect, portable through sqlglot) of at most `size` rows of `select`, the
    rows with the smallest draws over the `hashed` columns ((name, DuckDB type)).

    Rows of one bucket are numbered in the order of the hashed columns, then of `others` (the
    relation's remaining columns), so that a key that does not quite identify rows still
    numbers them alike on every engine. `where`, if given, is a condition on the relation's
    columns (alias `t`) applied first.
    """
    order = [f"{quote(n)} ASC NULLS FIRST" for n, t in [*hashed, *others] if _base_type(t) in _ORDERABLE]
    window = "PARTITION BY __mlmon_bucket" + (f" ORDER BY {', '.join(order)}" if order else " ORDER BY __mlmon_bucket")
    filtered = f" WHERE {where}" if where else ""
    columns = ", ".join(quote(c) for c in select)
    return (
        f"WITH __mlmon_bucketed AS (SELECT t.*, {bucket_text(hashed)} AS __mlmon_bucket FROM {relation} AS t{filtered}), "
        f"__mlmon_numbered AS (SELECT *, ROW_NUMBER() OVER ({window}) AS __mlmon_copy FROM __mlmon_bucketed) "
        f"SELECT {columns} FROM __mlmon_numbered "
        f"ORDER BY MD5(__mlmon_bucket || '#' || CAST(__mlmon_copy AS VARCHAR) || '#{int(seed)}') LIMIT {int(size)}"
    )


def sample_query(con: Any, relation: str, select: Sequence[str], hashed: Sequence[str], size: int, seed: int,
                 where: str | None = None) -> exp.Select:
    """`portable_sample_sql` as an expression, the `hashed` columns' types read from `relation`."""
    types = dict(_column_types(con, relation))
    typed = [(name, types.get(name, "VARCHAR")) for name in hashed]
    others = [(name, dtype) for name, dtype in types.items() if name not in set(hashed)]
    return sqlglot.parse_one(portable_sample_sql(relation, select, typed, size, seed, where, others), read="duckdb")


def draw_hash_sample(con: Any, relation: str, select: Sequence[str], hashed: Sequence[str], size: int, seed: int,
                     where: str | None = None) -> pd.DataFrame:
    """At most `size` rows of `select` as a DataFrame, drawn over the `hashed` columns (a key,
    or every column of the row), in canonical order."""
    frame = con.execute(sample_query(con, relation, select, hashed, size, seed, where).sql("duckdb")).df()
    return canonical_order(frame)


def _column_types(con: Any, relation: str) -> list[tuple[str, str]]:
    return [(r[0], str(r[1])) for r in con.execute(f"DESCRIBE SELECT * FROM {relation}").fetchall()]


def canonical_order(frame: pd.DataFrame) -> pd.DataFrame:
    """The rows sorted by their values, so that the same rows make the same frame whichever
    engine drew them: models fitted on a sample (the domain classifier, permutation importance)
    see rows in an order that depends on nothing but the data."""
    frame = _plain_numbers(frame)
    if len(frame) < 2 or not len(frame.columns):
        return frame.reset_index(drop=True)
    columns = list(frame.columns)
    try:
        order = frame.sort_values(columns, kind="mergesort", na_position="last").index
    except TypeError:  # an object column mixing types: compare the text of its values
        order = frame.astype(str).sort_values(columns, kind="mergesort").index
    return frame.loc[order].reset_index(drop=True)


def _plain_numbers(frame: pd.DataFrame) -> pd.DataFrame:
    """Integer and boolean columns as float64. Engines type the same values differently (DuckDB
    a nullable Int64 where a NULL is present, Spark float64 or int32), and a model must see the
    same numbers whichever engine read them."""
    converted = {
        name: frame[name].astype("float64")
        for name in frame.columns
        if pd.api.types.is_integer_dtype(frame[name].dtype) or pd.api.types.is_bool_dtype(frame[name].dtype)
    }
    # Spark hands booleans with NULLs over as objects (True, False, None).
    converted.update({
        name: frame[name].map({True: 1.0, False: 0.0}, na_action="ignore").astype("float64")
        for name in frame.columns
        if frame[name].dtype == object and _booleans_only(frame[name])
    })
    return frame.assign(**converted) if converted else frame


def _booleans_only(column: pd.Series) -> bool:
    present = column.dropna()
    return len(present) > 0 and all(isinstance(v, (bool, np.bool_)) for v in present)
