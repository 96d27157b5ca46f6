"""The rows of a column that fall inside given value intervals, found by one hash join.

The two-sample engine (mlmon.metrics.twosample, mlmon.metrics.cells) reads the rows of a few
thousand cells again, each cell an interval [vmin, vmax] of one column holding every row with
a value in it. A filter of OR'ed ranges costs a comparison per range per row, and computing
each row's cell key again costs a CASE per row; instead each row gets an equal-width bucket
(one subtraction, one product), the bucket is joined to a small table listing the intervals
that overlap it, and the join keeps the rows inside their interval. The grid is fine enough
that a bucket overlaps only a few intervals. The cells of many (column, group) pairs share
their column's grid, so that one scan per column finds the rows of every group's cells.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

import numpy as np

from mlmon.metrics.sqlstats import double_literal, present, with_value

__all__ = ["Grid", "interval_table", "rows_in_intervals_sql"]

_MAX_BUCKETS = 1 << 20  # per column
_MAX_FANOUT = 8  # intervals one bucket may overlap, when a finer grid can avoid it


@dataclass(frozen=True)
class Grid:
    """A column's buckets: FLOOR((v - lo) * scale) clamped to [0, buckets - 1]."""

    lo: float
    scale: float
    buckets: int

    def of(self, v: np.ndarray) -> np.ndarray:
        with np.errstate(invalid="ignore", over="ignore"):
            b = np.floor((v - self.lo) * self.scale)
        return np.clip(np.nan_to_num(b, nan=0.0), 0, self.buckets - 1)

    def sql(self, v: str, dialect: str = "duckdb") -> str:
        b = f"FLOOR(({v} - {double_literal(self.lo, dialect)}) * {double_literal(self.scale, dialect)})"
        return f"GREATEST(LEAST({b}, {double_literal(self.buckets - 1.0, dialect)}), {double_literal(0.0, dialect)})"


def _grid(vmin: np.ndarray, vmax: np.ndarray, layers: int = 1) -> Grid:
    """The coarsest grid (by powers of four) where no bucket overlaps more than `_MAX_FANOUT`
    intervals per layer: the intervals of `layers` pairs sharing the grid overlap each other."""
    ends = np.concatenate([vmin, vmax])
    ends = ends[np.isfinite(ends)]
    if ends.size == 0 or ends.max() <= ends.min():
        return Grid(0.0 if ends.size == 0 else float(ends.min()), 0.0, 1)
    lo, span = float(ends.min()), float(ends.max() - ends.min())
    buckets = min(_MAX_BUCKETS, 1 << max(4, math.ceil(math.log2(8 * len(vmin) / layers))))
    while True:
        scale = buckets / span
        if not math.isfinite(scale):
            return Grid(lo, 0.0, 1)
        grid = Grid(lo, scale, buckets)
        if buckets >= _MAX_BUCKETS:
            return grid
        first, last = grid.of(vmin), grid.of(vmax)
        # The most intervals any bucket overlaps: +1 at each interval's first bucket, -1 after its last.
        marks = np.zeros(buckets + 1)
        np.add.at(marks, first.astype(np.int64), 1)
        np.add.at(marks, last.astype(np.int64) + 1, -1)
        if np.cumsum(marks).max() <= _MAX_FANOUT * layers:
            return grid
        buckets = min(_MAX_BUCKETS, buckets * 4)


def interval_table(parts: Sequence[tuple[int, np.ndarray, np.ndarray, dict[str, np.ndarray], int]]
                   ) -> tuple[dict[str, np.ndarray], dict[int, Grid], dict[int, tuple[float, float]]]:
    """The lookup table of intervals, one row per (interval, bucket it overlaps), each
    column's grid and span. `parts` holds per column its key, the intervals' vmin and vmax,
    further per-interval columns to carry into the table, and the number of layers: the
    intervals are disjoint within each layer (the cells of one (column, group) pair), which
    share the column's grid."""
    grids: dict[int, Grid] = {}
    spans: dict[int, tuple[float, float]] = {}
    out: dict[str, list[np.ndarray]] = {}
    for col, vmin, vmax, payload, layers in parts:
        grid = grids[col] = _grid(vmin, vmax, layers)
        spans[col] = (float(vmin.min()), float(vmax.max()))
        # One bucket of margin each side: the table never depends on how the last bit of
        # (v - lo) * scale rounds; the join's range test decides.
        first = np.maximum(grid.of(vmin) - 1, 0).astype(np.int64)
        last = np.minimum(grid.of(vmax) + 1, grid.buckets - 1).astype(np.int64)
        counts = last - first + 1
        rows = np.repeat(np.arange(len(vmin)), counts)
        b = np.repeat(first, counts) + np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts)
        columns = {"col": np.full(len(rows), col, dtype=np.int64), "b": b.astype(np.float64),
                   "vmin": vmin[rows], "vmax": vmax[rows], **{k: v[rows] for k, v in payload.items()}}
        for k, v in columns.items():
            out.setdefault(k, []).append(v)
    return {k: np.concatenate(v) for k, v in out.items()}, grids, spans


def rows_in_intervals_sql(ref_sql: str, cur_sql: str, columns: Sequence[tuple[int, str]],
                          grids: dict[int, Grid], spans: dict[int, tuple[float, float]], table: str,
                          select: Sequence[str], dialect: str, group_sql: str, where: str | None) -> str:
    """Rows of both samples inside the intervals of `table` (registered; its columns `col`,
    `grp`, `b`, `vmin`, `vmax`, and the weights `wref` and `wcur` of a reference and a current
    row), as a subquery `x` with the table's columns `select`, the row's weight `w`, `ref` (1
    on reference rows, else NULL) and its value `v`. `columns` holds per column its key and
    double SQL expression; a current row's group is `group_sql`, and `where` picks the current
    rows compared. A reference row joins the intervals of every group; `spans` (per column, the
    lowest and highest end of its intervals) drops the rows outside every interval first."""
    picked = ", ".join(f"c.{name}" for name in select)
    sides = []
    for rel, grouped, weight, flag in ((ref_sql, False, "wref", "1"), (cur_sql, True, "wcur", "NULL")):
        branches = []
        for col, expr in columns:
            lo, hi = spans[col]
            inside = (f"{present('v', dialect)} AND v >= {double_literal(lo, dialect)} "
                      f"AND v <= {double_literal(hi, dialect)}")
            group = ", CAST(grp AS BIGINT) AS grp" if grouped else ""
            rows = with_value(rel, expr, where, grp=group_sql) if grouped else with_value(rel, expr)
            branches.append(f"SELECT CAST({col} AS BIGINT) AS col{group}, {grids[col].sql('v', dialect)} AS b, "
                            f"v AS v FROM {rows} WHERE {inside}")
        same_group = " AND c.grp = r.grp" if grouped else ""
        # w is a double: sums of these integers stay exact below 2**53 without 128-bit
        # accumulators; `ref` is NULL on current rows so COUNT(ref) counts reference rows.
        sides.append(f"SELECT {picked}, c.{weight} AS w, CAST({flag} AS INTEGER) AS ref, r.v AS v "
                     f"FROM ({' UNION ALL '.join(branches)}) AS r JOIN {table} AS c ON c.col = r.col{same_group} "
                     "AND c.b = r.b AND r.v >= c.vmin AND r.v <= c.vmax")
    return f"({' UNION ALL '.join(sides)}) AS x"
