"""Small samples read whole: the two-sample engine's cells (mlmon.metrics.cells) of one
distinct value each, from every value of both samples.

On small data each round of the cells' engine costs a query, on Spark a job or three, while
reading every value costs one query a side and little memory. A cell of a single value is
settled from the start (its KS and Wasserstein contributions follow from its counts), so the
engine's answer is the same exact one, without a round.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from mlmon.metrics.cells import Cells
from mlmon.metrics.sqlstats import computed

__all__ = ["IN_MEMORY_VALUES", "columns_cells", "fits_in_memory", "read_values", "rows_in_memory", "value_cells"]

IN_MEMORY_VALUES = 1_000_000  # values over both samples and all columns read whole: 8 MB of doubles


def rows_in_memory(columns: int) -> int:
    """The most rows of `columns` values each that are read whole."""
    return IN_MEMORY_VALUES // max(columns, 1)


def fits_in_memory(rows: int, columns: int) -> bool:
    """Whether `rows` over both samples, `columns` values each, are read whole rather than
    counted in cells."""
    return rows <= rows_in_memory(columns)


def read_values(con: Any, relation: str, exprs: Sequence[str], where: str | None = None,
                group: str | None = None) -> tuple[list[np.ndarray], np.ndarray | None]:
    """Every row's double value of each expression (over alias `t`; NULL read as NaN), in one
    query; with `group` (SQL), each row's group too."""
    items = {f"v{index}": f"CAST(({expr}) AS DOUBLE)" for index, expr in enumerate(exprs)}
    if group is not None:
        items["g"] = group
    frame = con.execute(f"SELECT * FROM {computed(relation, items, where)}").df()
    values = [frame[f"v{index}"].to_numpy(dtype=float) for index in range(len(exprs))]
    return values, (frame["g"].to_numpy(dtype=np.int64) if group is not None else None)


def value_cells(index: int, r: float, ref: np.ndarray, cur: np.ndarray) -> Cells | None:
    """The cells of column `index` (`r`: the origin of m = sum(w * (v - r))), one per distinct
    value. None when a value is infinite: those take the engine's rounds, whose arithmetic
    with them is the reference."""
    ref, cur = ref[~np.isnan(ref)], cur[~np.isnan(cur)]  # NULL and NaN are missing
    if np.isinf(ref).any() or np.isinf(cur).any():
        return None
    values = np.unique(np.concatenate([ref, cur]))
    c1 = np.bincount(np.searchsorted(values, ref), minlength=len(values))
    c2 = np.bincount(np.searchsorted(values, cur), minlength=len(values))
    m = (c1 * len(cur) - c2 * len(ref)) * (values - r)
    return Cells(index, len(ref), len(cur), c1, c2, values, values, m, r, np.arange(len(values), dtype=float))


def columns_cells(origins: Sequence[float], ref: Sequence[np.ndarray], cur: Sequence[np.ndarray]) -> list[Cells] | None:
    """`value_cells` of every column (its index: its position), or None when any column has
    an infinite value."""
    out = []
    for index, (r, ref_values, cur_values) in enumerate(zip(origins, ref, cur)):
        cells = value_cells(index, r, ref_values, cur_values)
        if cells is None:
            return None
        out.append(cells)
    return out
