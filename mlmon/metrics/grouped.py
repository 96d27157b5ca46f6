"""Univariate drift of many groups of rows (a store's periods) against one reference, in
grouped scans: the number of statements does not grow with the number of groups.

The groups live in one relation, told apart by a key column. With the reference's profile
known (its deciles cut every column into the same first-round cells for every group), one
aggregate counts the cells of the reference once and those of every group with the group as a
key; each (group, column) pair then becomes a column of the two-sample engine
(mlmon.metrics.twosample), and the cells the counts cannot settle are resolved for all pairs
together (mlmon.metrics.cells), in one scan of the reference and one of the groups per
column. Category counts and values out of the reference's range are counted per group in one
scan each. The statistics are the exact ones of comparing each group
alone with the reference.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any, Callable, Sequence

import numpy as np

from mlmon.metrics.cells import Cells, Pairing, fetch, resolve_cells, split_factor
from mlmon.metrics.judgement import DriftSettings
from mlmon.metrics.sqlstats import (
    as_double,
    counts_sql,
    double_literal,
    moments_sql,
    present,
    quote,
    with_value,
)
from mlmon.metrics.first_round import COLUMN_STRIDE, ColumnSpec, first_key, keyed_by_column, origin
from mlmon.metrics.twosample import ColumnStats, dedupe_edges, known_layout, undetailed_stats
from mlmon.metrics.univariate import (
    DriftResult,
    ReferenceProfile,
    SampleCounts,
    drift_and_profile,
    drift_result,
    out_of_range_sql,
    profile_reference,
)
from mlmon.metrics.types import MetricValue
from mlmon.metrics.values import columns_cells, fits_in_memory, read_values

__all__ = ["Groups", "GroupedDrift", "grouped_column_statistics", "grouped_value_statistics", "reference_cells"]


@dataclass(frozen=True)
class Groups:
    """Groups of rows in one relation: `column` holds each row's group; `keys` are the groups
    compared (others are left out), `n_rows` their row counts."""

    relation: str
    column: str
    keys: tuple[Any, ...]
    n_rows: tuple[int, ...]

    def literal(self, key: Any) -> str:
        if isinstance(key, date):
            return f"CAST('{key.isoformat()}' AS DATE)"
        if isinstance(key, str):
            return "'" + key.replace("'", "''") + "'"
        return repr(int(key))

    def wanted(self) -> str:
        """Rows of the compared groups."""
        return f"{quote(self.column)} IN ({', '.join(self.literal(k) for k in self.keys)})"

    def chunks(self, size: int) -> list["Groups"]:
        """The groups in runs of at most `size`, in order."""
        return [Groups(self.relation, self.column, self.keys[a:a + size], self.n_rows[a:a + size])
                for a in range(0, len(self.keys), max(1, size))]

    def index_sql(self) -> str:
        """A row's group, as its position in `keys`."""
        whens = " ".join(f"WHEN {self.literal(k)} THEN {i}" for i, k in enumerate(self.keys))
        return f"CAST(CASE {quote(self.column)} {whens} END AS BIGINT)"


def _first_round_sql(ref_sql: str | None, groups: Groups | None, specs: Sequence[ColumnSpec], keys: Sequence[str],
                     dialect: str) -> str:
    """Per (group, cell): rows, min, max and the sum of (v - clo); the reference's rows are
    group -1. One scan of the reference (unless None) and one of the groups (unless None) per
    column, in one statement. `keys` are the cell keys of the value `v`, computed once per row
    (`with_value`)."""
    branches = []
    for index, spec in enumerate(specs):
        row = f"g AS g, CAST({index} AS BIGINT) AS c, v - {double_literal(origin(spec.layout), dialect)} AS d, v AS v"
        if ref_sql is not None:
            branches.append(f"SELECT {row} FROM {with_value(ref_sql, spec.expr, g='CAST(-1 AS BIGINT)')} "
                            f"WHERE {present('v', dialect)}")
        if groups is not None:
            rows = with_value(groups.relation, spec.expr, groups.wanted(), g=groups.index_sql())
            branches.append(f"SELECT {row} FROM {rows} WHERE {present('v', dialect)}")
    key = keyed_by_column(dict(enumerate(keys)))
    return ("SELECT x.g AS g, x.k AS k, COUNT(*) AS c, MIN(x.v) AS vmin, MAX(x.v) AS vmax, SUM(x.d) AS a "
            f"FROM (SELECT g, {key} AS k, d, v FROM ({' UNION ALL '.join(branches)}) AS y) AS x GROUP BY x.g, x.k")


def _by_column(res: dict[str, np.ndarray], n_columns: int) -> list[dict[str, np.ndarray]]:
    """First-round cells split by column (the high part of the key `k`): one dict of arrays per
    column index below `n_columns`, its rows in no particular order."""
    column = np.round(res["k"] / COLUMN_STRIDE)
    order = np.argsort(column)
    bounds = np.searchsorted(column[order], np.arange(n_columns + 1))
    return [{name: values[order[a:b]] for name, values in res.items()} for a, b in zip(bounds[:-1], bounds[1:])]


def _first_round(con: Any, ref_sql: str, groups: Groups, specs: Sequence[ColumnSpec], keys: Sequence[str],
                 dialect: str, reference: list[dict[str, np.ndarray]] | None = None) -> dict[int, Cells]:
    """The first round's cells of every (group j, column i) pair, by index j * len(specs) + i.
    `reference`, if given, holds the reference's cells (`reference_cells`), which are then not
    counted again."""
    found = _by_column(fetch(con, _first_round_sql(ref_sql if reference is None else None, groups, specs, keys,
                                                    dialect)), len(specs))
    n_groups = len(groups.keys)
    states = {}
    for i, spec in enumerate(specs):
        cells = found[i] if reference is None else {name: np.concatenate([reference[i][name], values])
                                                    for name, values in found[i].items()}
        # Every key of the column, sorted; one slot per (group, key), the reference's row first:
        # a pair's cells are then the keys where its group or the reference has rows.
        universe, position = np.unique(cells["k"], return_inverse=True)
        width = len(universe)
        slot = (cells["g"].astype(np.int64) + 1) * width + position.reshape(-1)

        def spread(name: str, fill: float) -> np.ndarray:
            out = np.full((n_groups + 1) * width, fill)
            out[slot] = cells[name]
            return out.reshape(n_groups + 1, width)

        c, a = spread("c", 0.0).astype(np.int64), spread("a", 0.0)
        vmin, vmax = spread("vmin", np.nan), spread("vmax", np.nan)
        for j in range(n_groups):
            index = j * len(specs) + i
            held = (c[0] > 0) | (c[j + 1] > 0)
            c1, c2 = c[0][held], c[j + 1][held]
            n1, n2 = int(c1.sum()), int(c2.sum())
            with np.errstate(invalid="ignore", over="ignore"):  # infinite values: m is not used for their cells
                m = n2 * a[0][held] - n1 * a[j + 1][held]
            states[index] = Cells(index, n1, n2, c1, c2, np.fmin(vmin[0][held], vmin[j + 1][held]),
                                  np.fmax(vmax[0][held], vmax[j + 1][held]), m, origin(spec.layout),
                                  universe[held] - float(i * COLUMN_STRIDE))
    return states


# The first-round cells held at once (about 250 bytes each at their peak: the fetched columns,
# their sorted copies and what the rounds keep of them): groups beyond it are compared in
# further runs, which share the reference's cells, so memory stays flat in the number of
# groups; a year of small months takes one run, of 250,000-row months of a dozen columns six.
MAX_CELLS = 1_000_000


def _chunk_size(specs: Sequence[ColumnSpec], rows_per_cell: int = 32, max_split: int = 4096) -> int:
    """How many groups one run compares: the first-round cells of all its pairs within MAX_CELLS."""
    per_group = sum(float(split_factor(np.asarray(s.layout.mass, dtype=float), rows_per_cell, max_split).sum())
                    for s in specs)
    return max(1, int(MAX_CELLS // max(per_group, 1.0)))


def _keys(specs: Sequence[ColumnSpec], rows_per_cell: int, max_split: int, dialect: str) -> list[str]:
    return [first_key(s.layout, "v", rows_per_cell, max_split, dialect) for s in specs]


def reference_cells(con: Any, ref_sql: str, specs: Sequence[ColumnSpec], *, dialect: str = "duckdb",
                    rows_per_cell: int = 32, max_split: int = 4096) -> list[dict[str, np.ndarray]]:
    """The reference's first-round cells, counted once for every run of groups (and split by
    column once)."""
    return _by_column(fetch(con, _first_round_sql(ref_sql, None, specs,
                                                   _keys(specs, rows_per_cell, max_split, dialect), dialect)),
                      len(specs))


def grouped_column_statistics(con: Any, ref_sql: str, groups: Groups, specs: Sequence[ColumnSpec], *,
                              dialect: str = "duckdb", rows_per_cell: int = 32, max_split: int = 4096,
                              reference: list[dict[str, np.ndarray]] | None = None,
                              **settings: Any) -> list[dict[str, ColumnStats]]:
    """Per group (in `groups.keys` order), the two-sample statistics of every column against the
    reference: as `column_statistics` of the group's rows alone. Every spec has known PSI edges
    (the reference's profile). `reference`: the reference's cells (`reference_cells`, with the
    same settings), when several runs of groups share them."""
    if not specs or not groups.keys:
        return [{} for _ in groups.keys]
    keys = _keys(specs, rows_per_cell, max_split, dialect)
    states = _first_round(con, ref_sql, groups, specs, keys, dialect, reference)
    width = len(specs)
    pairing = Pairing(lambda index: (index % width, index // width), groups.index_sql(), groups.wanted())
    both = [st for st in states.values() if st.n1 > 0 and st.n2 > 0]
    resolve_cells(con, ref_sql, groups.relation, both, {index: specs[index % width].expr for index in states},
                  dialect=dialect, rows_per_cell=rows_per_cell, max_split=max_split, pairing=pairing, **settings)
    return [{spec.name: undetailed_stats(states[j * width + i], spec) for i, spec in enumerate(specs)}
            for j in range(len(groups.keys))]


def grouped_value_statistics(con: Any, ref_sql: str, groups: Groups, specs: Sequence[ColumnSpec]
                             ) -> list[dict[str, ColumnStats]] | None:
    """`grouped_column_statistics`' answer from every value read (mlmon.metrics.values), for
    samples that `fits_in_memory`: one query of the reference, one of the groups. None when a
    value is infinite."""
    exprs = [spec.expr for spec in specs]
    ref, _ = read_values(con, ref_sql, exprs)
    cur, group = read_values(con, groups.relation, exprs, groups.wanted(), groups.index_sql())
    assert group is not None
    origins = [origin(spec.layout) for spec in specs]
    out: list[dict[str, ColumnStats]] = []
    for j in range(len(groups.keys)):
        mine = group == j
        cells = columns_cells(origins, ref, [values[mine] for values in cur])
        if cells is None:
            return None
        out.append({spec.name: undetailed_stats(found, spec) for found, spec in zip(cells, specs)})
    return out


def _category_counts(con: Any, groups: Groups, categorical: Sequence[str], floats: Sequence[str],
                     dialect: str) -> list[tuple[dict[str, dict[str, int]], dict[str, int]]]:
    """Per group: rows per category and present values of every categorical column, in one scan."""
    out = [({c: {} for c in categorical}, {c: 0 for c in categorical}) for _ in groups.keys]
    if not categorical:
        return out
    sql = counts_sql(groups.relation, [], categorical, float_categorical=floats, dialect=dialect,
                     group=groups.index_sql(), where=groups.wanted())
    k = len(categorical)
    for row in con.execute(sql).fetchall():
        j, flags, values, n = int(row[0]), row[1:k + 1], row[k + 1:2 * k + 1], int(row[-1])
        i = flags.index(0)
        if values[i] is None:
            continue
        cats, present_ = out[j]
        cats[categorical[i]][str(values[i])] = n
        present_[categorical[i]] += n
    return out


def _outside_counts(con: Any, groups: Groups, profile: ReferenceProfile, numeric: Sequence[str],
                    dialect: str) -> list[dict[str, int]]:
    """Per group, per numeric column, its present values outside the reference's [min, max]."""
    known = [c for c in numeric if profile.numeric[c].min is not None and profile.numeric[c].max is not None]
    out: list[dict[str, int]] = [{} for _ in groups.keys]
    if not known:
        return out
    extents = {c: (profile.numeric[c].min, profile.numeric[c].max) for c in known}
    rows = con.execute(out_of_range_sql(groups.relation, extents, dialect, groups.index_sql(), groups.wanted())
                       ).fetchall()
    for row in rows:
        out[int(row[0])] = {c: int(n or 0) for c, n in zip(known, row[1:])}
    return out


def _extra_spec(con: Any, ref_sql: str, name: str, expr: str, n_cur: int, dialect: str) -> ColumnSpec:
    """An extra expression (the prediction drift's score) cut along the reference's exact deciles."""
    relation = f"(SELECT {expr} AS {quote(name)} FROM {ref_sql} AS t)"
    n, _, lo, hi, q = con.execute(moments_sql(relation, [name], quantiles=True, dialect=dialect)).fetchone()
    edges = dedupe_edges(q) if q is not None else []
    share = float(n) / (len(edges) + 1)  # deciles: about as many rows in every bin
    layout = known_layout(edges, [share] * (len(edges) + 1), n_cur, lo, hi)
    return ColumnSpec(name, expr, layout, tuple(edges))


@dataclass
class _Found:
    key: tuple[Any, ...]
    profile: ReferenceProfile
    samples: list[SampleCounts]


class GroupedDrift:
    """The univariate drift of every group against one reference, computed for all groups the
    first time one asks (`drift_and_profile`'s signature: `for_group(j)`)."""

    def __init__(self, con: Any, reference_sql: str, groups: Groups, dialect: str = "duckdb"):
        self.con, self.reference_sql, self.groups, self.dialect = con, reference_sql, groups, dialect
        self._found: _Found | None = None

    def for_group(self, j: int) -> Callable[..., DriftResult]:
        def drift(con: Any, reference_sql: str, current_sql: str, numeric: Sequence[str], categorical: Sequence[str],
                  profile: ReferenceProfile | None = None, *, extra: dict[str, str] | None = None,
                  settings: DriftSettings = DriftSettings(), broken: Sequence[MetricValue] = (),
                  dialect: str = "duckdb") -> DriftResult:
            if reference_sql != self.reference_sql or dialect != self.dialect:
                return drift_and_profile(con, reference_sql, current_sql, numeric, categorical, profile, extra=extra,
                                         settings=settings, broken=broken, dialect=dialect)
            found = self._compute(list(numeric), list(categorical), dict(extra or {}), profile)
            return drift_result(numeric, categorical, list(extra or {}), found.profile, found.samples[j], settings,
                                broken)
        return drift

    def _compute(self, numeric: list[str], categorical: list[str], extra: dict[str, str],
                 profile: ReferenceProfile | None) -> _Found:
        key = (tuple(numeric), tuple(categorical), tuple(extra.items()))
        if self._found is not None and self._found.key == key:
            return self._found
        con, groups, dialect = self.con, self.groups, self.dialect
        if profile is None:
            profile = profile_reference(con, self.reference_sql, numeric, categorical, dialect=dialect)
        n_cur = max(1, sum(groups.n_rows) // max(1, len(groups.keys)))  # sizes the cells, nothing else
        specs = [_extra_spec(con, self.reference_sql, name, expr, n_cur, dialect) for name, expr in extra.items()]
        for c in numeric:
            p = profile.numeric[c]
            specs.append(ColumnSpec(c, as_double(c, dialect), known_layout(p.edges, p.bins, n_cur, p.min, p.max),
                                    tuple(p.edges)))
        stats = None
        if fits_in_memory(profile.n_rows + sum(groups.n_rows), len(specs)):
            stats = grouped_value_statistics(con, self.reference_sql, groups, specs)
        if stats is None:
            stats = self._by_runs(specs)
        floats = [c for c in categorical if profile.categorical[c].is_float]
        cats = _category_counts(con, groups, categorical, floats, dialect)
        outside = _outside_counts(con, groups, profile, numeric, dialect)
        samples = [SampleCounts(n, stats[j], cats[j][0], cats[j][1], outside[j]) for j, n in enumerate(groups.n_rows)]
        self._found = _Found(key, profile, samples)
        return self._found

    def _by_runs(self, specs: list[ColumnSpec]) -> list[dict[str, ColumnStats]]:
        """The groups' statistics through the cells, in runs of groups whose first rounds fit."""
        con, dialect = self.con, self.dialect
        runs = self.groups.chunks(_chunk_size(specs))
        # Several runs share the reference's cells: counted once, not once per run.
        reference = reference_cells(con, self.reference_sql, specs, dialect=dialect) if len(runs) > 1 else None
        stats = []
        for part in runs:
            stats += grouped_column_statistics(con, self.reference_sql, part, specs, dialect=dialect,
                                               reference=reference)
        return stats
