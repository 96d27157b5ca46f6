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

Numbering the rows in the order of all their columns is a wide sort; the same rows are found
cheaper. Which ordinals are drawn depends on the number of rows and the seed alone, so the
cut (the last kept draw) is found first, in numpy, and a row is kept when its scrambled
ordinal is within the cut: no sort by draw. And a row's ordinal in the order of all its
columns is its rank in the order of the first few (the prefix) plus its place among the rows
tied with it on the prefix, in the order of the other columns. So the rows are ranked on the
prefix alone, a narrow sort; only the prefix values whose tied rows hold a drawn ordinal are
read again and ordered on the remaining columns: about one row per drawn ordinal when the
prefix nearly identifies a row. Approximate distinct counts choose the prefix; the choice
changes the cost, never the rows.
"""

from __future__ import annotations

import math
from typing import Any, Sequence

import numpy as np
import pandas as pd
import sqlglot
from sqlglot import exp

from mlmon.metrics import values
from mlmon.metrics.row_order import null_flag, row_ordinals
from mlmon.metrics.sqlstats import quote

__all__ = ["is_orderable", "portable_sample_sql", "sample_query", "draw_hash_sample", "canonical_order", "scramble_sql", "scramble",
           "last_draw", "drawn"]

# Types both engines order alike (numbers, text, booleans, dates and times); lists, maps,
# structs and blobs do not take part in the canonical order.
_ORDERABLE = {"TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "UTINYINT", "USMALLINT", "UINTEGER",
              "UBIGINT", "DOUBLE", "FLOAT", "REAL", "DECIMAL", "NUMERIC", "VARCHAR", "JSON", "DATE", "UUID",
              "BOOLEAN", "TIMESTAMP", "TIMESTAMP WITH TIME ZONE", "TIMESTAMP_NS", "TIMESTAMP_MS", "TIMESTAMP_S",
              "TIME"}
_PRIME = 2_147_483_647  # 2^31 - 1: every product below stays under 2^48, exact in BIGINT
_MULTIPLIERS = (48_271, 69_621, 40_692)
_SHIFTS = (15, 13)
# Ordinals scrambled at a time while looking for the cut: bounded memory whatever the rows.
_CHUNK = 1 << 20
# Leading columns tried as the prefix ranked on first.
_MAX_PREFIX = 3


def is_orderable(dtype: str) -> bool:
    """Whether both engines order values of this DuckDB type alike (it can take part in the
    canonical order)."""
    return _base_type(dtype) in _ORDERABLE


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


def last_draw(rows: int, size: int, seed: int) -> tuple[int, int]:
    """(scrambled ordinal, ordinal) of the last ordinal a sample of `size` of ordinals 1..`rows`
    keeps, in the order of (draw, ordinal): ordinal o is drawn when (scramble(o), o) is at most
    this pair. Needs 0 < size < rows; memory is bounded by `size` plus one chunk of ordinals."""
    if not 0 < size < rows:
        raise ValueError(f"a cut needs 0 < size < rows, got size {size} of {rows} rows")
    if rows >= 1 << 32:
        raise ValueError(f"a sample draws from fewer than 2^32 rows, got {rows}")
    # One int64 per ordinal orders by (draw, ordinal): draws are below 2^31, ordinals below 2^32.
    kept = np.empty(0, dtype=np.int64)
    for start in range(1, rows + 1, _CHUNK):
        ordinals = np.arange(start, min(start + _CHUNK, rows + 1), dtype=np.int64)
        keys = (scramble(ordinals, seed) << 32) | ordinals
        if len(kept) == size:
            keys = keys[keys < kept.max()]
        kept = np.concatenate([kept, keys])
        if len(kept) > size:
            kept = np.partition(kept, size - 1)[:size]
    last = int(kept.max())
    return last >> 32, last & 0xFFFF_FFFF


def drawn(ordinals: np.ndarray, rows: int, size: int, seed: int) -> np.ndarray:
    """Which of `ordinals` (among 1..`rows`) a sample of `size` keeps: those whose (scrambled
    ordinal, ordinal) is at most `last_draw`'s, found without sorting the draws."""
    if size >= rows:
        return np.ones(len(ordinals), dtype=bool)
    draw, ordinal = last_draw(rows, size, seed)
    draws = scramble(ordinals, seed)
    return (draws < draw) | ((draws == draw) & (ordinals <= ordinal))


def _sorted_on(ordered: Sequence[tuple[str, str]]) -> list[str]:
    return [name for name, dtype in ordered if is_orderable(dtype)]


def _order_by(columns: Sequence[str]) -> str:
    return f"ORDER BY {', '.join(f'{quote(n)} ASC NULLS FIRST' for n in columns)}" if columns else ""


def portable_sample_sql(relation: str, select: Sequence[str], ordered: Sequence[tuple[str, str]], size: int,
                        seed: int, where: str | None = None, rows: int | None = None,
                        prefix: int | None = None) -> str:
    """SQL (DuckDB dialect, portable through sqlglot) of at most `size` rows of `select`: the
    rows numbered in the order of the `ordered` columns ((name, DuckDB type)), the smallest
    scrambled ordinals. `where`, if given, is a condition on the relation's columns (alias
    `t`) applied first.

    Without `rows` the query numbers every row and sorts all of them by draw: the definition.
    Given `rows`, the number of rows meeting `where`, it keeps the same rows by the cut and,
    when `prefix` is fewer than the sorted columns, ranks on that many leading columns first
    (module docstring)."""
    sorted_on = _sorted_on(ordered)
    filtered = f" WHERE {where}" if where else ""
    columns = ", ".join(quote(c) for c in select)
    # Only the columns read or ordered on go through a window, which holds every row it numbers.
    carried = ", ".join(f"t.{quote(c)}" for c in dict.fromkeys([*select, *sorted_on]))
    numbered = (f"__mlmon_numbered AS (SELECT {carried}, ROW_NUMBER() OVER ({_order_by(sorted_on)}) AS __mlmon_ordinal "
                f"FROM {relation} AS t{filtered})")
    if rows is None or rows >= _PRIME:  # beyond the prime, ordinals wrap and share draws
        return (f"WITH {numbered} SELECT {columns} FROM __mlmon_numbered "
                f"ORDER BY {scramble_sql('__mlmon_ordinal', seed)}, __mlmon_ordinal LIMIT {int(size)}")
    if size <= 0 or rows <= size:
        return f"SELECT {columns} FROM {relation} AS t{filtered}{' LIMIT 0' if size <= 0 else ''}"
    draw, ordinal = last_draw(rows, int(size), seed)
    kept = "__mlmon_draw <= c.__mlmon_cut"
    if draw == 0:
        # Each stage of the scramble is one-to-one on [0, 2^31 - 1) but for two inputs the
        # modulo sends to 0: a draw other than 0 is one ordinal's, and the draw alone decides.
        kept = f"(__mlmon_draw < c.__mlmon_cut OR (__mlmon_draw = c.__mlmon_cut AND __mlmon_ordinal <= {ordinal}))"

    def drawn(relation_with_ordinals: str) -> str:
        """Rows of a relation with `__mlmon_ordinal` whose ordinal the sample draws. The cut
        is a joined row, not a constant: DuckDB inlines the projected draw into a filter on a
        constant, and a filter recomputes the scramble's repeated stages where a projection
        shares them."""
        return (f"(SELECT *, {scramble_sql('__mlmon_ordinal', seed)} AS __mlmon_draw FROM {relation_with_ordinals}) "
                f"AS d JOIN (SELECT {draw} AS __mlmon_cut) AS c ON {kept}")

    sample = (f"SELECT {columns} FROM {drawn('__mlmon_numbered')} "
              f"ORDER BY __mlmon_draw, __mlmon_ordinal LIMIT {int(size)}")
    leading = len(sorted_on) if prefix is None else max(1, min(int(prefix), len(sorted_on)))
    if leading >= len(sorted_on):
        return f"WITH {numbered} {sample}"
    first, rest = sorted_on[:leading], sorted_on[leading:]
    keys = [f"__mlmon_key_{i}" for i in range(leading)]
    # A row's ordinal is its rank on the prefix plus its place among the rows tied with it
    # there: the row numbers of a tie group are that group's ordinals in some order, so the
    # groups holding a drawn row number are the groups holding a drawn ordinal.
    ranked = (f"__mlmon_ranked AS (SELECT {', '.join(f't.{quote(c)} AS {k}' for c, k in zip(first, keys))}, "
              f"ROW_NUMBER() OVER ({_order_by(first)}) AS __mlmon_ordinal, RANK() OVER ({_order_by(first)}) "
              f"AS __mlmon_first FROM {relation} AS t{filtered})")
    hits = f"__mlmon_hits AS (SELECT DISTINCT {', '.join(keys)}, __mlmon_first FROM {drawn('__mlmon_ranked')})"
    same_prefix = " AND ".join(f"t.{quote(c)} IS NOT DISTINCT FROM h.{k}" for c, k in zip(first, keys))
    candidates = (f"__mlmon_candidates AS (SELECT {carried}, h.__mlmon_first FROM {relation} AS t "
                  f"JOIN __mlmon_hits AS h ON {same_prefix}{filtered})")
    renumbered = (f"__mlmon_numbered AS (SELECT *, __mlmon_first - 1 + ROW_NUMBER() OVER (PARTITION BY __mlmon_first "
                  f"{_order_by(rest)}) AS __mlmon_ordinal FROM __mlmon_candidates)")
    return f"WITH {ranked}, {hits}, {candidates}, {renumbered} {sample}"


def _prefix_cost(rows: int, size: int, width: int, prefix: int, distinct: int) -> float:
    """A rough cost, in column-rows, of a sample of `size` of `rows` rows sorted on `width`
    columns, ranked first on `prefix` of them, whose values are about `distinct`: one pass
    sorts every row on all columns; ranking on a prefix sorts every row on the prefix, reads
    the rows again and sorts on all columns the rows tied with a drawn ordinal (a group of g
    tied rows holds one with chance 1 - (1 - size/rows)^g)."""
    if prefix >= width:
        return float(rows) * width
    group = max(1.0, rows / max(distinct, 1))
    candidates = -rows * math.expm1(group * math.log1p(-size / rows))
    return rows * (prefix + 1) + width * candidates


def _plan(con: Any, relation: str, sorted_on: Sequence[str], size: int, where: str | None) -> tuple[int, int]:
    """(rows meeting `where`, the prefix to rank on first). One aggregate query counts the rows
    and estimates the distinct values of the leading column; longer prefixes are estimated, by
    a second query, only when they could cost less."""
    width = len(sorted_on)
    longest = min(width - 2, _MAX_PREFIX)  # ranking on j columns first can only pay when j + 1 < width
    filtered = f" WHERE {where}" if where else ""

    def distinct_counts(prefixes: Sequence[int], *also: str) -> list[int]:
        estimates = [f"APPROX_COUNT_DISTINCT(HASH({', '.join(quote(c) for c in sorted_on[:j])}))" for j in prefixes]
        found = con.execute(f"SELECT {', '.join([*also, *estimates])} FROM {relation} AS t{filtered}").fetchone()
        return [int(v or 0) for v in found]

    rows, *first = distinct_counts(range(1, min(longest, 1) + 1), "COUNT(*)")
    if rows <= size or longest < 1:
        return rows, width
    costs = {width: _prefix_cost(rows, size, width, width, rows)}
    costs.update((j, _prefix_cost(rows, size, width, j, d)) for j, d in enumerate(first, start=1))
    # Ranking on j columns costs at least rows * (j + 1): longer prefixes only when that is less.
    if longest >= 2 and min(costs.values()) > rows * 3:
        costs.update((j, _prefix_cost(rows, size, width, j, d))
                     for j, d in enumerate(distinct_counts(range(2, longest + 1)), start=2))
    return rows, min(costs, key=lambda j: (costs[j], j))


def sample_query(con: Any, relation: str, select: Sequence[str], hashed: Sequence[str], size: int, seed: int,
                 where: str | None = None) -> exp.Select:
    """`portable_sample_sql` as an expression: rows numbered in the order of the `hashed`
    columns (a key, or the whole row), then of the relation's other columns. One aggregate
    query first counts the rows and estimates how distinct the leading columns are.

    When every selected column is an orderable `hashed` one, the rows are sorted on the hashed
    columns alone: the other columns only break ties between rows whose selected values are
    equal, so the rows read are the same and the sort is far cheaper (a kept or bounded sample
    reads a few columns of wide rows)."""
    ordered = _ordered(con, relation, select, hashed)
    return sqlglot.parse_one(_sample_sql(con, relation, select, ordered, size, seed, where), read="duckdb")


def draw_hash_sample(con: Any, relation: str, select: Sequence[str], hashed: Sequence[str], size: int, seed: int,
                     where: str | None = None, rows: int | None = None) -> pd.DataFrame:
    """At most `size` rows of `select` as a DataFrame, drawn over the `hashed` columns (a key,
    or every column of the row), in canonical order. `rows`, the rows meeting `where` when the
    caller counted them already, spares the counting query when they are no more than `size`.
    Rows that fit in memory are read whole and drawn in numpy: the same rows, one query."""
    ordered = _ordered(con, relation, select, hashed)
    if size > 0 and (rows is None or rows > size):
        drawn = _drawn_in_memory(con, relation, select, ordered, size, seed, where, rows)
        if drawn is not None:
            return canonical_order(drawn)
    return canonical_order(con.execute(_sample_sql(con, relation, select, ordered, size, seed, where, rows)).df())


def _ordered(con: Any, relation: str, select: Sequence[str], hashed: Sequence[str]) -> list[tuple[str, str]]:
    """The columns ((name, DuckDB type)) whose order numbers the rows: the hashed ones, then,
    unless they cover every selected column, the relation's others."""
    types = dict(_column_types(con, relation))
    # Both engines resolve column names whatever their case.
    by_name = {name.lower(): dtype for name, dtype in types.items()}
    missing = [name for name in [*hashed, *select] if name.lower() not in by_name]
    if missing:
        raise ValueError(f"{relation} has no column {missing[0]!r} to sample on")
    first = [(name, by_name[name.lower()]) for name in hashed]
    rest = [(name, dtype) for name, dtype in types.items() if name.lower() not in {h.lower() for h in hashed}]
    orderable = {name for name, dtype in first if is_orderable(dtype)}
    return first if set(select) <= orderable else [*first, *rest]


def _drawn_in_memory(con: Any, relation: str, select: Sequence[str], ordered: Sequence[tuple[str, str]], size: int,
                     seed: int, where: str | None, rows: int | None) -> pd.DataFrame | None:
    """The sample's rows (the definition's), from every row read in one query and numbered in
    numpy (mlmon.metrics.row_order): no window, no planning query. None, having read nothing
    or at most one row more than fits, when the read columns and their NULL flags hold more
    than `values.IN_MEMORY_VALUES` values, or when pandas may not order them as the engine does."""
    sorted_on = _sorted_on(ordered)
    read = list(dict.fromkeys([*select, *sorted_on]))
    fitting = values.rows_in_memory(len(read) + len(sorted_on))
    if rows is not None and rows > fitting:
        return None
    items = [*(f"t.{quote(c)}" for c in read),
             *(f"t.{quote(c)} IS NULL AS {null_flag(i)}" for i, c in enumerate(sorted_on))]
    frame = con.execute(f"SELECT {', '.join(items)} FROM {relation} AS t{f' WHERE {where}' if where else ''} "
                        f"LIMIT {fitting + 1}").df()
    if len(frame) > fitting:
        return None
    ordinals = row_ordinals(frame, sorted_on, dict(ordered))
    if ordinals is None:
        return None
    return frame.loc[drawn(ordinals, len(frame), size, seed), list(select)].reset_index(drop=True)


def _sample_sql(con: Any, relation: str, select: Sequence[str], ordered: Sequence[tuple[str, str]], size: int,
                seed: int, where: str | None, rows: int | None = None) -> str:
    if rows is not None and rows <= size:
        return portable_sample_sql(relation, select, ordered, size, seed, where, rows=rows)  # every row: no draw
    rows, prefix = _plan(con, relation, _sorted_on(ordered), size, where)
    return portable_sample_sql(relation, select, ordered, size, seed, where, rows=rows, prefix=prefix)


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
    except (TypeError, ValueError):  # mixed types, or lists (arrays): compare the text of the values
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
