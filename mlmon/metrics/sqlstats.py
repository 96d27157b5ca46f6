"""SQL that reduces samples to small sufficient statistics inside the warehouse.

Builders return SQL text for a `dialect` (identifiers quoted by sqlglot, doubles written as
`CAST('<repr>' AS DOUBLE)` so they round-trip exactly, only portable functions except where a
dialect switch is explicit). Relations are SQL text: a table name or a parenthesised subquery.
Every relation is scanned more than once, so it must be deterministic (a table, a view, or a
subquery without random sampling).

The two-sample engine computes the exact Kolmogorov-Smirnov numerator max|c_ref*n_cur -
c_cur*n_ref| and the Wasserstein integral of that difference without sorting whole columns:
one aggregate cuts both samples into fine cells inside the reference's PSI deciles, most cells
are settled from their counts alone, and only rows of the few cells whose answer depends on
the order inside them are sorted, by a window.
"""

from __future__ import annotations

import math
import uuid
from dataclasses import dataclass
from typing import Any, Callable, Sequence

import numpy as np
import pyarrow as pa
from sqlglot import exp

__all__ = [
    "DECILES",
    "quote",
    "double_literal",
    "as_double",
    "present",
    "string_type",
    "quantiles_sql",
    "moments_sql",
    "counts_sql",
    "bin_case_sql",
    "bin_index_sql",
    "SampleColumn",
    "TwoSampleResult",
    "two_sample_statistics",
]

DECILES: tuple[float, ...] = tuple(i / 10 for i in range(1, 10))


def quote(name: str, dialect: str = "duckdb") -> str:
    return exp.to_identifier(name, quoted=True).sql(dialect)


def double_literal(x: float, dialect: str = "duckdb") -> str:
    # A bare decimal literal may be typed DECIMAL and rounded; a cast string is exact.
    text = repr(float(x)) if math.isfinite(x) else ("NaN" if math.isnan(x) else ("Infinity" if x > 0 else "-Infinity"))
    return f"CAST('{text}' AS DOUBLE)"


def as_double(column: str, dialect: str = "duckdb") -> str:
    return f"CAST({quote(column, dialect)} AS DOUBLE)"


def present(expr: str, dialect: str = "duckdb") -> str:
    """True when a double expression is neither NULL nor NaN (both count as missing)."""
    return f"({expr} IS NOT NULL AND NOT ISNAN({expr}))"


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
) -> str:
    """Per-bin counts of numeric columns and per-category counts in a single scan.

    Output columns: GROUPING(g_i) for every key, then the keys g_i, then the count. A row
    belongs to the key whose GROUPING is 0; a NULL key in that row counts the missing values.
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
    sets = ", ".join(f"({n})" for n in names)
    return (
        f"SELECT {grouping}, {', '.join(names)}, COUNT(*) FROM (SELECT {inner} FROM {relation} AS t) AS k "
        f"GROUP BY GROUPING SETS ({sets})"
    )


# --------------------------------------------------------------------------------------------
# Two-sample engine: exact KS numerator and Wasserstein integral.
#
# With weights w = +n_cur on reference rows and -n_ref on current rows, the running sum
# S(x) = sum of w over rows with value <= x equals c_ref(x)*n_cur - c_cur(x)*n_ref, so
# KS = max|S| / (n_ref*n_cur) over the distinct values and Wasserstein = integral of |S| dx
# / (n_ref*n_cur). A cell is a run of consecutive sorted rows (all copies of a value share a
# cell) known by its counts, min, max and m = sum(w * (v - r)). Inside it, S stays within
# [S_before - down, S_before + up]: when that range has one sign the integral inside follows
# from m; when its bound cannot beat the largest |S| known, it cannot hold the KS maximum.
# The remaining cells are split into finer cells, or, once few rows are left, resolved by an
# exact window over their rows.
# --------------------------------------------------------------------------------------------

_KEY_STRIDE = 1 << 20  # first-round key = PSI bin * stride + cell within the bin


@dataclass(frozen=True)
class SampleColumn:
    """A numeric column to compare: the reference's PSI edges and bin counts, the current's
    non-missing count, and the min and max over both samples."""

    column: str
    edges: tuple[float, ...]
    ref_bins: tuple[int, ...]
    n_cur: int
    lo: float
    hi: float

    @property
    def n_ref(self) -> int:
        return sum(self.ref_bins)


@dataclass(frozen=True)
class TwoSampleResult:
    ks_numerator: int  # max |S|
    wasserstein_numerator: float  # integral of |S| dx
    cur_bins: tuple[int, ...]  # current counts per PSI bin, counted on the way


class _Cells:
    """The ordered cells of one column and what is known about each."""

    FIELDS = ("c1", "c2", "vmin", "vmax", "m", "r", "pcid", "pkey", "resolved", "inner_w", "inner_d")

    def __init__(self, index: int, col: SampleColumn, children: dict[str, np.ndarray]):
        self.index, self.col = index, col
        self.n1, self.n2 = col.n_ref, col.n_cur
        n = len(children["c1"])
        self.c1, self.c2 = children["c1"].astype(np.int64), children["c2"].astype(np.int64)
        self.vmin, self.vmax, self.m = (children[k].astype(float) for k in ("vmin", "vmax", "m"))
        self.r = np.full(n, col.lo)
        self.pcid, self.pkey = np.full(n, index, dtype=np.int64), children["pkey"].astype(float)
        self.resolved = np.zeros(n, dtype=bool)
        self.inner_w, self.inner_d = np.zeros(n), np.zeros(n, dtype=np.int64)

    def analyse(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
        """(cells to resolve, S before each cell, S at its end, largest |S| known)."""
        net = self.c1 * self.n2 - self.c2 * self.n1
        s_end = np.cumsum(net)
        s_before = s_end - net
        low, high = s_before - self.c2 * self.n1, s_before + self.c1 * self.n2
        single = self.vmin == self.vmax
        lb = int(np.abs(s_end).max())
        if self.resolved.any():
            lb = max(lb, int(self.inner_d[self.resolved].max()))
        one_sign = (low >= 0) | (high <= 0)
        bound = np.maximum(np.abs(low), np.abs(high))
        need = ~single & ~self.resolved & (~one_sign | (bound > lb))
        return need, s_before, s_end, lb

    def result(self) -> tuple[int, float]:
        need, s_before, s_end, lb = self.analyse()
        assert not need.any()
        net = (s_end - s_before).astype(float)
        inner = np.where(self.resolved, self.inner_w, 0.0)
        calc = (self.vmin != self.vmax) & ~self.resolved  # one sign throughout: from m
        inner[calc] = np.abs(
            s_before[calc] * (self.vmax[calc] - self.vmin[calc])
            + net[calc] * (self.vmax[calc] - self.r[calc])
            - self.m[calc]
        )
        gaps = np.abs(s_end[:-1].astype(float)) * (self.vmin[1:] - self.vmax[:-1])
        return lb, float(inner.sum() + gaps.sum())

    def replace(self, parent_pos: np.ndarray, children: dict[str, np.ndarray]) -> None:
        """Swap the parents for their children (rows sorted by parent, then key)."""
        keep = np.ones(len(self.c1), dtype=bool)
        keep[parent_pos] = False
        old_pos = np.nonzero(keep)[0]
        first = np.concatenate([old_pos, parent_pos])
        second = np.concatenate([np.full(len(old_pos), -np.inf), children["pkey"]])
        order = np.lexsort((second, first))
        n_new = len(parent_pos)
        blank = {"resolved": np.zeros(n_new, dtype=bool), "inner_w": np.zeros(n_new), "inner_d": np.zeros(n_new, dtype=np.int64)}
        for name in self.FIELDS:
            old = getattr(self, name)
            new = blank[name] if name in blank else children[name]
            setattr(self, name, np.concatenate([old[keep], new.astype(old.dtype)])[order])


def _first_key(col: SampleColumn, v: str, rows_per_cell: int, max_split: int, dialect: str) -> str:
    """The first-round cell of a value: its PSI bin, then an equal-width cell inside the bin.

    Deciles adapt the cells to the data's shape (skewed columns included) and the key comes
    straight out of the CASE, without a join.
    """
    lower, upper = (col.lo, *col.edges), (*col.edges, col.hi)
    expected = np.array(col.ref_bins) * (1 + col.n_cur / col.n_ref)
    cells = _split_factor(expected, rows_per_cell, max_split)

    def leaf(j: int) -> str:
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            scale = cells[j] / (upper[j] - lower[j])
        base = f"CAST({j * _KEY_STRIDE} AS DOUBLE)"
        if not (math.isfinite(lower[j]) and math.isfinite(scale) and scale > 0):
            return base
        return f"{base} + FLOOR(({v} - {double_literal(lower[j], dialect)}) * {double_literal(scale, dialect)})"

    return bin_case_sql(v, col.edges, leaf, dialect)


def _ranges(vmin: np.ndarray, vmax: np.ndarray, pos: np.ndarray, limit: int = 16) -> list[tuple[float, float]]:
    """Few value ranges covering the cells at `pos` (cells hold disjoint, ordered ranges).

    Neighbouring cells merge; beyond `limit` ranges the smallest gaps close. The ranges feed
    a cheap filter that drops rows before any key is computed.
    """
    breaks = np.nonzero(np.diff(pos) > 1)[0]
    starts, ends = np.r_[0, breaks + 1], np.r_[breaks, len(pos) - 1]
    lo, hi = vmin[pos[starts]], vmax[pos[ends]]
    if len(lo) > limit:
        keep = np.sort(np.argsort(lo[1:] - hi[:-1])[len(lo) - limit:])  # the widest gaps stay
        lo, hi = lo[np.r_[0, keep + 1]], hi[np.r_[keep, len(hi) - 1]]
    return list(zip(lo.tolist(), hi.tolist()))


def _rows_sql(
    ref_sql: str,
    cur_sql: str,
    cols: Sequence[tuple[int, SampleColumn]],
    keys: dict[int, str],
    dialect: str,
    ranges: dict[int, list[tuple[float, float]]] | None = None,
) -> str:
    branches = []
    for index, col in cols:
        v = as_double(col.column, dialect)
        where = present(v, dialect)
        if ranges and ranges.get(index):
            spans = " OR ".join(
                f"({v} >= {double_literal(a, dialect)} AND {v} <= {double_literal(b, dialect)})" for a, b in ranges[index]
            )
            where += f" AND ({spans})"
        for rel, w, flag in ((ref_sql, col.n_cur, "1"), (cur_sql, -col.n_ref, "NULL")):
            # w is a double: sums of these integers stay exact below 2**53 without 128-bit
            # accumulators; `ref` is NULL on current rows so COUNT(ref) counts reference rows.
            branches.append(
                f"SELECT CAST({index} AS BIGINT) AS pcid, {keys[index]} AS pkey, CAST({w} AS DOUBLE) AS w, "
                f"CAST({flag} AS INTEGER) AS ref, {v} AS v, {double_literal(col.lo, dialect)} AS clo "
                f"FROM {rel} AS t WHERE {where}"
            )
    return " UNION ALL ".join(branches)


def _chain_sql(rows: str, tables: Sequence[str]) -> str:
    """Rows joined down the chain of cell tables; alias `x` holds each row's cell in the last.

    Each step computes the row's key in the next table inside a subquery, so every join is
    between the rows and one small table; otherwise an optimizer may join the small tables to
    each other first and fan every row out to all cells.
    """
    sql = f"({rows})"
    for i, table in enumerate(tables):
        last = i == len(tables) - 1
        cols = "c.*, r.w, r.ref, r.v" if last else "c.cid AS pcid, FLOOR((r.v - c.clo) * c.csc) AS pkey, r.w, r.ref, r.v"
        sql = f"(SELECT {cols} FROM {sql} AS r JOIN {table} AS c ON c.pcid = r.pcid AND c.pkey = r.pkey)"
    return sql + " AS x"


def _split_sql(source: str, cell: str, key: str, where: str = "") -> str:
    return (
        f"SELECT {cell} AS pcid, {key} AS pkey, COUNT(*) AS c, COUNT(x.ref) AS c1, "
        "MIN(x.v) AS vmin, MAX(x.v) AS vmax, SUM(x.w * (x.v - x.clo)) AS m "
        f"FROM {source} {where} GROUP BY {cell}, {key}"
    )


def _window_sql(source: str) -> str:
    """Exact S inside windowed cells, from `source` rows (cid, s0, v, net): one row per
    distinct value of a cell, with its net weight. Per cell: max |S|, the integral between its
    first and last values, and those values."""
    over = "PARTITION BY cid ORDER BY v"
    return (
        "SELECT cid, MAX(ABS(s)) AS dmax, COALESCE(SUM(ABS(s) * (nv - v)), 0) AS wsum, MIN(v) AS first, "
        "MAX(v) AS last FROM ("
        f"SELECT cid, v, s0 + SUM(net) OVER ({over} ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS s, "
        f"LEAD(v) OVER ({over}) AS nv FROM {source}) AS y GROUP BY cid"
    )


def _collapsed_sql(chain: str) -> str:
    """Rows of windowed cells collapsed to one per distinct value. Values whose weights cancel
    never move S and drop out, so identical samples leave nothing to sort."""
    return (
        f"(SELECT x.cid AS cid, MIN(x.s0) AS s0, x.v AS v, SUM(x.w) AS net FROM {chain} WHERE x.win "
        "GROUP BY x.cid, x.v HAVING SUM(x.w) <> 0) AS g"
    )


def _collapsed_first_sql(rows: str, table: str) -> str:
    """The same rows when most of them are windowed first-round cells: collapsing before the
    join to the cell table spares the join every row that cancels."""
    return (
        f"(SELECT c.cid AS cid, c.s0 AS s0, g.v AS v, g.net AS net FROM (SELECT r.pcid, MIN(r.pkey) AS pkey, r.v, "
        f"SUM(r.w) AS net FROM ({rows}) AS r GROUP BY r.pcid, r.v HAVING SUM(r.w) <> 0) AS g "
        f"JOIN {table} AS c ON c.pcid = g.pcid AND c.pkey = g.pkey WHERE c.win) AS g"
    )


def _register(con: Any, columns: dict[str, np.ndarray]) -> str:
    # A lookup table of cells travels as Arrow: written as VALUES text, thousands of rows
    # would make the parser, not the scan, the bottleneck.
    name = f"__mlmon_cells_{uuid.uuid4().hex}"
    con.register(name, pa.table(columns))
    return name


def _split_factor(count: np.ndarray, rows_per_cell: int, max_split: int) -> np.ndarray:
    """Cells per split: a power of two (so nested keys stay exact) near count / rows_per_cell."""
    return np.clip(2.0 ** np.ceil(np.log2(np.maximum(count / rows_per_cell, 1.0))), 2, max_split)


def _fetch(con: Any, sql: str) -> dict[str, np.ndarray]:
    return {k: np.asarray(v) for k, v in con.execute(sql).fetchnumpy().items()}


def _first_round(con: Any, ref_sql: str, cur_sql: str, cols: list[tuple[int, SampleColumn]], keys: dict[int, str],
                 dialect: str) -> tuple[list[_Cells], dict[str, tuple[int, ...]]]:
    """Cut every column into cells in one aggregate; also counts the current's PSI bins."""
    rows = _rows_sql(ref_sql, cur_sql, cols, keys, dialect)
    res = _fetch(con, _split_sql(f"({rows}) AS x", "x.pcid", "x.pkey"))
    order = np.lexsort((res["pkey"], res["pcid"]))
    res = {k: v[order] for k, v in res.items()}
    res["c2"] = res["c"] - res["c1"]
    states, bins = [], {}
    for index, col in cols:
        mask = res["pcid"] == index
        part = {k: v[mask] for k, v in res.items()}
        states.append(_Cells(index, col, part))
        j = np.floor(part["pkey"] / _KEY_STRIDE).astype(np.int64)
        bins[col.column] = tuple(int(x) for x in np.bincount(j, weights=part["c2"], minlength=len(col.edges) + 1))
    return states, bins


@dataclass
class _Open:
    """One column's cells to resolve this round: positions, S before each, ids from `first`."""

    cells: _Cells
    pos: np.ndarray
    s_before: np.ndarray
    first: int = 0

    def owned(self, cids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(which result rows belong to this column, the positions of their cells)."""
        mask = (cids >= self.first) & (cids < self.first + len(self.pos))
        return mask, self.pos[cids[mask] - self.first]


def _cell_table(todo: list[_Open], first_cid: int, window_all: bool, rows_per_cell: int,
                max_split: int) -> dict[str, np.ndarray]:
    """The round's lookup table: how to find each open cell's rows, split them or window them."""
    parts: dict[str, list[np.ndarray]] = {k: [] for k in ("pcid", "pkey", "cid", "clo", "csc", "s0", "win")}
    for o in todo:
        st, pos = o.cells, o.pos
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            scale = _split_factor(st.c1[pos] + st.c2[pos], rows_per_cell, max_split) / (st.vmax[pos] - st.vmin[pos])
        # Infinite values, or a range wider than a double holds, cannot be cut into cells.
        win = ~(np.isfinite(st.vmin[pos]) & np.isfinite(st.vmax[pos]) & np.isfinite(scale) & (scale > 0))
        o.first = first_cid
        first_cid += len(pos)
        for k, v in (("pcid", st.pcid[pos]), ("pkey", st.pkey[pos]), ("cid", np.arange(o.first, first_cid)),
                     ("clo", st.vmin[pos]), ("csc", np.where(win, 0.0, scale)),
                     ("s0", o.s_before[pos].astype(float)), ("win", win | window_all)):
            parts[k].append(v)
    return {k: np.concatenate(v) for k, v in parts.items()}


def _settle_windowed(todo: list[_Open], win: np.ndarray, res: dict[str, np.ndarray]) -> None:
    offset = 0
    for o in todo:
        st, windowed = o.cells, o.pos[win[offset:offset + len(o.pos)]]
        offset += len(o.pos)
        # A cell absent from the result had all its values cancel: S = S_before end to end.
        st.inner_w[windowed] = np.abs(o.s_before[windowed]) * (st.vmax[windowed] - st.vmin[windowed])
        st.inner_d[windowed] = 0
        st.resolved[windowed] = True
        mask, where = o.owned(res["cid"].astype(np.int64))
        s_before = o.s_before[where]
        s_end = s_before + st.c1[where] * st.n2 - st.c2[where] * st.n1
        st.inner_d[where] = res["dmax"][mask].astype(np.int64)
        with np.errstate(invalid="ignore"):  # infinite values give NaN, reported as missing
            st.inner_w[where] = (res["wsum"][mask].astype(float)
                                 + np.abs(s_before) * (res["first"][mask] - st.vmin[where])
                                 + np.abs(s_end) * (st.vmax[where] - res["last"][mask]))


def _apply_splits(todo: list[_Open], res: dict[str, np.ndarray]) -> None:
    res["c2"] = res.pop("c") - res["c1"]
    for o in todo:
        mask, parent_pos = o.owned(res["pcid"].astype(np.int64))
        if mask.any():  # every split cell has rows, hence children
            children = {k: v[mask] for k, v in res.items()}
            children["r"] = o.cells.vmin[parent_pos]
            o.cells.replace(parent_pos, children)


def two_sample_statistics(
    con: Any,
    ref_sql: str,
    cur_sql: str,
    columns: Sequence[SampleColumn],
    *,
    dialect: str = "duckdb",
    rows_per_cell: int = 32,
    max_split: int = 4096,
    window_rows: int = 200_000,
    crossing_share: float = 0.5,
    max_depth: int = 8,
) -> dict[str, TwoSampleResult]:
    """KS and Wasserstein numerators of every column with rows on both sides.

    Open cells are split again while they hold more than `window_rows` rows, less than
    `crossing_share` of them in cells where S changes sign, and fewer than `max_depth` splits
    were made; then the rest is windowed. These settings, `rows_per_cell` and `max_split` only
    trade scans against window work: every setting gives the same exact answer.
    """
    cols = [(i, c) for i, c in enumerate(columns) if c.n_ref > 0 and c.n_cur > 0]
    if not cols:
        return {}
    keys = {i: _first_key(c, as_double(c.column, dialect), rows_per_cell, max_split, dialect) for i, c in cols}
    states, cur_bins = _first_round(con, ref_sql, cur_sql, cols, keys, dialect)
    chain: list[str] = []
    next_cid = 0
    try:
        while True:
            todo, rows, crossing = [], 0, 0
            for st in states:
                need, s_before, _, _ = st.analyse()
                if need.any():
                    pos = np.nonzero(need)[0]
                    todo.append(_Open(st, pos, s_before))
                    count = st.c1[pos] + st.c2[pos]
                    changes_sign = (s_before[pos] - st.c2[pos] * st.n1 < 0) & (s_before[pos] + st.c1[pos] * st.n2 > 0)
                    rows, crossing = rows + int(count.sum()), crossing + int(count[changes_sign].sum())
            if not todo:
                break
            # Splitting settles cells that might hold the KS maximum; cells where S changes
            # sign stay open at every scale (S of similar samples returns to zero all along).
            window_all = rows <= window_rows or crossing >= crossing_share * rows or len(chain) >= max_depth
            table = _cell_table(todo, next_cid, window_all, rows_per_cell, max_split)
            next_cid += len(table["cid"])
            chain.append(_register(con, table))
            spans = {o.cells.index: _ranges(o.cells.vmin, o.cells.vmax, o.pos) for o in todo}
            rows_sql = _rows_sql(ref_sql, cur_sql, [(o.cells.index, o.cells.col) for o in todo], keys, dialect, spans)
            joined = _chain_sql(rows_sql, chain)
            if table["win"].any():
                bulk = len(chain) == 1 and window_all and 2 * rows >= sum(o.cells.n1 + o.cells.n2 for o in todo)
                source = _collapsed_first_sql(rows_sql, chain[0]) if bulk else _collapsed_sql(joined)
                _settle_windowed(todo, table["win"], _fetch(con, _window_sql(source)))
            if not table["win"].all():
                _apply_splits(todo, _fetch(con, _split_sql(joined, "x.cid", "FLOOR((x.v - x.clo) * x.csc)", "WHERE NOT x.win")))
    finally:
        for name in chain:
            con.unregister(name)
    return {st.col.column: TwoSampleResult(*st.result(), cur_bins[st.col.column]) for st in states}
