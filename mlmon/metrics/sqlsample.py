"""Reproducible, uniform samples drawn in SQL, the same rows on DuckDB and on Spark.

The rows are numbered in one canonical order, the order of their own values (the key's
columns first when there is a `key:`), which both engines sort alike; each ordinal is then
scrambled with the seed by integer arithmetic both engines compute bit for bit
(multiplications modulo a prime and xor-shifts, no engine's own hash and no float
formatting), and the `size` rows with the smallest scrambled ordinals are the sample.

Identical rows get distinct ordinals, hence distinct draws: a hash of the rows' contents
would send every copy of a row to the same side of the cut, and a domain classifier would then
"detect" drift between two halves of one data set. The sample depends on the data and the
seed only: not on file order, threads or engine.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np
import pandas as pd
import sqlglot
from sqlglot import exp

from mlmon.metrics.sqlstats import quote

__all__ = ["portable_sample_sql", "sample_query", "draw_hash_sample", "canonical_order", "scramble_sql", "scramble"]

# Types both engines order alike (numbers, text, booleans, dates and times); lists, maps,
# structs and blobs do not take part in the canonical order.
_ORDERABLE = {"TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "UTINYINT", "USMALLINT", "UINTEGER",
              "UBIGINT", "DOUBLE", "FLOAT", "REAL", "DECIMAL", "NUMERIC", "VARCHAR", "JSON", "DATE", "UUID",
              "BOOLEAN", "TIMESTAMP", "TIMESTAMP WITH TIME ZONE", "TIMESTAMP_NS", "TIMESTAMP_MS", "TIMESTAMP_S",
              "TIME"}
_PRIME = 2_147_483_647  # 2^31 - 1: every product below stays under 2^48, exact in BIGINT
_MULTIPLIERS = (48_271, 69_621, 40_692)
_SHIFTS = (15, 13)


def _base_type(dtype: str) -> str:
    return dtype.split("(")[0].strip().upper()


def _offset(seed: int) -> int:
    return (int(seed) * 1_000_003 + 12_345) % _PRIME


def scramble_sql(ordinal: str, seed: int) -> str:
    """SQL of the scrambled `ordinal` (a BIGINT expression) for `seed`, in [0, 2^31)."""
    x = f"((CAST({ordinal} AS BIGINT) + {_offset(seed)}) % {_PRIME})"
    for multiplier, shift in zip(_MULTIPLIERS, (*_SHIFTS, None)):
        x = f"(({x} * {multiplier}) % {_PRIME})"
        if shift is not None:
            # Parenthesised: sqlglot writes XOR as Spark's `^`, which binds looser than `*`.
            x = f"(XOR({x}, ({x} >> {shift})))"
    return x


def scramble(ordinals: np.ndarray, seed: int) -> np.ndarray:
    """`scramble_sql` in numpy, for tests and checks."""
    x = (np.asarray(ordinals, dtype=np.int64) + _offset(seed)) % _PRIME
    for multiplier, shift in zip(_MULTIPLIERS, (*_SHIFTS, None)):
        x = (x * multiplier) % _PRIME
        if shift is not None:
            x = x ^ (x >> shift)
    return x


def portable_sample_sql(relation: str, select: Sequence[str], ordered: Sequence[tuple[str, str]], size: int,
                        seed: int, where: str | None = None) -> str:
    """SQL (DuckDB dialect, portable through sqlglot) of at most `size` rows of `select`: the
    rows numbered in the order of the `ordered` columns ((name, DuckDB type)), the smallest
    scrambled ordinals. `where`, if given, is a condition on the relation's columns (alias
    `t`) applied first."""
    sorted_on = [n for n, t in ordered if _base_type(t) in _ORDERABLE]
    window = f"ORDER BY {', '.join(f'{quote(n)} ASC NULLS FIRST' for n in sorted_on)}" if sorted_on else ""
    filtered = f" WHERE {where}" if where else ""
    columns = ", ".join(quote(c) for c in select)
    # Only the columns read or ordered on go through the window, which holds every row it numbers.
    carried = ", ".join(f"t.{quote(c)}" for c in dict.fromkeys([*select, *sorted_on]))
    return (
        f"WITH __mlmon_numbered AS (SELECT {carried}, ROW_NUMBER() OVER ({window}) AS __mlmon_ordinal "
        f"FROM {relation} AS t{filtered}) "
        f"SELECT {columns} FROM __mlmon_numbered "
        f"ORDER BY {scramble_sql('__mlmon_ordinal', seed)}, __mlmon_ordinal LIMIT {int(size)}"
    )


def sample_query(con: Any, relation: str, select: Sequence[str], hashed: Sequence[str], size: int, seed: int,
                 where: str | None = None) -> exp.Select:
    """`portable_sample_sql` as an expression: rows numbered in the order of the `hashed`
    columns (a key, or the whole row), then of the relation's other columns.

    When every selected column is an orderable `hashed` one, the rows are sorted on the hashed
    columns alone: the other columns only break ties between rows whose selected values are
    equal, so the rows read are the same and the sort is far cheaper (a kept or bounded sample
    reads a few columns of wide rows)."""
    types = dict(_column_types(con, relation))
    first = [(name, types.get(name, "VARCHAR")) for name in hashed]
    rest = [(name, dtype) for name, dtype in types.items() if name not in set(hashed)]
    orderable = {name for name, dtype in first if _base_type(dtype) in _ORDERABLE}
    ordered = first if set(select) <= orderable else [*first, *rest]
    return sqlglot.parse_one(portable_sample_sql(relation, select, ordered, size, seed, where), read="duckdb")


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
