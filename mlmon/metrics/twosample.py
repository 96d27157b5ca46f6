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

The first round (mlmon.metrics.first_round) cuts every column into cells in one aggregate over
both samples. The same cells count the sample sizes and, with a few rows read again
(mlmon.metrics.psi_bins), give the order statistics of the reference and the PSI bin counts
exactly: no sort of a whole column is needed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

from mlmon.metrics.cells import WINDOW_BATCH_ROWS, Cells, resolve_cells
from mlmon.metrics.first_round import ColumnSpec, Layout, first_key, first_round, keyed_by_column, origin
from mlmon.metrics.psi_bins import NO_DETAIL, Binned, dedupe_edges, edges_and_bins, interpolate, quantile_ranks
from mlmon.metrics.psi_bins import details as read_details
from mlmon.metrics.sqlstats import as_double
from mlmon.metrics.values import columns_cells, read_values

__all__ = ["Layout", "ColumnSpec", "ColumnStats", "SampleColumn", "TwoSampleResult", "column_statistics",
           "undetailed_stats", "two_sample_statistics", "quantile_ranks", "interpolate", "known_layout", "dedupe_edges",
           "keyed_by_column"]


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
    keys = {i: first_key(spec.layout, "v", rows_per_cell, max_split, dialect) for i, spec in specs}
    states = first_round(con, ref_sql, cur_sql, specs, keys, dialect)
    detail = read_details(con, ref_sql, cur_sql, dict(specs), states, dialect)
    binned = {index: edges_and_bins(states[index], spec, detail[index]) for index, spec in specs}
    both = [states[i] for i, _ in specs if states[i].n1 > 0 and states[i].n2 > 0]
    resolve_cells(con, ref_sql, cur_sql, both, exprs, dialect=dialect,
                  rows_per_cell=rows_per_cell, max_split=max_split, window_rows=window_rows,
                  crossing_share=crossing_share, max_depth=max_depth, window_batch=window_batch)
    return {spec.name: _settled_stats(states[index], binned[index]) for index, spec in specs}


def undetailed_stats(cells: Cells, spec: ColumnSpec) -> ColumnStats:
    """The statistics of settled cells whose PSI bins need no detail: cells of single values,
    or cut along known edges."""
    return _settled_stats(cells, edges_and_bins(cells, spec, NO_DETAIL))


def _settled_stats(cells: Cells, binned: Binned) -> ColumnStats:
    """A column's statistics once every cell is settled; `binned` from `edges_and_bins`."""
    edges, ref_bins, cur_bins, ref_min, ref_max = binned
    ks, wass = cells.result() if cells.n1 > 0 and cells.n2 > 0 else (None, None)
    return ColumnStats(cells.n1, cells.n2, ref_min, ref_max, edges, ref_bins, cur_bins, ks, wass)


def _value_cells(con: Any, ref_sql: str, cur_sql: str, columns: Sequence[ColumnSpec]) -> list[Cells] | None:
    """Cells of single values (mlmon.metrics.values) of every column, from two queries; None
    when any column has an infinite value."""
    exprs = [spec.expr for spec in columns]
    (ref, _), (cur, _) = read_values(con, ref_sql, exprs), read_values(con, cur_sql, exprs)
    return columns_cells([origin(spec.layout) for spec in columns], ref, cur)


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
