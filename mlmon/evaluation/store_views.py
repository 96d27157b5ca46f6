"""The three views of an evaluation store, regenerated over the metric names it holds.

`<store>` has one row per evaluation: its description, one column per label key (`period` a
DATE) and one per global metric of the whole data; `<store>_feature_drift` one row per
(evaluation, feature) with the per-feature metrics as columns; `<store>_segments` one row per
(evaluation, segment) with the segment's global metrics. A banded metric brings its `_lower`
and `_upper` columns. Columns follow the evaluation that first wrote each metric, then the
name, so that every engine names and orders them alike.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Sequence

import duckdb
from sqlglot import exp

from mlmon.metrics.task import MULTICLASS_CLASS_METRICS
from mlmon.warehouse import sql
from mlmon.warehouse.duckdb import Warehouse
from mlmon.warehouse.tables import SYSTEM_SCHEMA

__all__ = ["PERIOD_LABEL", "feature_view", "label_types", "refresh_views", "segment_view"]

# Per-class metrics carry a class label in `feature`; they are not feature drift.
_CLASS_METRICS = ("predicted_class_share", "predicted_class_share_reference", *MULTICLASS_CLASS_METRICS,
                  *(f"{m}_drift" for m in MULTICLASS_CLASS_METRICS))
_STORE_COLUMNS = ("evaluation_id", "created_at", "model", "model_version", "dataset", "n_rows", "n_evaluated",
                  "has_ground_truth")
_FEATURE_COLUMNS = ("evaluation_id", "created_at", "model_version")


def feature_view(store: str) -> str:
    return f"{store}_feature_drift"


def segment_view(store: str) -> str:
    return f"{store}_segments"


@dataclass(frozen=True)
class _StoreColumns:
    """What the store's three views read of the store to name their columns: its metrics
    (with or without feature and segment, banded or not) and its label keys. Read once for
    the three: on Spark every statement costs a plan and a job."""

    metrics: list[tuple[Any, ...]]  # (metric, per feature, per segment, banded, first written)
    labels: dict[str, str]  # label key -> column type

    @classmethod
    def read(cls, con: duckdb.DuckDBPyConnection, store: str) -> "_StoreColumns":
        # One statement for both: the metrics' kinds (part 0) and each distinct label set
        # (part 1), each by the evaluation that first wrote it, so that keys keep that order.
        rows = con.execute(
            "SELECT 0 AS part, m.metric AS name, m.feature IS NOT NULL, m.segment IS NOT NULL, "
            "bool_or(m.lower IS NOT NULL OR m.upper IS NOT NULL), min(e.created_at) AS first "
            "FROM mlmon.metrics AS m JOIN mlmon.evaluations AS e ON e.evaluation_id = m.evaluation_id "
            "WHERE m.store = ? GROUP BY m.metric, m.feature IS NOT NULL, m.segment IS NOT NULL "
            "UNION ALL SELECT 1, CAST(labels AS VARCHAR), NULL, NULL, NULL, min(created_at) "
            "FROM mlmon.evaluations WHERE store = ? GROUP BY CAST(labels AS VARCHAR) ORDER BY 1, 6, 2", [store, store]
        ).fetchall()
        labels = [json.loads(r[1]) if r[1] else {} for r in rows if r[0] == 1]
        return cls([tuple(r[1:]) for r in rows if r[0] == 0], label_types([v for v in labels if isinstance(v, dict)]))

    def metric_names(self, per_feature: bool, per_segment: bool = False) -> list[tuple[str, bool]]:
        """(metric, has a band): by the evaluation that first wrote them, then by name. Not by
        storage order, which only DuckDB keeps."""
        return [(r[0], bool(r[3])) for r in self.metrics if bool(r[1]) == per_feature and bool(r[2]) == per_segment
                and not (per_feature and r[0] in _CLASS_METRICS)]


PERIOD_LABEL = "period"  # the label of a `period:` evaluation: the period's first day


def _value_type(value: Any) -> str:
    if isinstance(value, bool):
        return "BOOLEAN"
    if isinstance(value, int):
        return "BIGINT"
    if isinstance(value, float):
        return "DOUBLE"
    return "VARCHAR"


def label_types(labels: Sequence[dict[str, Any]]) -> dict[str, str]:
    """Each label key's column type in the store view: `period` a DATE; a key whose values are all
    booleans, integers or numbers that type; anything else (or a mix) text."""
    seen: dict[str, set[str]] = {}
    for value in labels:
        for key, item in value.items():
            if item is not None:
                seen.setdefault(str(key), set()).add(_value_type(item))
            else:
                seen.setdefault(str(key), set())
    types = {}
    for key, kinds in seen.items():
        if key == PERIOD_LABEL:
            types[key] = "DATE"
        elif kinds in ({"BIGINT"}, {"BOOLEAN"}, {"DOUBLE"}):
            types[key] = next(iter(kinds))
        elif kinds == {"BIGINT", "DOUBLE"}:
            types[key] = "DOUBLE"
        else:
            types[key] = "VARCHAR"
    return types


def _pivot(metrics: list[tuple[str, bool]]) -> tuple[list[exp.Expression], list[str]]:
    """FILTER aggregates turning metric rows into columns, and the column names."""
    cells: list[exp.Expression] = []
    names: list[str] = []
    for metric, banded in metrics:
        cells.append(sql.filtered_max("value", "metric", metric, metric))
        names.append(metric)
        if banded:
            for bound in ("lower", "upper"):
                cells.append(sql.filtered_max(bound, "metric", metric, f"{metric}_{bound}"))
                names.append(f"{metric}_{bound}")
    return cells, names


def _label_columns(keys: dict[str, str], taken: set[str]) -> list[exp.Expression]:
    """One typed column per label key; a key that clashes with another column is prefixed `label_`."""
    out: list[exp.Expression] = []
    for key, dtype in keys.items():
        name, n = key, 1
        if name in taken:
            name = f"label_{key}"
        while name in taken:
            n += 1
            name = f"label_{key}_{n}"
        taken.add(name)
        label = sql.json_label("labels", key, name, "e")
        if dtype != "VARCHAR":
            label = exp.alias_(exp.TryCast(this=label.this, to=exp.DataType.build(dtype)), name, quoted=True)
        out.append(label)
    return out


def _is_latest(taken: set[str]) -> list[exp.Expression]:
    """`is_latest`: true for the newest evaluation of each label set (a period evaluated again
    when more outcomes arrived leaves its older evaluations false)."""
    if "is_latest" in taken:
        return []
    labels = exp.cast(exp.column("labels", table="e", quoted=True), "VARCHAR")
    rank = exp.Window(
        this=exp.RowNumber(),
        partition_by=[exp.column("store", table="e", quoted=True), labels],
        order=exp.Order(expressions=[exp.column("created_at", table="e", quoted=True).desc(),
                                     exp.column("evaluation_id", table="e", quoted=True).desc()]),
    )
    return [exp.alias_(exp.EQ(this=rank, expression=exp.Literal.number(1)), "is_latest", quoted=True)]


def _view_query(store: str, found: _StoreColumns, per_feature: bool, per_segment: bool = False) -> exp.Select:
    metrics = found.metric_names(per_feature, per_segment)
    cells, names = _pivot(metrics)
    fixed = _FEATURE_COLUMNS if per_feature or per_segment else _STORE_COLUMNS
    keys = ["evaluation_id", "feature"] if per_feature else ["evaluation_id"]
    keys += ["segment"] if per_segment else []
    store_is = exp.column("store", quoted=True).eq(exp.Literal.string(store))
    feature_is = exp.column("feature", quoted=True).is_(exp.null())
    segment_is = exp.column("segment", quoted=True).is_(exp.null())
    inner = (exp.select(*[exp.column(k, quoted=True) for k in keys], *cells)
             .from_(sql.table("metrics", SYSTEM_SCHEMA))
             .where(store_is.and_(feature_is.not_() if per_feature else feature_is)
                    .and_(segment_is.not_() if per_segment else segment_is)))
    if per_feature:
        wanted = [exp.Literal.string(m) for m, _ in metrics] or [exp.Literal.string("")]
        inner = inner.where(exp.column("metric", quoted=True).isin(*wanted))
    inner = inner.group_by(*[exp.column(k, quoted=True) for k in keys])
    taken = set(fixed) | set(names) | set(keys)
    labels = _label_columns(found.labels, taken)
    outer = [exp.column(c, table="e", quoted=True) for c in fixed] + labels
    outer += [] if per_feature or per_segment else _is_latest(taken)
    outer += [exp.column(k, table="m", quoted=True) for k in keys if k != "evaluation_id"]
    outer += [exp.column(n, table="m", quoted=True) for n in names]
    joined = exp.column("evaluation_id", table="m", quoted=True).eq(exp.column("evaluation_id", table="e", quoted=True))
    query = (exp.select(*outer)
             .from_(exp.alias_(sql.table("evaluations", SYSTEM_SCHEMA), "e", quoted=True))
             .join(inner.subquery("m"), on=joined, join_type="inner" if per_feature or per_segment else "left")
             .where(exp.column("store", table="e", quoted=True).eq(exp.Literal.string(store))))
    order = [exp.column("created_at", table="e", quoted=True), exp.column("evaluation_id", table="e", quoted=True)]
    return query.order_by(*order, *[exp.column(k, table="m", quoted=True) for k in keys if k != "evaluation_id"])


def refresh_views(warehouse: Warehouse, store: str) -> None:
    """(Re)create, in schema main and the caller's transaction, `<store>` (one row per
    evaluation: its description, label columns and global metrics), `<store>_feature_drift`
    (one row per evaluation and feature: the per-feature metrics as columns) and
    `<store>_segments` (one row per evaluation and segment: the segment's global metrics)."""
    con = warehouse.con
    found = _StoreColumns.read(con, store)
    for name, query in ((store, _view_query(store, found, per_feature=False)),
                        (feature_view(store), _view_query(store, found, per_feature=True)),
                        (segment_view(store), _view_query(store, found, per_feature=False, per_segment=True))):
        if warehouse.relation_type(name) == "table":
            con.execute(sql.drop_relation(name, "TABLE").sql("duckdb"))
        con.execute(sql.create_view_as(name, query).sql("duckdb"))
