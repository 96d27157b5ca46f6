"""The reference's order statistics and the PSI bin counts, from the first round's cells
(mlmon.metrics.first_round) and a few rows read again.

A cell's counts settle every PSI edge that falls between cells; an edge inside a cell, and a
reference quantile whose rank falls inside one, need the distinct values of that cell
(`_Detail`), read for every column in one query: no sort of a whole column is needed.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction
from typing import Any, Sequence

import numpy as np

from mlmon.metrics.cells import Cells, fetch
from mlmon.metrics.first_round import ColumnSpec
from mlmon.metrics.sqlstats import DECILES, double_literal, present, with_value

__all__ = ["NO_DETAIL", "Binned", "dedupe_edges", "details", "edges_and_bins", "interpolate", "quantile_ranks"]

# (PSI edges, reference bin counts, current bin counts, reference min, reference max)
Binned = tuple[tuple[float, ...], tuple[int, ...], tuple[int, ...], float | None, float | None]


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
NO_DETAIL = _Detail(np.empty(0), np.empty(0, dtype=np.int64), np.empty(0, dtype=np.int64))


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


def edges_and_bins(cells: Cells, spec: ColumnSpec, detail: _Detail) -> Binned:
    """A column's PSI edges (the reference's deciles when the spec has none), bin counts and extent."""
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


def details(con: Any, ref_sql: str, cur_sql: str, specs: dict[int, ColumnSpec], states: dict[int, Cells],
             dialect: str) -> dict[int, _Detail]:
    """Distinct values, with their reference and current counts, of the cells `_needed_cells`
    names: one query for all columns."""
    ranges = {}
    for index, spec in specs.items():
        pos = sorted(_needed_cells(states[index], spec))
        if pos:
            ranges[index] = [(float(states[index].vmin[i]), float(states[index].vmax[i])) for i in pos]
    out = {index: NO_DETAIL for index in specs}
    if not ranges:
        return out
    res = fetch(con, _detail_sql(ref_sql, cur_sql, specs, ranges, dialect))
    for index in ranges:
        mask = res["pcid"] == index
        order = np.argsort(res["v"][mask], kind="stable")
        c1 = res["c1"][mask].astype(np.int64)[order]
        out[index] = _Detail(res["v"][mask].astype(float)[order], c1, res["c"][mask].astype(np.int64)[order] - c1)
    return out
