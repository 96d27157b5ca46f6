"""An evaluation store: its rows in the system tables, its kept rows, and its views.

`append_evaluation` writes everything an evaluation leaves behind in one transaction: the
`mlmon.evaluations` row, its `mlmon.metrics` rows, its kept rows (`mlmon.rows_<store>`, the
reference of later `first` / `previous` evaluations), new reference-cache rows, and the views
`<store>`, `<store>_feature_drift` and `<store>_segments` regenerated over the metric names now
present (`mlmon.evaluation.store_views`). Any failure rolls all of it back.

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
from mlmon.evaluation.store_views import (  # the store's views; re-exported
    PERIOD_LABEL, feature_view, label_types, refresh_views, segment_view,
)
from mlmon.metrics.sqlsample import sample_query
from mlmon.metrics.types import MetricValue
from mlmon.warehouse import sql
from mlmon.warehouse.duckdb import Warehouse
from mlmon.warehouse.tables import SYSTEM_SCHEMA, SYSTEM_TABLES

__all__ = [
    "KEEP_ROWS",
    "PERIOD_LABEL",
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
