"""The two-sample engine's first round (mlmon.metrics.twosample): every column cut into cells in
one aggregate over both samples.

A column's `Layout` bins it between consecutive knots (the reference's deciles when its profile
is known, else quantiles of a sample), and cuts each bin into equal-width cells sized by the
rows expected in it. One GROUP BY over the rows of both samples and every column counts each
cell's rows, reference rows, min, max and the sums the later rounds need.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np

from mlmon.metrics.cells import Cells, fetch, split_factor
from mlmon.metrics.sqlstats import bin_case_sql, double_literal, present, with_value

__all__ = ["COLUMN_STRIDE", "ColumnSpec", "Layout", "first_key", "first_round", "keyed_by_column", "origin"]

_KEY_STRIDE = 1 << 20  # first-round key = bin * stride + cell within the bin
COLUMN_STRIDE = 1 << 40  # first-round group key = column * stride + cell key (|cell key| < 2**39)
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


def first_key(layout: Layout, v: str, rows_per_cell: int, max_split: int, dialect: str) -> str:
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
    whens = " ".join(f"WHEN {index} THEN {double_literal(index * COLUMN_STRIDE)} + {key}" for index, key in keys.items())
    return f"CASE c {whens} END"


def _first_round_sql(ref_sql: str, cur_sql: str, specs: Sequence[tuple[int, ColumnSpec]], keys: dict[int, str],
                     dialect: str) -> str:
    """Per cell: rows, reference rows, min, max, and sums of (v - clo) over all and over
    reference rows (the weights are not known before the sample sizes are). A cell's group key
    is one double, column * 2**40 + cell key: one key hashes faster than two. `keys` are the
    cell keys of the value `v`, computed once per row (`with_value`)."""
    branches = []
    for index, spec in specs:
        clo = origin(spec.layout)
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


def origin(layout: Layout) -> float:
    """r of the first round's m = sum(w * (v - r)): any finite constant near the values."""
    for x in (layout.lo, *layout.knots, layout.hi):
        if x is not None and math.isfinite(x):
            return float(x)
    return 0.0


def first_round(con: Any, ref_sql: str, cur_sql: str, specs: Sequence[tuple[int, ColumnSpec]], keys: dict[int, str],
                 dialect: str) -> dict[int, Cells]:
    res = fetch(con, _first_round_sql(ref_sql, cur_sql, specs, keys, dialect))
    order = np.argsort(res["k"], kind="stable")
    res = {k: v[order] for k, v in res.items()}
    res["pcid"] = np.round(res["k"] / COLUMN_STRIDE).astype(np.int64)
    res["pkey"] = res["k"] - res["pcid"] * float(COLUMN_STRIDE)  # exact: integers below 2**53
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
                           origin(spec.layout), part["pkey"].astype(float))
    return out
