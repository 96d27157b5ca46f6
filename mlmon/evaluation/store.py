"""An evaluation store: its rows in the system tables, its kept rows, and its two views.

`append_evaluation` writes everything an evaluation leaves behind in one transaction: the
`mlmon.evaluations` row, its `mlmon.metrics` rows, its kept rows (`mlmon.rows_<store>`, the
reference of later `first` / `previous` evaluations), new reference-cache rows, and the views
`<store>`, `<store>_feature_drift` and `<store>_segments` regenerated over the metric names now
present. Any failure rolls all of it back. The first two read the whole data's metrics
(`segment` NULL); the third one row per (evaluation, segment) with the segment's global metrics.

Kept rows: the compared features, the target and the model outputs of the evaluated rows, at
most `keep_rows` of them (a seeded hash sample beyond that), tagged with the evaluation_id. A
later evaluation whose data brings a new column or a wider type widens the table.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Sequence

import duckdb
import pandas as pd
import sqlglot
from sqlglot import exp

from mlmon.chaos import pause_point
from mlmon.evaluation.kept_groups import KeptGroups, kept_groups_query, orderable
from mlmon.evaluation.reference import rows_table
from mlmon.evaluation.sampling import table_columns
from mlmon.metrics.sqlsample import sample_query
from mlmon.metrics.task import MULTICLASS_CLASS_METRICS
from mlmon.metrics.types import MetricValue
from mlmon.warehouse import sql
from mlmon.warehouse.duckdb import Warehouse
from mlmon.warehouse.tables import SYSTEM_SCHEMA, SYSTEM_TABLES

__all__ = [
    "KEEP_ROWS",
    "EvaluationRecord",
    "append_evaluation",
    "append_evaluations",
    "label_types",
    "refresh_views",
    "feature_view",
    "segment_view",
    "has_evaluations",
]

KEEP_ROWS = 100_000
# Rows one grouped kept-rows statement numbers at most: its window holds them all, so this
# bounds its memory whatever the number of periods.
GROUPED_KEPT_ROWS = 500_000
_KEEP_SEED = 0
# Per-class metrics carry a class label in `feature`; they are not feature drift.
_CLASS_METRICS = ("predicted_class_share", "predicted_class_share_reference", *MULTICLASS_CLASS_METRICS,
                  *(f"{m}_drift" for m in MULTICLASS_CLASS_METRICS))
_STORE_COLUMNS = ("evaluation_id", "created_at", "model", "model_version", "dataset", "n_rows", "n_evaluated",
                  "has_ground_truth")
_FEATURE_COLUMNS = ("evaluation_id", "created_at", "model_version")
_NUMERIC = {"TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "UTINYINT", "USMALLINT", "UINTEGER", "UBIGINT",
            "UHUGEINT", "FLOAT", "DOUBLE", "DECIMAL"}


@dataclass(frozen=True)
class EvaluationRecord:
    """The `mlmon.evaluations` row of one evaluation."""

    evaluation_id: str
    store: str
    model: str
    model_version: int
    dataset: str
    reference: str
    created_at: datetime
    invocation_id: str
    n_rows: int
    n_evaluated: int
    has_ground_truth: bool
    labels: dict[str, Any] = field(default_factory=dict)
    reference_evaluation_id: str | None = None
    warnings: list[str] = field(default_factory=list)

    def row(self) -> dict[str, Any]:
        return {
            "evaluation_id": self.evaluation_id, "store": self.store, "model": self.model,
            "model_version": self.model_version, "dataset": self.dataset, "reference": self.reference,
            "created_at": self.created_at, "invocation_id": self.invocation_id, "n_rows": self.n_rows,
            "n_evaluated": self.n_evaluated, "has_ground_truth": self.has_ground_truth,
            "labels": json.dumps(self.labels, default=str), "reference_evaluation_id": self.reference_evaluation_id,
            "warnings": json.dumps(self.warnings),
        }


def feature_view(store: str) -> str:
    return f"{store}_feature_drift"


def segment_view(store: str) -> str:
    return f"{store}_segments"


def has_evaluations(con: duckdb.DuckDBPyConnection, store: str) -> bool:
    return con.execute("SELECT 1 FROM mlmon.evaluations WHERE store = ? LIMIT 1", [store]).fetchone() is not None


def append_evaluation(
    warehouse: Warehouse,
    record: EvaluationRecord,
    metrics: Sequence[MetricValue],
    rows_sql: str | None,
    keep_columns: Sequence[str],
    cache_rows: Sequence[dict[str, Any]] = (),
    keep_rows: int = KEEP_ROWS,
) -> None:
    """Append one evaluation atomically (see the module docstring)."""
    append_evaluations(warehouse, [(record, metrics, rows_sql, keep_columns)], cache_rows, keep_rows)


def append_evaluations(
    warehouse: Warehouse,
    evaluations: Sequence[tuple[EvaluationRecord, Sequence[MetricValue], str | None, Sequence[str]]],
    cache_rows: Sequence[dict[str, Any]] = (),
    keep_rows: int = KEEP_ROWS,
    grouped: KeptGroups | None = None,
) -> None:
    """Append several evaluations of one store (one per period) in a single transaction: each
    is (record, metrics, its rows, the columns to keep). `grouped`, when given, holds every
    evaluation's rows as groups of one relation: their kept rows are then drawn in one statement."""
    if not evaluations:
        return
    metric_rows = [
        {"evaluation_id": record.evaluation_id, "store": record.store, "metric": m.metric, "feature": m.feature,
         "segment": m.segment, "value": m.value, "lower": m.lower, "upper": m.upper}
        for record, metrics, _, _ in evaluations for m in metrics
    ]
    with warehouse.transaction() as con:
        warehouse.insert_rows("evaluations", [record.row() for record, _, _, _ in evaluations])
        _insert_frame(con, "metrics", metric_rows)
        pause_point("evaluation_transaction")
        if not (keep_rows > 0 and grouped is not None and _keep_grouped(con, evaluations, grouped, keep_rows)):
            for record, _, rows_sql, keep_columns in evaluations:
                if rows_sql is not None and keep_columns and keep_rows > 0:
                    _keep_rows(con, record, rows_sql, list(keep_columns), keep_rows)
        warehouse.insert_rows("reference_profiles", list(cache_rows))
        for store in dict.fromkeys(record.store for record, _, _, _ in evaluations):
            refresh_views(warehouse, store)


def _insert_frame(con: duckdb.DuckDBPyConnection, table: str, rows: list[dict[str, Any]]) -> None:
    """Append rows to a system table in one statement (executemany costs milliseconds a row)."""
    if not rows:
        return
    columns = SYSTEM_TABLES[table].column_names
    frame = pd.DataFrame({c: [row.get(c) for row in rows] for c in columns})
    view = f"__mlmon_{table}_rows"
    con.register(view, frame)
    try:
        query = exp.select(*[exp.column(c, quoted=True) for c in columns]).from_(exp.to_identifier(view))
        con.execute(sql.insert_by_name(table, query, SYSTEM_SCHEMA).sql("duckdb"))
    finally:
        con.unregister(view)


# -- kept rows ------------------------------------------------------------------------------------


def _base_type(dtype: str) -> str:
    return dtype.split("(")[0].strip().upper()


def _widened(old: str, new: str) -> str | None:
    """The type a kept column needs to hold both old and new values (None: keep `old`)."""
    if old == new or new == '"NULL"' or _base_type(new) == "NULL":
        return None
    if _base_type(old) in _NUMERIC and _base_type(new) in _NUMERIC:
        return None if _base_type(old) == "DOUBLE" else "DOUBLE"
    return None if _base_type(old) == "VARCHAR" else "VARCHAR"


def _keep_rows(con: duckdb.DuckDBPyConnection, record: EvaluationRecord, rows_sql: str,
               columns: list[str], keep_rows: int) -> None:
    tag = exp.alias_(exp.Literal.string(record.evaluation_id), "evaluation_id", quoted=True)
    if record.n_evaluated > keep_rows:
        source: exp.Expression = sample_query(con, rows_sql, columns, columns, keep_rows, _KEEP_SEED).subquery("s")
    else:
        source = exp.to_table(rows_sql, dialect="duckdb")
    query = exp.select(tag, *[exp.column(c, quoted=True) for c in columns]).from_(source)
    _insert_kept(con, record.store, query, columns, dict(table_columns(con, rows_sql)))


def _keep_grouped(con: duckdb.DuckDBPyConnection,
                  evaluations: Sequence[tuple[EvaluationRecord, Sequence[MetricValue], str | None, Sequence[str]]],
                  grouped: KeptGroups, keep_rows: int) -> bool:
    """Every evaluation's kept rows in one statement (mlmon.evaluation.kept_groups); False,
    having done nothing, when they cannot be: other kept columns per evaluation, or a kept
    column no engine orders alike."""
    columns = {tuple(keep) for _, _, _, keep in evaluations}
    if len(columns) != 1 or not all(record.evaluation_id in grouped.keys for record, _, _, _ in evaluations):
        return False
    kept = list(next(iter(columns)))
    incoming = dict(table_columns(con, grouped.relation))
    if not kept or not orderable(incoming, kept):
        return False
    counts = {record.evaluation_id: record.n_evaluated for record, _, _, _ in evaluations}
    for batch in _batches(list(counts.items()), GROUPED_KEPT_ROWS):
        groups = KeptGroups(grouped.relation, grouped.column, {evaluation_id: grouped.keys[evaluation_id]
                                                               for evaluation_id in batch})
        query = sqlglot.parse_one(kept_groups_query(groups, counts, kept, keep_rows, _KEEP_SEED), read="duckdb")
        _insert_kept(con, evaluations[0][0].store, query, kept, incoming)
    return True


def _batches(counts: list[tuple[str, int]], limit: int) -> list[list[str]]:
    """Evaluation ids in runs of at most `limit` rows (a bigger one alone), in order."""
    out: list[list[str]] = []
    rows = 0
    for evaluation_id, n in counts:
        if not out or rows + n > limit:
            out.append([])
            rows = 0
        out[-1].append(evaluation_id)
        rows += n
    return out


def _insert_kept(con: duckdb.DuckDBPyConnection, store: str, query: exp.Expression, columns: Sequence[str],
                 incoming: dict[str, str]) -> None:
    """Append `query`'s rows (evaluation_id and `columns`) to the store's kept rows, making or
    widening the table first."""
    table = rows_table(store)
    existing = dict(table_columns(con, sql.table(table, SYSTEM_SCHEMA).sql("duckdb"))) if _exists(con, table) else None
    if existing is None:
        con.execute(sql.create_table_as(table, query, SYSTEM_SCHEMA).sql("duckdb"))
        return
    for column in columns:
        if column not in existing:
            con.execute(sql.add_column(table, column, incoming[column], SYSTEM_SCHEMA).sql("duckdb"))
            continue
        wider = _widened(existing[column], incoming[column])
        if wider is not None:
            con.execute(sql.set_column_type(table, column, wider, SYSTEM_SCHEMA).sql("duckdb"))
    con.execute(sql.insert_by_name(table, query, SYSTEM_SCHEMA).sql("duckdb"))


def _exists(con: duckdb.DuckDBPyConnection, table: str, schema: str = SYSTEM_SCHEMA) -> bool:
    return con.execute("SELECT 1 FROM information_schema.tables WHERE table_schema = ? AND table_name = ?",
                       [schema, table]).fetchone() is not None


# -- views ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _StoreColumns:
    """What the store's three views read of the store to name their columns: its metrics
    (with or without feature and segment, banded or not) and its label keys. Read once for
    the three: on Spark every statement costs a plan and a job."""

    metrics: list[tuple[Any, ...]]  # (metric, per feature, per segment, banded, first written)
    labels: dict[str, str]  # label key -> column type

    @classmethod
    def read(cls, con: duckdb.DuckDBPyConnection, store: str) -> "_StoreColumns":
        rows = con.execute(
            "SELECT m.metric, m.feature IS NOT NULL, m.segment IS NOT NULL, "
            "bool_or(m.lower IS NOT NULL OR m.upper IS NOT NULL), min(e.created_at) "
            "FROM mlmon.metrics AS m JOIN mlmon.evaluations AS e ON e.evaluation_id = m.evaluation_id "
            "WHERE m.store = ? GROUP BY m.metric, m.feature IS NOT NULL, m.segment IS NOT NULL ORDER BY 5, 1", [store]
        ).fetchall()
        return cls([tuple(r) for r in rows], _label_keys(con, store))

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


def _label_keys(con: duckdb.DuckDBPyConnection, store: str) -> dict[str, str]:
    rows = con.execute("SELECT labels FROM mlmon.evaluations WHERE store = ? ORDER BY created_at", [store]).fetchall()
    values = [json.loads(text) if text else {} for (text,) in rows]
    return label_types([v for v in values if isinstance(v, dict)])


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
