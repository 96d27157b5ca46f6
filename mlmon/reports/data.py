"""Read-only queries over the `mlmon.*` system tables for dashboards and docs.

Every method answers "nothing" (an empty list, None) when a table is missing or empty, so a
page can be rendered against a warehouse that has never been built. Only the spec's minimum
columns are required; extras (trigger_params, task, ...) are read when the table has them, so
a warehouse written by an older mlmon still renders.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Sequence

import duckdb

from mlmon.warehouse.tables import SYSTEM_SCHEMA

__all__ = [
    "Evaluation",
    "MetricRow",
    "CheckResult",
    "HistoryPoint",
    "ScenarioStep",
    "ScenarioRun",
    "ModelVersion",
    "NodeResult",
    "Warehouse",
    "parse_json",
]


def parse_json(value: Any, default: Any = None) -> Any:
    """A JSON column as Python; DuckDB hands JSON back as text, and bad text must not break a page."""
    if value is None:
        return default
    if isinstance(value, (dict, list)):
        return value
    try:
        return json.loads(value)
    except (TypeError, ValueError):
        return default


@dataclass(frozen=True)
class Evaluation:
    evaluation_id: str
    store: str
    model: str | None
    model_version: int | None
    dataset: str | None
    created_at: datetime | None
    n_rows: int | None
    n_evaluated: int | None
    has_ground_truth: bool | None
    labels: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class MetricRow:
    metric: str
    feature: str | None
    value: float | None
    lower: float | None = None
    upper: float | None = None


@dataclass(frozen=True)
class CheckResult:
    check: str
    store: str
    evaluation_id: str | None
    metric: str
    feature: str | None
    value: float | None
    status: str
    message: str | None
    checked_at: datetime | None


@dataclass(frozen=True)
class HistoryPoint:
    evaluation: Evaluation
    value: float | None
    lower: float | None
    upper: float | None
    status: str | None  # the latest check status recorded on this evaluation, if any


@dataclass(frozen=True)
class ScenarioStep:
    step: str
    kind: str | None
    outcome: str | None
    started_at: datetime | None
    ended_at: datetime | None
    message: str | None


@dataclass(frozen=True)
class ScenarioRun:
    run_id: str
    scenario: str
    trigger: str | None
    started_at: datetime | None
    ended_at: datetime | None
    outcome: str | None
    message: str | None
    steps: list[ScenarioStep] = field(default_factory=list)

    @property
    def duration_s(self) -> float | None:
        if self.started_at is None or self.ended_at is None:
            return None
        return (self.ended_at - self.started_at).total_seconds()


@dataclass(frozen=True)
class ModelVersion:
    model: str
    version: int
    trained_at: datetime | None
    training_dataset: str | None
    n_train: int | None
    n_test: int | None
    active: bool | None
    sha256: str | None
    metrics: dict[str, Any] = field(default_factory=dict)
    task: str | None = None


@dataclass(frozen=True)
class NodeResult:
    node: str
    kind: str | None
    status: str | None
    started_at: datetime | None
    ended_at: datetime | None
    message: str | None
    rows: int | None
    invocation_id: str | None


_EVALUATION_COLUMNS = (
    "evaluation_id, store, model, model_version, dataset, created_at, n_rows, n_evaluated, "
    "has_ground_truth, labels"
)


class Warehouse:
    """Typed reads of the system tables through a caller-owned (read-only) connection."""

    def __init__(self, con: duckdb.DuckDBPyConnection | None) -> None:
        self.con = con
        self._columns: dict[str, set[str]] = {}
        self._catalog = ""
        if con is not None:
            # Names are qualified with their catalog: a warehouse file called mlmon.duckdb opens as
            # catalog "mlmon", and DuckDB then refuses the bare "mlmon.<table>" as ambiguous.
            rows = con.execute(
                "SELECT table_catalog, table_name, column_name FROM information_schema.columns "
                "WHERE table_schema = ? ORDER BY table_catalog <> current_database(), table_catalog",
                [SYSTEM_SCHEMA],
            ).fetchall()
            if rows:
                self._catalog = rows[0][0]
            for catalog, table, column in rows:
                if catalog == self._catalog:
                    self._columns.setdefault(table, set()).add(column)

    def table(self, name: str) -> str:
        """The fully qualified, quoted name of a system table."""
        return ".".join(_quote(part) for part in (self._catalog, SYSTEM_SCHEMA, name))

    def has(self, table: str, *columns: str) -> bool:
        present = self._columns.get(table)
        return present is not None and all(c in present for c in columns)

    def _rows(self, sql: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
        assert self.con is not None
        cursor = self.con.execute(sql, list(params))
        names = [d[0] for d in cursor.description or ()]
        return [dict(zip(names, row)) for row in cursor.fetchall()]

    def _whole_data(self) -> str:
        """The condition keeping the whole data's metrics (not a segment's), if segments exist."""
        return " AND segment IS NULL" if self.has("metrics", "segment") else ""

    def _optional(self, table: str, column: str) -> str:
        """`column` when the table has it, else a NULL placeholder under the same name."""
        return f'"{column}"' if self.has(table, column) else f'NULL AS "{column}"'

    # -- evaluations and metrics -------------------------------------------------------------

    def evaluations(self, store: str) -> list[Evaluation]:
        """All evaluations of a store, oldest first."""
        if not self.has("evaluations"):
            return []
        rows = self._rows(
            f"SELECT {_EVALUATION_COLUMNS} FROM {self.table('evaluations')} WHERE store = ? "
            "ORDER BY created_at NULLS FIRST, evaluation_id",
            [store],
        )
        return [_evaluation(r) for r in rows]

    def latest_evaluation(self, store: str) -> Evaluation | None:
        if not self.has("evaluations"):
            return None
        rows = self._rows(
            f"SELECT {_EVALUATION_COLUMNS} FROM {self.table('evaluations')} WHERE store = ? "
            # a store evaluated per period: the newest period's latest evaluation
            "ORDER BY TRY_CAST(json_extract_string(labels, '$.period') AS DATE) DESC NULLS LAST, "
            "created_at DESC NULLS LAST, evaluation_id DESC LIMIT 1",
            [store],
        )
        return _evaluation(rows[0]) if rows else None

    def previous_evaluation(self, evaluation: Evaluation) -> Evaluation | None:
        """The store's evaluation just before `evaluation` (for deltas)."""
        history = self.evaluations(evaluation.store)
        ids = [e.evaluation_id for e in history]
        if evaluation.evaluation_id not in ids:
            return None
        index = ids.index(evaluation.evaluation_id)
        return history[index - 1] if index > 0 else None

    def metrics(self, evaluation_id: str, names: Sequence[str] | None = None) -> list[MetricRow]:
        """Metric rows of one evaluation, optionally only those named."""
        if not self.has("metrics"):
            return []
        sql = (f"SELECT metric, feature, value, lower, upper FROM {self.table('metrics')} WHERE evaluation_id = ?"
               + self._whole_data())
        params: list[Any] = [evaluation_id]
        if names is not None:
            if not names:
                return []
            sql += f" AND metric IN ({', '.join('?' for _ in names)})"
            params.extend(names)
        rows = self._rows(sql + " ORDER BY metric, feature NULLS FIRST", params)
        return [MetricRow(**r) for r in rows]

    def metric(self, evaluation_id: str, metric: str, feature: str | None = None) -> MetricRow | None:
        if not self.has("metrics"):
            return None
        rows = self._rows(
            f"SELECT metric, feature, value, lower, upper FROM {self.table('metrics')} "
            "WHERE evaluation_id = ? AND metric = ? AND feature IS NOT DISTINCT FROM ?" + self._whole_data() + " LIMIT 1",
            [evaluation_id, metric, feature],
        )
        return MetricRow(**rows[0]) if rows else None

    def metric_history(self, store: str, metric: str, feature: str | None = None) -> list[HistoryPoint]:
        """The metric over every evaluation of the store that has it, oldest first."""
        if not self.has("evaluations") or not self.has("metrics"):
            return []
        statuses = self._check_statuses_by_evaluation(store, metric, feature)
        by_id = {e.evaluation_id: e for e in self.evaluations(store)}
        rows = self._rows(
            f"SELECT evaluation_id, value, lower, upper FROM {self.table('metrics')} "
            "WHERE store = ? AND metric = ? AND feature IS NOT DISTINCT FROM ?" + self._whole_data(),
            [store, metric, feature],
        )
        points = [
            HistoryPoint(by_id[r["evaluation_id"]], r["value"], r["lower"], r["upper"], statuses.get(r["evaluation_id"]))
            for r in rows
            if r["evaluation_id"] in by_id
        ]
        order = {eid: i for i, eid in enumerate(by_id)}
        return sorted(points, key=lambda p: order[p.evaluation.evaluation_id])

    # -- checks ------------------------------------------------------------------------------

    def latest_check(self, store: str, metric: str, feature: str | None = None) -> CheckResult | None:
        if not self.has("check_results"):
            return None
        rows = self._rows(
            f'SELECT "check", store, evaluation_id, metric, feature, value, status, message, checked_at '
            f"FROM {self.table('check_results')} "
            "WHERE store = ? AND metric = ? AND feature IS NOT DISTINCT FROM ? "
            "ORDER BY checked_at DESC NULLS LAST LIMIT 1",
            [store, metric, feature],
        )
        return CheckResult(**rows[0]) if rows else None

    def _check_statuses_by_evaluation(self, store: str, metric: str, feature: str | None) -> dict[str, str]:
        if not self.has("check_results"):
            return {}
        rows = self._rows(
            f"SELECT evaluation_id, status FROM {self.table('check_results')} "
            "WHERE store = ? AND metric = ? AND feature IS NOT DISTINCT FROM ? AND evaluation_id IS NOT NULL "
            "QUALIFY row_number() OVER (PARTITION BY evaluation_id ORDER BY checked_at DESC NULLS LAST) = 1",
            [store, metric, feature],
        )
        return {r["evaluation_id"]: r["status"] for r in rows}

    # -- scenarios ---------------------------------------------------------------------------

    def scenario_runs(self, scenario: str, limit: int = 20) -> list[ScenarioRun]:
        """The scenario's last `limit` runs with their steps, oldest first."""
        if not self.has("scenario_runs"):
            return []
        runs = self._rows(
            f"SELECT run_id, scenario, \"trigger\", started_at, ended_at, outcome, "
            f"{self._optional('scenario_runs', 'message')} FROM {self.table('scenario_runs')} "
            "WHERE scenario = ? ORDER BY started_at DESC NULLS LAST, run_id DESC LIMIT ?",
            [scenario, max(int(limit), 1)],
        )
        runs.reverse()
        steps: dict[str, list[ScenarioStep]] = {}
        if runs and self.has("scenario_steps"):
            ids = [r["run_id"] for r in runs]
            for r in self._rows(
                f"SELECT run_id, step, kind, outcome, started_at, ended_at, message FROM {self.table('scenario_steps')} "
                f"WHERE run_id IN ({', '.join('?' for _ in ids)}) ORDER BY started_at NULLS LAST",
                ids,
            ):
                run_id = r.pop("run_id")
                steps.setdefault(run_id, []).append(ScenarioStep(**r))
        return [ScenarioRun(**r, steps=steps.get(r["run_id"], [])) for r in runs]

    # -- models ------------------------------------------------------------------------------

    def model_versions(self, model: str | None = None) -> list[ModelVersion]:
        """Versions of one model (or of every model), by model then version."""
        if not self.has("model_versions"):
            return []
        sql = (
            "SELECT model, version, trained_at, training_dataset, n_train, n_test, active, sha256, metrics, "
            f"{self._optional('model_versions', 'task')} FROM {self.table('model_versions')}"
        )
        params: list[Any] = []
        if model is not None:
            sql += " WHERE model = ?"
            params.append(model)
        rows = self._rows(sql + " ORDER BY model, version", params)
        for r in rows:
            r["metrics"] = parse_json(r["metrics"], {}) or {}
        return [ModelVersion(**r) for r in rows]

    def model_version(self, model: str, version: int | None) -> ModelVersion | None:
        if version is None:
            return None
        return next((v for v in self.model_versions(model) if v.version == version), None)

    # -- node results ------------------------------------------------------------------------

    def latest_node_results(self) -> dict[str, NodeResult]:
        """The most recent result of every node that has run."""
        if not self.has("node_results"):
            return {}
        rows = self._rows(
            f"SELECT node, kind, status, started_at, ended_at, message, \"rows\", invocation_id "
            f"FROM {self.table('node_results')} "
            "QUALIFY row_number() OVER (PARTITION BY node ORDER BY ended_at DESC NULLS LAST, "
            "started_at DESC NULLS LAST) = 1"
        )
        return {r["node"]: NodeResult(**r) for r in rows}


def _quote(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


def _evaluation(row: dict[str, Any]) -> Evaluation:
    labels = parse_json(row.pop("labels"), {})
    return Evaluation(**row, labels=labels if isinstance(labels, dict) else {})
