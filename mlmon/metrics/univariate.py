"""Univariate drift per feature (SPEC §4), aggregated in the warehouse, finished with scipy.

A `ReferenceProfile` (sizes, PSI edges, bin counts, category counts, missing counts) is what a
model version keeps of its reference. `drift_and_profile` compares the current rows with the
reference and, when no profile is given, finds the profile in the same scans: the two-sample
engine (mlmon.metrics.twosample) yields the reference's exact deciles and both samples' bin
counts beside KS and Wasserstein. `profile_reference` computes a profile alone. Only per-cell,
per-bin, per-category and per-feature rows ever leave the database.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Sequence

import numpy as np

from mlmon.metrics.kstest import (  # noqa: F401  (the p-value helpers, re-exported)
    _kstwo_sf,
    _prob_outside_inside_method,
    ks_2samp_from_statistic,
)
from mlmon.metrics.drift_metrics import (  # noqa: F401  (re-exported: the metrics from counts)
    FEATURE_GLOBALS,
    PSI_FLOOR,
    DriftResult,
    SampleCounts,
    broken_feature_metrics,
    chi2_pvalue,
    drift_result,
    feature_globals,
    psi,
)
from mlmon.metrics.judgement import DriftSettings
from mlmon.metrics.sqlstats import (
    as_double,
    computed,
    counts_sql,
    double_literal,
    moments_sql,
    present,
    quantiles_sql,
    quote,
)
from mlmon.metrics.twosample import ColumnSpec, Layout, column_statistics, dedupe_edges, known_layout
from mlmon.metrics.types import MetricValue
from mlmon.metrics.values import fits_in_memory

__all__ = [
    "PSI_FLOOR",
    "FEATURE_GLOBALS",
    "NumericProfile",
    "CategoricalProfile",
    "ReferenceProfile",
    "classify_columns",
    "profile_reference",
    "univariate_drift",
    "drift_and_profile",
    "DriftResult",
    "SampleCounts",
    "drift_result",
    "out_of_range_sql",
    "sample_layouts",
    "psi",
    "chi2_pvalue",
    "ks_2samp_from_statistic",
    "feature_globals",
    "broken_feature_metrics",
    "column_type_class",
]

_NUMERIC_TYPES = {
    "TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "UTINYINT", "USMALLINT", "UINTEGER",
    "UBIGINT", "UHUGEINT", "FLOAT", "REAL", "DOUBLE", "BIGNUM", "VARINT", "INT1", "INT2", "INT4",
    "INT8", "FLOAT4", "FLOAT8",
}
_FLOAT_TYPES = {"FLOAT", "REAL", "DOUBLE", "FLOAT4", "FLOAT8"}


@dataclass
class NumericProfile:
    count: int  # non-missing rows
    min: float | None
    max: float | None
    edges: list[float]  # deduplicated reference deciles
    bins: list[int]  # len(edges) + 1 counts


@dataclass
class CategoricalProfile:
    count: int
    categories: dict[str, int]
    is_float: bool = False  # a numeric column treated as categorical: NaN counts as missing


@dataclass
class ReferenceProfile:
    n_rows: int
    numeric: dict[str, NumericProfile] = field(default_factory=dict)
    categorical: dict[str, CategoricalProfile] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        # json.dumps writes floats with repr, so edges survive a round trip bit for bit.
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "ReferenceProfile":
        return cls(
            n_rows=int(data["n_rows"]),
            numeric={k: NumericProfile(**v) for k, v in data.get("numeric", {}).items()},
            categorical={k: CategoricalProfile(**v) for k, v in data.get("categorical", {}).items()},
        )


def _column_types(con: Any, relation_sql: str, columns: Sequence[str]) -> dict[str, str]:
    cols = ", ".join(quote(c) for c in columns)
    rows = con.execute(f"DESCRIBE SELECT {cols} FROM {relation_sql} AS t").fetchall()
    return {r[0]: str(r[1]).upper() for r in rows}


def _is_numeric(type_name: str) -> bool:
    return type_name.split("(")[0].strip() in _NUMERIC_TYPES or type_name.startswith("DECIMAL")


def column_type_class(type_name: str) -> str:
    """number | boolean | temporal | text: what `type_changed` compares across two sides."""
    base = type_name.split("(")[0].strip().upper()
    if _is_numeric(type_name.upper()):
        return "number"
    if base in ("BOOLEAN", "BOOL"):
        return "boolean"
    if base.startswith(("DATE", "TIME", "INTERVAL")):
        return "temporal"
    return "text"


def classify_columns(
    con: Any, relation_sql: str, columns: Sequence[str], categorical_override: Sequence[str] = ()
) -> tuple[list[str], list[str]]:
    """Split columns into (numeric, categorical) by their DuckDB type; listed ones are categorical."""
    if not columns:
        return [], []
    types = _column_types(con, relation_sql, columns)
    forced = set(categorical_override)
    numeric = [c for c in columns if c not in forced and _is_numeric(types[c])]
    return numeric, [c for c in columns if c not in numeric]


def _float_columns(con: Any, relation_sql: str, columns: Sequence[str]) -> list[str]:
    if not columns:
        return []
    types = _column_types(con, relation_sql, columns)
    return [c for c in columns if types[c].split("(")[0] in _FLOAT_TYPES]


@dataclass
class _Counts:
    n_rows: int
    present: dict[str, int]
    bins: dict[str, list[int]]
    categories: dict[str, dict[str, int]]


def _count(
    con: Any,
    relation_sql: str,
    edges: dict[str, list[float]],
    categorical: Sequence[str],
    float_categorical: Sequence[str],
    dialect: str,
) -> _Counts:
    """Bin counts, category counts and missing counts of one relation, in one scan."""
    binned = list(edges.items())
    keys = [c for c, _ in binned] + list(categorical)
    bins = {c: [0] * (len(e) + 1) for c, e in binned}
    cats: dict[str, dict[str, int]] = {c: {} for c in categorical}
    present = {c: 0 for c in keys}
    n_rows = 0
    if keys:
        sql = counts_sql(relation_sql, binned, categorical, float_categorical=float_categorical, dialect=dialect)
        k = len(keys)
        totals = [0] * k
        for row in con.execute(sql).fetchall():
            i = row[:k].index(0)
            col, key, n = keys[i], row[k + i], int(row[-1])
            totals[i] += n
            if key is None:
                continue
            present[col] += n
            if i < len(binned):
                bins[col][int(key)] += n
            else:
                cats[col][str(key)] = n
        n_rows = totals[0]
    else:
        n_rows = int(con.execute(f"SELECT COUNT(*) FROM {relation_sql} AS t").fetchone()[0])
    return _Counts(n_rows, present, bins, cats)


def profile_reference(
    con: Any,
    relation_sql: str,
    numeric: Sequence[str],
    categorical: Sequence[str],
    *,
    dialect: str = "duckdb",
) -> ReferenceProfile:
    """Reference statistics for drift: decile scans of the numeric columns, then one counting scan.

    Exact deciles hold a column's values in memory while they are computed; one column per
    scan keeps the peak at one column's worth (all at once took 2.4x the memory at 10M rows,
    in the same time). The first scan counts the rows: when the other columns' values fit in
    memory together (`fits_in_memory`), one more scan finds all their deciles (on Spark, each
    scan is a job)."""
    floats = _float_columns(con, relation_sql, categorical)
    edges, extent = {}, {}
    rows: int | None = None
    left = list(numeric)
    while left:
        batch = left if rows is not None and fits_in_memory(rows, len(left)) else left[:1]
        rows, *found = con.execute(moments_sql(relation_sql, batch, quantiles=True, dialect=dialect)).fetchone()
        for i, col in enumerate(batch):
            _, lo, hi, q = found[4 * i:4 * i + 4]
            edges[col] = dedupe_edges(q) if q is not None else []
            extent[col] = (lo, hi)
        left = left[len(batch):]
    counts = _count(con, relation_sql, edges, categorical, floats, dialect)
    return ReferenceProfile(
        n_rows=counts.n_rows,
        numeric={
            c: NumericProfile(counts.present[c], extent[c][0], extent[c][1], edges[c], counts.bins[c]) for c in numeric
        },
        categorical={
            c: CategoricalProfile(counts.present[c], counts.categories[c], c in floats) for c in categorical
        },
    )


# --- drift ------------------------------------------------------------------------------------

# The first round's cells follow quantiles of the reference's first rows: they only shape the
# cells (any layout gives the same exact statistics), so a cheap sample serves.
_LAYOUT_ROWS = 65_536
_LAYOUT_LEVELS = tuple(i / 10 for i in range(11))


def _count_rows(con: Any, relation_sql: str) -> int:
    return int(con.execute(f"SELECT COUNT(*) FROM {relation_sql} AS t").fetchone()[0])


def sample_layouts(con: Any, relation_sql: str, exprs: dict[str, str], rows: int, *,
                   dialect: str = "duckdb") -> dict[str, Layout]:
    """First-round layouts from quantiles of (at most) the relation's first _LAYOUT_ROWS rows;
    `rows`, the rows expected over both samples, sizes the cells."""
    if not exprs:
        return {}
    names = list(exprs)
    inner = ", ".join(f"CAST(({exprs[n]}) AS DOUBLE) AS c{i}" for i, n in enumerate(names))
    items = ", ".join(quantiles_sql(f"CASE WHEN {present(f'c{i}', dialect)} THEN c{i} END", _LAYOUT_LEVELS, dialect)
                      for i in range(len(names)))
    row = con.execute(f"SELECT {items} FROM (SELECT {inner} FROM {relation_sql} AS t LIMIT {_LAYOUT_ROWS}) AS s"
                      ).fetchone()
    return {name: _layout(q, rows) for name, q in zip(names, row)}


def _layout(q: Sequence[float] | None, rows: int) -> Layout:
    if not q:
        return Layout((), (float(rows),), None, None)
    q = [float(x) for x in q]
    lo, hi = q[0], q[-1]
    knots = [k for k in dedupe_edges(q[1:-1]) if lo < k < hi]
    # Each bin expects the share of sampled quantile levels it holds (at least half a level).
    levels = np.searchsorted(np.asarray(knots), np.asarray(q), side="left")
    shares = np.maximum(np.bincount(levels, minlength=len(knots) + 1), 0.5) / len(q)
    return Layout(tuple(knots), tuple(float(x) for x in shares * rows), lo, hi)


def out_of_range_sql(relation_sql: str, extents: dict[str, tuple[float, float]], dialect: str = "duckdb",
                     group: str | None = None, where: str | None = None) -> str:
    """One scan counting, per numeric column, its present values outside [lo, hi] (`extents`),
    in column order; per `group` expression (leading each row as g) of the rows `where` keeps,
    if given. Each column's value is computed once per row."""
    values = {f"v{i}": as_double(c, dialect) for i, c in enumerate(extents)}
    items = []
    for v, (lo, hi) in zip(values, extents.values()):
        outside = f"{v} < {double_literal(lo, dialect)} OR {v} > {double_literal(hi, dialect)}"
        items.append(f"SUM(CASE WHEN {present(v, dialect)} AND ({outside}) THEN 1 ELSE 0 END)")
    if group is None:
        return f"SELECT {', '.join(items)} FROM {computed(relation_sql, values, where)}"
    return f"SELECT g AS g, {', '.join(items)} FROM {computed(relation_sql, {'g': group, **values}, where)} GROUP BY g"


def _out_of_range_counts(con: Any, relation_sql: str, extents: dict[str, tuple[float | None, float | None]],
                         dialect: str) -> dict[str, int]:
    """Per numeric column, its present values outside [min, max] (the reference's), in one scan."""
    known = {c: (lo, hi) for c, (lo, hi) in extents.items() if lo is not None and hi is not None}
    if not known:
        return {}
    (row,) = con.execute(out_of_range_sql(relation_sql, known, dialect)).fetchall()
    return {c: int(n or 0) for c, n in zip(known, row)}


def drift_and_profile(
    con: Any,
    reference_sql: str,
    current_sql: str,
    numeric: Sequence[str],
    categorical: Sequence[str],
    profile: ReferenceProfile | None = None,
    *,
    extra: dict[str, str] | None = None,
    settings: DriftSettings = DriftSettings(),
    broken: Sequence[MetricValue] = (),
    dialect: str = "duckdb",
) -> DriftResult:
    """Per-feature drift and data-quality metrics, then FEATURE_GLOBALS; with the reference
    profile found on the way when none is given.

    `extra` maps names to further numeric expressions over both relations (the prediction
    drift's score): compared like a numeric feature in the same scans, reported apart, left
    out of the globals and the profile. `broken` holds the metrics of features that could not
    be compared (`broken_feature_metrics`): listed after the others and counted in the globals.
    """
    numeric, categorical, extra = list(numeric), list(categorical), dict(extra or {})
    cold = profile is None
    floats = _float_columns(con, reference_sql, categorical) if cold else [
        c for c in categorical if profile.categorical[c].is_float]
    # A kept profile knows the reference's rows (here they only size the first round's cells).
    n_ref_rows = _count_rows(con, reference_sql) if cold else profile.n_rows
    n_rows = _count_rows(con, current_sql)
    expected = n_ref_rows + n_rows
    sampled = {**({c: as_double(c, dialect) for c in numeric} if cold else {}), **extra}
    in_memory = fits_in_memory(expected, len(numeric) + len(extra))
    # Read whole, the values need no first-round layout: one cell per distinct value.
    layouts = (dict.fromkeys(sampled, Layout((), (float(expected),), None, None)) if in_memory
               else sample_layouts(con, reference_sql, sampled, expected, dialect=dialect))
    specs = [ColumnSpec(name, expr, layouts[name]) for name, expr in extra.items()]
    for c in numeric:
        if cold:
            specs.append(ColumnSpec(c, as_double(c, dialect), layouts[c]))
        else:
            p = profile.numeric[c]
            specs.append(ColumnSpec(c, as_double(c, dialect), known_layout(p.edges, p.bins, n_rows, p.min, p.max),
                                    tuple(p.edges)))
    found = column_statistics(con, reference_sql, current_sql, specs, dialect=dialect, in_memory=in_memory)
    none = _Counts(0, {}, {}, {})
    cats = _count(con, current_sql, {}, categorical, floats, dialect) if categorical else none
    if cold:
        ref_cats = _count(con, reference_sql, {}, categorical, floats, dialect) if categorical else none
        profile = ReferenceProfile(
            n_rows=n_ref_rows,
            numeric={c: NumericProfile(found[c].n_ref, found[c].ref_min, found[c].ref_max, list(found[c].edges),
                                       list(found[c].ref_bins)) for c in numeric},
            categorical={c: CategoricalProfile(ref_cats.present[c], ref_cats.categories[c], c in floats)
                         for c in categorical},
        )
    outside = _out_of_range_counts(con, current_sql, {c: (profile.numeric[c].min, profile.numeric[c].max)
                                                      for c in numeric}, dialect)
    return drift_result(numeric, categorical, list(extra), profile,
                        SampleCounts(n_rows, found, cats.categories, cats.present, outside), settings, broken)


def univariate_drift(
    con: Any,
    reference_sql: str,
    current_sql: str,
    numeric: Sequence[str],
    categorical: Sequence[str],
    profile: ReferenceProfile | None = None,
    *,
    dialect: str = "duckdb",
) -> list[MetricValue]:
    """Per-feature drift metrics, then `drifted_features_share` and `max_psi` (see
    `drift_and_profile`)."""
    return drift_and_profile(con, reference_sql, current_sql, numeric, categorical, profile, dialect=dialect).metrics
