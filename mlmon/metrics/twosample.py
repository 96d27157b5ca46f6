"""Two-sample engine: exact KS numerator, Wasserstein integral, PSI bin counts and, on request,
the reference's exact deciles, for many numeric columns at once, inside the warehouse.

With weights w = +n_cur on reference rows and -n_ref on current rows, the running sum
S(x) = sum of w over rows with value <= x equals c_ref(x)*n_cur - c_cur(x)*n_ref, so
KS = max|S| / (n_ref*n_cur) over the distinct values and Wasserstein = integral of |S| dx
/ (n_ref*n_cur). A cell is a run of consecutive sorted rows (all copies of a value share a
cell) known by its counts, min, max and m = sum(w * (v - r)). Inside it, S stays within
[S_before - down, S_before + up]: when that range has one sign the integral inside follows
from m; when its bound cannot beat the largest |S| known, it cannot hold the KS maximum.
The remaining cells are split into finer cells, or, once few rows are left, resolved by an
exact window over their rows (mlmon.metrics.cells).

The first round cuts every column into cells in one aggregate over both samples: a bin
between consecutive knots of the column's `Layout` (the reference's deciles when its profile
is known, else quantiles of a sample), then equal-width cells inside the bin. The same cells
count the sample sizes and, with a few rows read again (`_detail`), give the order statistics
of the reference and the PSI bin counts exactly: no sort of a whole column is needed.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction
from typing import Any, Sequence

import numpy as np

from mlmon.metrics.cells import WINDOW_BATCH_ROWS, Cells, resolve_cells, split_factor
from mlmon.metrics.sqlstats import (
    DECILES,
    as_double,
    bin_case_sql,
    double_literal,
    present,
    with_value,
)
from mlmon.metrics.values import columns_cells, read_values

__all__ = ["Layout", "ColumnSpec", "ColumnStats", "SampleColumn", "TwoSampleResult", "column_statistics",
           "undetailed_stats", "two_sample_statistics", "quantile_ranks", "interpolate", "known_layout", "dedupe_edges",
           "keyed_by_column"]

_KEY_STRIDE = 1 << 20  # first-round key = bin * stride + cell within the bin
_COLUMN_STRIDE = 1 << 40  # first-round group key = column * stride + cell key (|cell key| < 2**39)
_OVERFLOW_CELLS = 4096  # cells beyond the layout's ends; rows further out share the last one


@dataclass(frozen=True)
class Layout:
    """How the first round cuts a column: bins (-inf, k0], (k0, k1], ..., (k_last, inf), each
    cut into equal-width cells sized by the rows expected in it (`mass`, len(knots) + 1);
    `lo` and `hi` bound the outer bins' cells (None: the outer bin is one cell)."""

    knots: tuple[float, ...]
    mass: tuple[float, ...]
    lo: float | None
    hi: float | None


@dataclass(frozen=True)
class ColumnSpec:
    """One numeric column to compare: its name, a double SQL expression over the relations'
    columns (alias `t`), the first round's layout, and the PSI edges (None: the reference's
    deciles, found exactly on the way)."""

    name: str
    expr: str
    layout: Layout
    edges: tuple[float, ...] | None = None


@dataclass(frozen=True)
class ColumnStats:
    n_ref: int  # present values (not NULL, not NaN)
    n_cur: int
    ref_min: float | None
    ref_max: float | None
    edges: tuple[float, ...]
    ref_bins: tuple[int, ...]
    cur_bins: tuple[int, ...]
    ks_numerator: int | None  # max |S|; None unless both samples have values
    wasserstein_numerator: float | None  # integral of |S| dx


def quantile_ranks(n: int, p: float) -> tuple[int, int, float]:
    """DuckDB's QUANTILE_CONT positions: (floor rank, ceil rank, fraction) of probability `p`
    among `n` sorted values (0-based ranks)."""
    rn = float(n - 1) * p
    return math.floor(rn), math.ceil(rn), rn - math.floor(rn)


def interpolate(lo: float, hi: float, d: float) -> float:
    """lo * (1 - d) + hi * d as DuckDB's QUANTILE_CONT rounds it: its build fuses the sum into
    one multiply-add, so the result matches bit for bit (an exact fma; math.fma is 3.13+)."""
    if not (math.isfinite(lo) and math.isfinite(hi)):
        return lo * (1.0 - d) + hi * d
    return float(Fraction(lo) * Fraction(1.0 - d) + Fraction(hi * d))


def _first_key(layout: Layout, v: str, rows_per_cell: int, max_split: int, dialect: str) -> str:
    """The first-round cell of a present value: its bin (by bisection over the knots), then an
    equal-width cell inside the bin; keys increase with the value."""
    lower, upper = (layout.lo, *layout.knots), (*layout.knots, layout.hi)
    # Cells of a bin stay below the stride, so that keys of different bins never meet.
    cells = np.minimum(split_factor(np.asarray(layout.mass, dtype=float), rows_per_cell, max_split), _KEY_STRIDE // 2)
    last = len(layout.knots)

    def leaf(j: int) -> str:
        base = double_literal(j * _KEY_STRIDE, dialect)
        a, b = lower[j], upper[j]
        if a is None or b is None or not (math.isfinite(a) and math.isfinite(b)) or b <= a:
            return base
        with np.errstate(over="ignore"):  # a bin too narrow for a double's range: one cell
            scale = float(np.float64(cells[j]) / np.float64(b - a))
        if not (math.isfinite(scale) and scale > 0):
            return base
        cell = f"FLOOR(({v} - {double_literal(a, dialect)}) * {double_literal(scale, dialect)})"
        # Values beyond the layout's ends (the current's, or the reference's outside its
        # sample) continue the equal-width cells, a bounded number of them.
        if j == 0:
            cell = f"GREATEST({cell}, {double_literal(-_OVERFLOW_CELLS, dialect)})"
        if j == last:
            cell = f"LEAST({cell}, {double_literal(int(cells[j]) + _OVERFLOW_CELLS, dialect)})"
        return f"{base} + {cell}"

    return bin_case_sql(v, layout.knots, leaf, dialect)


def keyed_by_column(keys: dict[int, str]) -> str:
    """The first-round group key of a row `c` (its column's index), `v` (its value): column *
    2**40 + the column's cell key. One CASE over the rows of both samples, so each column's
    cell key is written once, not once per sample."""
    whens = " ".join(f"WHEN {index} THEN {double_literal(index * _COLUMN_STRIDE)} + {key}" for index, key in keys.items())
    return f"CASE c {whens} END"


def _first_round_sql(ref_sql: str, cur_sql: str, specs: Sequence[tuple[int, ColumnSpec]], keys: dict[int, str],
                     dialect: str) -> str:
    """Per cell: rows, reference rows, min, max, and sums of (v - clo) over all and over
    reference rows (the weights are not known before the sample sizes are). A cell's group key
    is one double, column * 2**40 + cell key: one key hashes faster than two. `keys` are the
    cell keys of the value `v`, computed once per row (`with_value`)."""
    branches = []
    for index, spec in specs:
        clo = _origin(spec.layout)
        for rel, flag in ((ref_sql, "1"), (cur_sql, "NULL")):
            branches.append(
                f"SELECT CAST({index} AS BIGINT) AS c, CAST({flag} AS DOUBLE) AS ref, "
                f"v - {double_literal(clo, dialect)} AS d, v AS v FROM {with_value(rel, spec.expr)} "
                f"WHERE {present('v', dialect)}"
            )
    return (
        "SELECT x.k AS k, COUNT(*) AS c, COUNT(x.ref) AS c1, MIN(x.v) AS vmin, MAX(x.v) AS vmax, "
        "SUM(x.d) AS a, SUM(x.ref * x.d) AS a1 "
        f"FROM (SELECT {keyed_by_column(keys)} AS k, ref, d, v FROM ({' UNION ALL '.join(branches)}) AS y) AS x "
        "GROUP BY x.k"
    )


def _origin(layout: Layout) -> float:
    """r of the first round's m = sum(w * (v - r)): any finite constant near the values."""
    for x in (layout.lo, *layout.knots, layout.hi):
        if x is not None and math.isfinite(x):
            return float(x)
    return 0.0


def _fetch(con: Any, sql: str) -> dict[str, np.ndarray]:
    return {k: np.asarray(v) for k, v in con.execute(sql).fetchnumpy().items()}


def _first_round(con: Any, ref_sql: str, cur_sql: str, specs: Sequence[tuple[int, ColumnSpec]], keys: dict[int, str],
                 dialect: str) -> dict[int, Cells]:
    res = _fetch(con, _first_round_sql(ref_sql, cur_sql, specs, keys, dialect))
    order = np.argsort(res["k"], kind="stable")
    res = {k: v[order] for k, v in res.items()}
    res["pcid"] = np.round(res["k"] / _COLUMN_STRIDE).astype(np.int64)
    res["pkey"] = res["k"] - res["pcid"] * float(_COLUMN_STRIDE)  # exact: integers below 2**53
    out = {}
    for index, spec in specs:
        mask = res["pcid"] == index
        part = {k: v[mask] for k, v in res.items()}
        c1 = part["c1"].astype(np.int64)
        c2 = part["c"].astype(np.int64) - c1
        n1, n2 = int(c1.sum()), int(c2.sum())
        a1 = np.nan_to_num(part["a1"].astype(float), nan=0.0, posinf=np.inf, neginf=-np.inf)  # NULL: no reference row
        with np.errstate(invalid="ignore", over="ignore"):  # infinite values: m is not used for their cells
            m = n2 * a1 - n1 * (part["a"].astype(float) - a1)
        out[index] = Cells(index, n1, n2, c1, c2, part["vmin"].astype(float), part["vmax"].astype(float), m,
                           _origin(spec.layout), part["pkey"].astype(float))
    return out


# --- order statistics and PSI bins ----------------------------------------------------------


def _rank_cells(cells: Cells, ranks: Sequence[int]) -> set[int]:
    """Cells holding the reference values of these ranks (0-based), and every cell between two
    consecutive ranks' cells (a quantile between them, and the cell it falls in, lies there)."""
    cum = np.cumsum(cells.c1)
    out: set[int] = set()
    pos = [int(np.searchsorted(cum, k, side="right")) for k in ranks]
    for a, b in zip(pos[::2], pos[1::2]):
        out.update(range(a, b + 1))
    return {i for i in out if cells.vmin[i] < cells.vmax[i]}


@dataclass
class _Detail:
    """Distinct values of some cells of one column, sorted, with per-side counts."""

    v: np.ndarray
    c1: np.ndarray
    c2: np.ndarray

    def value_at(self, cells: Cells, k: int) -> float:
        """The reference value of rank k (0-based)."""
        cum = np.cumsum(cells.c1)
        i = int(np.searchsorted(cum, k, side="right"))
        if cells.vmin[i] == cells.vmax[i]:
            return float(cells.vmin[i])
        inside = (self.v >= cells.vmin[i]) & (self.v <= cells.vmax[i])
        local = np.cumsum(self.c1[inside])
        j = int(np.searchsorted(local, k - (cum[i] - cells.c1[i]), side="right"))
        return float(self.v[inside][j])

    def at_most(self, cells: Cells, e: float) -> tuple[int, int]:
        """Reference and current values <= e."""
        whole = int(np.searchsorted(cells.vmax, e, side="right"))  # cells ending at or below e
        n1, n2 = int(cells.c1[:whole].sum()), int(cells.c2[:whole].sum())
        if whole < len(cells.vmax) and cells.vmin[whole] <= e:  # the cell e falls inside
            inside = (self.v >= cells.vmin[whole]) & (self.v <= e)
            if not ((self.v >= cells.vmin[whole]) & (self.v <= cells.vmax[whole])).any():
                raise AssertionError("PSI edge inside a cell without detail")
            n1, n2 = n1 + int(self.c1[inside].sum()), n2 + int(self.c2[inside].sum())
        return n1, n2


# What cells of single values, or cut along known edges, need of the rows inside them: nothing.
_NO_DETAIL = _Detail(np.empty(0), np.empty(0, dtype=np.int64), np.empty(0, dtype=np.int64))


def _needed_cells(cells: Cells, spec: ColumnSpec) -> set[int]:
    n = cells.n1
    if n == 0:
        return set()
    needed = set()
    if spec.edges is None:  # deciles, min and max of the reference
        ranks = [0, 0, n - 1, n - 1]
        for p in DECILES:
            lo, hi, _ = quantile_ranks(n, p)
            ranks += [lo, hi]
        needed |= _rank_cells(cells, ranks)
    return needed


def _edges_and_bins(cells: Cells, spec: ColumnSpec, detail: _Detail) -> tuple[tuple[float, ...], tuple[int, ...],
                                                                               tuple[int, ...], float | None, float | None]:
    n = cells.n1
    ref_min = ref_max = None
    edges = spec.edges
    if edges is None:
        found: list[float] = []
        if n:
            ref_min, ref_max = detail.value_at(cells, 0), detail.value_at(cells, n - 1)
            for p in DECILES:
                lo_rank, hi_rank, fraction = quantile_ranks(n, p)
                lo = detail.value_at(cells, lo_rank)
                if hi_rank == lo_rank:
                    found.append(lo)
                else:
                    hi = detail.value_at(cells, hi_rank)
                    found.append(interpolate(lo, hi, fraction))
        edges = tuple(dedupe_edges(found))
    below = [detail.at_most(cells, e) for e in edges]
    f1 = [0, *(b[0] for b in below), cells.n1]
    f2 = [0, *(b[1] for b in below), cells.n2]
    return (edges, tuple(int(b - a) for a, b in zip(f1, f1[1:])), tuple(int(b - a) for a, b in zip(f2, f2[1:])),
            ref_min, ref_max)


def dedupe_edges(edges: Sequence[float]) -> list[float]:
    """Bin edges without NULLs and repeats (tied deciles make one edge)."""
    out: list[float] = []
    for e in edges:
        if e is not None and (not out or e != out[-1]):
            out.append(float(e))
    return out


def _detail_sql(ref_sql: str, cur_sql: str, specs: dict[int, ColumnSpec], ranges: dict[int, list[tuple[float, float]]],
                dialect: str) -> str:
    """Distinct values, with their reference and total counts, of the rows inside some cells.
    The cells are few and narrow: OR'ed range tests are cheaper here than a join."""
    branches = []
    for index, spans in ranges.items():
        # The ranges in every branch, not once above the union: DuckDB then drops the rows
        # outside them inside each branch's scan (a CASE over the union's rows took 1.5x as long).
        inside = " OR ".join(f"(v >= {double_literal(a, dialect)} AND v <= {double_literal(b, dialect)})" for a, b in spans)
        for rel, flag in ((ref_sql, "1"), (cur_sql, "NULL")):
            branches.append(f"SELECT CAST({index} AS BIGINT) AS pcid, v AS v, CAST({flag} AS INTEGER) AS ref "
                            f"FROM {with_value(rel, specs[index].expr)} WHERE {present('v', dialect)} AND ({inside})")
    return (f"SELECT x.pcid AS pcid, x.v AS v, COUNT(*) AS c, COUNT(x.ref) AS c1 FROM ({' UNION ALL '.join(branches)}) "
            "AS x GROUP BY x.pcid, x.v")


def _details(con: Any, ref_sql: str, cur_sql: str, specs: dict[int, ColumnSpec], states: dict[int, Cells],
             dialect: str) -> dict[int, _Detail]:
    """Distinct values, with their reference and current counts, of the cells `_needed_cells`
    names: one query for all columns."""
    ranges = {}
    for index, spec in specs.items():
        pos = sorted(_needed_cells(states[index], spec))
        if pos:
            ranges[index] = [(float(states[index].vmin[i]), float(states[index].vmax[i])) for i in pos]
    out = {index: _NO_DETAIL for index in specs}
    if not ranges:
        return out
    res = _fetch(con, _detail_sql(ref_sql, cur_sql, specs, ranges, dialect))
    for index in ranges:
        mask = res["pcid"] == index
        order = np.argsort(res["v"][mask], kind="stable")
        c1 = res["c1"][mask].astype(np.int64)[order]
        out[index] = _Detail(res["v"][mask].astype(float)[order], c1, res["c"][mask].astype(np.int64)[order] - c1)
    return out


def column_statistics(
    con: Any,
    ref_sql: str,
    cur_sql: str,
    columns: Sequence[ColumnSpec],
    *,
    dialect: str = "duckdb",
    rows_per_cell: int = 32,
    max_split: int = 4096,
    window_rows: int = 200_000,
    crossing_share: float = 0.5,
    max_depth: int = 8,
    window_batch: int = WINDOW_BATCH_ROWS,
    in_memory: bool = False,
) -> dict[str, ColumnStats]:
    """Sample sizes, PSI bins (and the reference's deciles and extent when a column's edges are
    None), KS and Wasserstein numerators of every column.

    `rows_per_cell`, `max_split` and the settings of `resolve_cells` only trade scans against
    window work, and `in_memory` (every value read, for samples that
    `mlmon.metrics.values.fits_in_memory`) scans against memory: every setting gives the same
    exact answer.
    """
    if not columns:
        return {}
    specs = list(enumerate(columns))
    if in_memory:
        cells = _value_cells(con, ref_sql, cur_sql, columns)
        if cells is not None:
            return {spec.name: undetailed_stats(found, spec) for found, spec in zip(cells, columns)}
    exprs = {i: spec.expr for i, spec in specs}
    keys = {i: _first_key(spec.layout, "v", rows_per_cell, max_split, dialect) for i, spec in specs}
    states = _first_round(con, ref_sql, cur_sql, specs, keys, dialect)
    details = _details(con, ref_sql, cur_sql, dict(specs), states, dialect)
    binned = {index: _edges_and_bins(states[index], spec, details[index]) for index, spec in specs}
    both = [states[i] for i, _ in specs if states[i].n1 > 0 and states[i].n2 > 0]
    resolve_cells(con, ref_sql, cur_sql, both, exprs, dialect=dialect,
                  rows_per_cell=rows_per_cell, max_split=max_split, window_rows=window_rows,
                  crossing_share=crossing_share, max_depth=max_depth, window_batch=window_batch)
    return {spec.name: _settled_stats(states[index], binned[index]) for index, spec in specs}


def undetailed_stats(cells: Cells, spec: ColumnSpec) -> ColumnStats:
    """The statistics of settled cells whose PSI bins need no detail: cells of single values,
    or cut along known edges."""
    return _settled_stats(cells, _edges_and_bins(cells, spec, _NO_DETAIL))


def _settled_stats(cells: Cells, binned: tuple[tuple[float, ...], tuple[int, ...], tuple[int, ...],
                                               float | None, float | None]) -> ColumnStats:
    """A column's statistics once every cell is settled; `binned` from `_edges_and_bins`."""
    edges, ref_bins, cur_bins, ref_min, ref_max = binned
    ks, wass = cells.result() if cells.n1 > 0 and cells.n2 > 0 else (None, None)
    return ColumnStats(cells.n1, cells.n2, ref_min, ref_max, edges, ref_bins, cur_bins, ks, wass)


def _value_cells(con: Any, ref_sql: str, cur_sql: str, columns: Sequence[ColumnSpec]) -> list[Cells] | None:
    """Cells of single values (mlmon.metrics.values) of every column, from two queries; None
    when any column has an infinite value."""
    exprs = [spec.expr for spec in columns]
    (ref, _), (cur, _) = read_values(con, ref_sql, exprs), read_values(con, cur_sql, exprs)
    return columns_cells([_origin(spec.layout) for spec in columns], ref, cur)


# --- the interface of a known profile --------------------------------------------------------


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


def known_layout(edges: Sequence[float], ref_bins: Sequence[int], n_cur: int, lo: float | None,
                 hi: float | None) -> Layout:
    """Cells cut along a known profile's PSI edges, sized by its bin counts."""
    n_ref = sum(ref_bins)
    scale = 1 + n_cur / n_ref if n_ref else 1.0
    return Layout(tuple(edges), tuple(float(b) * scale for b in ref_bins), lo, hi)


def two_sample_statistics(con: Any, ref_sql: str, cur_sql: str, columns: Sequence[SampleColumn], *,
                          dialect: str = "duckdb", **settings: Any) -> dict[str, TwoSampleResult]:
    """KS and Wasserstein numerators, and current PSI bins, of every column with rows on both
    sides, for columns whose PSI edges are known."""
    cols = [c for c in columns if c.n_ref > 0 and c.n_cur > 0]
    specs = [ColumnSpec(c.column, as_double(c.column, dialect), known_layout(c.edges, c.ref_bins, c.n_cur, c.lo, c.hi),
                        tuple(c.edges)) for c in cols]
    found = column_statistics(con, ref_sql, cur_sql, specs, dialect=dialect, **settings)
    return {name: TwoSampleResult(s.ks_numerator, s.wasserstein_numerator, s.cur_bins)
            for name, s in found.items() if s.ks_numerator is not None}
