"""Which features an evaluation can compare, and what the data's quality says about the rest.

A feature the data lacks, or whose type class (number, text, boolean, date) differs from the
reference's, cannot be compared: it is reported as drift (`feature_missing` / `type_changed` = 1
with its missing shares), never skipped in silence. Outcomes of a class the reference does not
know are counted in `unknown_label_share` and left out of performance.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol, Sequence

import duckdb

from mlmon.evaluation.reference import once
from mlmon.evaluation.sampling import table_columns
from mlmon.metrics.grouped import Groups
from mlmon.metrics.judgement import DriftSettings
from mlmon.metrics.labels import canonical_label
from mlmon.metrics.sqlstats import as_double, present, quote
from mlmon.metrics.types import MetricValue
from mlmon.metrics.univariate import broken_feature_metrics, column_type_class

__all__ = ["FeaturePlan", "ComparedFeatures", "present_counts", "grouped_present_counts", "compare_features",
           "unknown_labels"]


class FeaturePlan(Protocol):
    """What `compare_features` reads of an evaluation plan."""

    @property
    def features(self) -> list[str]: ...
    numeric: tuple[str, ...]
    categorical: tuple[str, ...]
    drift: DriftSettings


@dataclass
class ComparedFeatures:
    """Which features are compared and how; the ones that cannot be, as drift metrics."""

    numeric: list[str]
    categorical: list[str]
    absent: list[str]  # features the data lacks
    broken: list[MetricValue]  # metrics of absent and retyped features (drifted = 1)
    notes: list[str]


def _present_items(columns: Sequence[str], types: dict[str, str]) -> list[str]:
    items = []
    for c in columns:
        kept = present(as_double(c), "duckdb") if column_type_class(types[c]) == "number" else f"{quote(c)} IS NOT NULL"
        items.append(f"SUM(CASE WHEN {kept} THEN 1 ELSE 0 END)")
    return items


def present_counts(con: duckdb.DuckDBPyConnection, relation_sql: str, columns: Sequence[str],
                   types: dict[str, str]) -> tuple[int, dict[str, int]]:
    """Rows, and per column its present values (NULL, and NaN in a number column, are missing)."""
    (row,) = con.execute(f"SELECT {', '.join(['COUNT(*)', *_present_items(columns, types)])} "
                         f"FROM {relation_sql} AS t").fetchall()
    return int(row[0]), {c: int(n or 0) for c, n in zip(columns, row[1:])}


def grouped_present_counts(con: duckdb.DuckDBPyConnection, groups: Groups, columns: Sequence[str],
                           types: dict[str, str]) -> list[tuple[int, dict[str, int]]]:
    """`present_counts` of every group (in `groups.keys` order), in one grouped scan."""
    rows = con.execute(f"SELECT {groups.index_sql()} AS g, {', '.join(['COUNT(*)', *_present_items(columns, types)])} "
                       f"FROM {groups.relation} AS t WHERE {groups.wanted()} GROUP BY 1").fetchall()
    out: list[tuple[int, dict[str, int]]] = [(0, {c: 0 for c in columns}) for _ in groups.keys]
    for row in rows:
        out[int(row[0])] = (int(row[1]), {c: int(n or 0) for c, n in zip(columns, row[2:])})
    return out


def compare_features(con: duckdb.DuckDBPyConnection, current_sql: str, reference_sql: str,
                     plan: FeaturePlan, memo: dict[Any, Any] | None = None,
                     current_counts: tuple[int, dict[str, int]] | None = None) -> ComparedFeatures:
    """A feature the data lacks, or whose type class (number, text, boolean, date) differs from
    the reference's, is drifted with `feature_missing` / `type_changed` = 1 and its missing shares;
    a side holding no value at all (a month with no values read from CSV as text) has no type.
    `memo`, if given, keeps the reference's side for the next call (a store's next period);
    `current_counts`, `present_counts` of the current rows when the caller counted them already."""
    current = dict(table_columns(con, current_sql))

    def reference_side() -> tuple[dict[str, str], int, dict[str, int]]:
        ref_types = dict(table_columns(con, reference_sql))
        return (ref_types, *present_counts(con, reference_sql, [f for f in plan.features if f in ref_types], ref_types))

    key = ("present_counts", reference_sql, tuple(plan.features))
    ref, n_ref, ref_present = once({} if memo is None else memo, key, reference_side)
    absent = [f for f in plan.features if f not in current]
    notes = [f"feature {f} is not in the reference rows: its drift is not computed"
             for f in plan.features if f in current and f not in ref]
    both = [f for f in plan.features if f in current and f in ref]
    if current_counts is not None and set(both) <= set(current_counts[1]):
        n_cur, cur_present = current_counts[0], {f: current_counts[1][f] for f in both}
    else:
        n_cur, cur_present = present_counts(con, current_sql, both, current)
    classes = {f: (column_type_class(ref[f]) if ref_present[f] else None,
                   column_type_class(current[f]) if cur_present[f] else None) for f in both}
    changed = [f for f in both if None not in classes[f] and classes[f][0] != classes[f][1]]
    numeric = [f for f in plan.numeric if f in both and f not in changed]
    categorical = [f for f in plan.categorical if f in both and f not in changed]
    for name in [f for f in numeric if "text" in classes[f] or "temporal" in classes[f]]:
        # Both sides agree on a type that is no number: nothing changed, but it cannot be compared as one.
        numeric.remove(name)
        notes.append(f"feature {name} has type {current[name]}, not a number: its drift is not computed")

    def ref_missing(f: str) -> float | None:
        return (n_ref - ref_present[f]) / n_ref if f in ref_present and n_ref else None

    broken: list[MetricValue] = []
    for f in plan.features:
        if f in absent:
            broken += broken_feature_metrics(f, feature_missing=True, type_changed=False, missing_share=1.0,
                                             missing_share_reference=ref_missing(f), settings=plan.drift)
        elif f in changed:
            notes.append(f"feature {f} changed type: {ref[f]} in the reference, {current[f]} in the data; "
                         "it counts as drifted")
            broken += broken_feature_metrics(f, feature_missing=False, type_changed=True,
                                             missing_share=(n_cur - cur_present[f]) / n_cur if n_cur else None,
                                             missing_share_reference=ref_missing(f), settings=plan.drift)
    return ComparedFeatures(numeric, categorical, absent, broken, notes)


def unknown_labels(target: str, classes: Sequence[Any], counts: dict[str, int]
                   ) -> tuple[list[MetricValue], list[str]]:
    """`unknown_label_share` of the labelled rows (`counts`: rows per canonical label), and a
    warning naming the column and the classes the reference does not know."""
    known = {canonical_label(c) for c in classes}
    unknown = sorted(k for k in counts if k not in known)
    total = sum(counts.values())
    if not total:
        return [], []
    share = sum(counts[k] for k in unknown) / total
    warnings = [f"target {target} holds {'a class' if len(unknown) == 1 else 'classes'} the reference does not "
                f"know: {', '.join(unknown)} ({share:.2%} of labelled rows); those rows are left out of performance"
                ] if unknown else []
    return [MetricValue("unknown_label_share", share)], warnings
