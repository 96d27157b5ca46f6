"""The rounds of the two-sample engine after the first (mlmon.metrics.twosample): settle the
cells whose KS or Wasserstein contribution the counts cannot decide.

Open cells are split again while they hold more than `window_rows` rows, less than
`crossing_share` of them in cells where S changes sign, and fewer than `max_depth` splits
were made; then the rest is windowed: an exact running sum over the rows, sorted, of each
cell. A cell holds every row whose value lies in [vmin, vmax], so each round finds the rows of
its open cells by their values (mlmon.metrics.intervals), whatever round made the cell.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any, Callable, Iterator, Sequence

import numpy as np
import pyarrow as pa

from mlmon.metrics.intervals import interval_table, rows_in_intervals_sql

__all__ = ["Cells", "Pairing", "fetch", "resolve_cells", "split_factor", "UNGROUPED", "WINDOW_BATCH_ROWS"]

# Rows one window query sorts at most (about 100 MB of DuckDB memory): the bound on memory
# whatever the number of rows, at the price of one more filtered scan per batch.
WINDOW_BATCH_ROWS = 1_000_000


@dataclass(frozen=True)
class Pairing:
    """Where each compared pair's current rows are: `of` maps a pair (a `Cells.index`) to its
    (column, group); a current row's group is `group_sql`, and `where` keeps the rows of the
    compared groups. The rows of every group are read in one scan per column, and the
    reference's too: a reference row meets the cells of every group."""

    of: Callable[[int], tuple[int, int]]
    group_sql: str = "0"
    where: str | None = None


UNGROUPED = Pairing(lambda index: (index, 0))  # one pair per column, every current row


class Cells:
    """The ordered cells of one column and what is known about each."""

    FIELDS = ("c1", "c2", "vmin", "vmax", "m", "r", "pkey", "resolved", "inner_w", "inner_d")

    def __init__(self, index: int, n1: int, n2: int, c1: np.ndarray, c2: np.ndarray, vmin: np.ndarray,
                 vmax: np.ndarray, m: np.ndarray, r: float, pkey: np.ndarray):
        self.index, self.n1, self.n2 = index, n1, n2
        n = len(c1)
        self.c1, self.c2 = c1.astype(np.int64), c2.astype(np.int64)
        self.vmin, self.vmax, self.m = vmin.astype(float), vmax.astype(float), m.astype(float)
        self.r = np.full(n, float(r))
        self.pkey = pkey.astype(float)  # orders a split cell's children
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
        """(max |S|, integral of |S| dx) once every cell is settled."""
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
        blank = {"resolved": np.zeros(n_new, dtype=bool), "inner_w": np.zeros(n_new),
                 "inner_d": np.zeros(n_new, dtype=np.int64)}
        for name in self.FIELDS:
            old = getattr(self, name)
            new = blank[name] if name in blank else children[name]
            setattr(self, name, np.concatenate([old[keep], new.astype(old.dtype)])[order])


def _split_sql(source: str) -> str:
    key = "FLOOR((x.v - x.clo) * x.csc)"
    return (
        f"SELECT x.cid AS pcid, {key} AS pkey, COUNT(*) AS c, COUNT(x.ref) AS c1, "
        "MIN(x.v) AS vmin, MAX(x.v) AS vmax, SUM(x.w * (x.v - x.clo)) AS m "
        f"FROM {source} GROUP BY x.cid, {key}"
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


def _collapsed_sql(source: str) -> str:
    """Rows of windowed cells collapsed to one per distinct value. Values whose weights cancel
    never move S and drop out, so identical samples leave nothing to sort."""
    return (
        f"(SELECT x.cid AS cid, MIN(x.s0) AS s0, x.v AS v, SUM(x.w) AS net FROM {source} "
        "GROUP BY x.cid, x.v HAVING SUM(x.w) <> 0) AS g"
    )


def _window_batches(todo: list[_Open], win: np.ndarray, limit: int) -> Iterator[list[tuple[_Open, np.ndarray]]]:
    """The windowed cells in batches of at most `limit` rows (a bigger cell alone): per batch,
    each column's _Open and the indices of its cells in `pos`."""
    batch: list[tuple[_Open, np.ndarray]] = []
    rows, offset = 0, 0
    for o in todo:
        ks = np.nonzero(win[offset:offset + len(o.pos)])[0]
        offset += len(o.pos)
        counts = (o.cells.c1[o.pos[ks]] + o.cells.c2[o.pos[ks]]).tolist()
        start = 0
        for i, count in enumerate(counts):
            if rows and rows + count > limit:
                if i > start:
                    batch.append((o, ks[start:i]))
                yield batch
                batch, rows, start = [], 0, i
            rows += count
        if len(ks) > start:
            batch.append((o, ks[start:]))
    if batch:
        yield batch


def _register(con: Any, columns: dict[str, np.ndarray]) -> str:
    # A lookup table of cells travels as Arrow: written as VALUES text, thousands of rows
    # would make the parser, not the scan, the bottleneck.
    name = f"__mlmon_cells_{uuid.uuid4().hex}"
    con.register(name, pa.table(columns))
    return name


def split_factor(count: np.ndarray, rows_per_cell: int, max_split: int) -> np.ndarray:
    """Cells per split: a power of two (so nested keys stay exact) near count / rows_per_cell."""
    return np.clip(2.0 ** np.ceil(np.log2(np.maximum(count / rows_per_cell, 1.0))), 2, max_split)


def fetch(con: Any, sql: str) -> dict[str, np.ndarray]:
    """A query's result as numpy arrays by column name."""
    return {k: np.asarray(v) for k, v in con.execute(sql).fetchnumpy().items()}


@dataclass
class _Open:
    """One column's cells to resolve this round: positions, S before each, ids from `first`."""

    cells: Cells
    pos: np.ndarray
    s_before: np.ndarray
    first: int = 0
    scale: np.ndarray | None = None  # cells per unit of value when split

    def owned(self, cids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(which result rows belong to this column, the positions of their cells)."""
        mask = (cids >= self.first) & (cids < self.first + len(self.pos))
        return mask, self.pos[cids[mask] - self.first]


def _plan_round(todo: list[_Open], first_cid: int, window_all: bool, rows_per_cell: int,
                max_split: int) -> np.ndarray:
    """Number the round's open cells from `first_cid` and decide, per cell, whether it is
    windowed (returned flags, in `todo` order) or split (into `split_factor` cells)."""
    flags = []
    for o in todo:
        st, pos = o.cells, o.pos
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            o.scale = split_factor(st.c1[pos] + st.c2[pos], rows_per_cell, max_split) / (st.vmax[pos] - st.vmin[pos])
        # Infinite values, or a range wider than a double holds, cannot be cut into cells.
        win = ~(np.isfinite(st.vmin[pos]) & np.isfinite(st.vmax[pos]) & np.isfinite(o.scale) & (o.scale > 0))
        o.scale = np.where(win, 0.0, o.scale)
        o.first = first_cid
        first_cid += len(pos)
        flags.append(win | window_all)
    return np.concatenate(flags)


def _query_cells(con: Any, ref_sql: str, cur_sql: str, pairing: Pairing, exprs: dict[int, str],
                 cells: list[tuple[_Open, np.ndarray]], build: Any, dialect: str) -> dict[str, np.ndarray]:
    """Run `build(source)` over the rows of some open cells (per pair: its _Open and the
    indices into its `pos`), their cell's id, s0, clo and csc at hand in `source`."""
    by_column: dict[int, list[tuple[np.ndarray, np.ndarray, dict[str, np.ndarray]]]] = {}
    expr_of: dict[int, str] = {}
    for o, ks in cells:
        pos, st = o.pos[ks], o.cells
        column, group = pairing.of(st.index)
        expr_of[column] = exprs[st.index]
        n = len(pos)
        by_column.setdefault(column, []).append((st.vmin[pos], st.vmax[pos], {
            "grp": np.full(n, group, dtype=np.int64), "wref": np.full(n, float(st.n2)),
            "wcur": np.full(n, -float(st.n1)), "cid": (o.first + ks).astype(np.int64),
            "s0": o.s_before[pos].astype(float), "clo": st.vmin[pos], "csc": o.scale[ks]}))
    parts = [(column, np.concatenate([p[0] for p in pairs]), np.concatenate([p[1] for p in pairs]),
              {k: np.concatenate([p[2][k] for p in pairs]) for k in pairs[0][2]}, len(pairs))
             for column, pairs in by_column.items()]
    table, grids, spans = interval_table(parts)
    name = _register(con, table)
    try:
        source = rows_in_intervals_sql(ref_sql, cur_sql, list(expr_of.items()), grids, spans, name,
                                       ("cid", "s0", "clo", "csc"), dialect, pairing.group_sql, pairing.where)
        return fetch(con, build(source))
    finally:
        con.unregister(name)


def _settle_windowed(todo: list[_Open], win: np.ndarray, res: dict[str, np.ndarray]) -> None:
    offset = 0
    for o in todo:
        st, windowed = o.cells, o.pos[win[offset:offset + len(o.pos)]]
        offset += len(o.pos)
        # A cell absent from the result had all its values cancel: S = S_before end to end.
        with np.errstate(invalid="ignore"):  # 0 * inf: an infinite cell is reported as missing
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


def resolve_cells(
    con: Any,
    ref_sql: str,
    cur_sql: str,
    states: Sequence[Cells],
    exprs: dict[int, str],
    *,
    dialect: str = "duckdb",
    rows_per_cell: int = 32,
    max_split: int = 4096,
    window_rows: int = 200_000,
    crossing_share: float = 0.5,
    max_depth: int = 8,
    window_batch: int = WINDOW_BATCH_ROWS,
    pairing: Pairing = UNGROUPED,
) -> None:
    """Split or window open cells until every cell of every column is settled.

    `exprs` holds each pair's double expression, by index; `pairing` says which column and
    group of `cur_sql`'s rows each pair compares (by default each pair is a column of all
    of them). Windows sort at most about `window_batch` rows per query, which bounds their
    memory.
    """
    depth = 0
    next_cid = 0
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
        window_all = rows <= window_rows or crossing >= crossing_share * rows or depth >= max_depth
        win = _plan_round(todo, next_cid, window_all, rows_per_cell, max_split)
        next_cid += len(win)
        depth += 1
        if win.any():
            found = [_query_cells(con, ref_sql, cur_sql, pairing, exprs, batch, lambda src: _window_sql(_collapsed_sql(src)),
                                  dialect) for batch in _window_batches(todo, win, window_batch)]
            _settle_windowed(todo, win, {k: np.concatenate([f[k] for f in found]) for k in found[0]})
        if not win.all():
            offset, split = 0, []
            for o in todo:
                ks = np.nonzero(~win[offset:offset + len(o.pos)])[0]
                offset += len(o.pos)
                if len(ks):
                    split.append((o, ks))
            _apply_splits(todo, _query_cells(con, ref_sql, cur_sql, pairing, exprs, split, _split_sql, dialect))
