"""Projects whose stores hold metrics written by the test, so check statuses are exact."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Callable, Mapping

import pytest

from mlmon.run.results import utcnow
from mlmon.warehouse.duckdb import Warehouse
from tests.conftest import query_rows

BASE = {
    "data/tx.csv": "x,amount,y\n" + "".join(f"{i},{(i % 7) - 1},{i % 2}\n" for i in range(40)),
    "models/base.yml": """
        datasets:
          - name: tx
            files: data/tx.csv
        models:
          - name: clf
            data: tx
            target: y
            estimator: sklearn.linear_model.LogisticRegression
        evaluations:
          - name: perf
            model: clf
            data: tx
          - name: drift
            model: clf
            data: tx
            skip_performance: true
        """,
}

MetricKey = str | tuple[str, str]
Seed = Callable[..., str]


def seed_evaluation(root: Path, store: str, metrics: Mapping[MetricKey, float | None], *,
                    created_at: datetime | None = None, invocation_id: str | None = None,
                    labels: str = "{}", segments: Mapping[str, Mapping[MetricKey, float | None]] | None = None) -> str:
    """Append one evaluation with these metrics ((metric, feature) keys for per-feature ones) to
    `store`, and the store's view, as an evaluation node would; returns its evaluation_id.
    Each seed is its own command unless `invocation_id` says otherwise (periods share one);
    `segments` adds the metrics of segments ("column=value" -> metrics)."""
    evaluation_id = uuid.uuid4().hex
    with Warehouse(root / "target" / "warehouse.duckdb") as wh:
        wh.insert_rows("evaluations", [{
            "evaluation_id": evaluation_id, "store": store, "model": "clf", "model_version": 1, "dataset": "tx",
            "reference": "training", "created_at": created_at or utcnow(),
            "invocation_id": invocation_id or uuid.uuid4().hex,
            "n_rows": 40, "n_evaluated": 40, "has_ground_truth": True, "labels": labels}])
        rows: list[dict[str, Any]] = []
        for segment, values in [(None, metrics), *(segments or {}).items()]:
            for key, value in values.items():
                metric, feature = (key, None) if isinstance(key, str) else key
                rows.append({"evaluation_id": evaluation_id, "store": store, "metric": metric, "feature": feature,
                             "segment": segment, "value": value})
        wh.insert_rows("metrics", rows)
        wh.con.execute(f'CREATE VIEW IF NOT EXISTS main."{store}" AS '
                       f"SELECT * FROM mlmon.evaluations WHERE store = '{store}'")
    return evaluation_id




def latest_results(root: Path) -> dict[str, tuple]:
    """check -> (status, value, evaluation_id, message) of its newest result."""
    rows = query_rows(root, 'SELECT "check", status, value, evaluation_id, message FROM mlmon.check_results '
                       'QUALIFY row_number() OVER (PARTITION BY "check" ORDER BY checked_at DESC) = 1')
    return {r[0]: tuple(r[1:]) for r in rows}


@pytest.fixture
def check_project(make_project) -> Callable[[str], Path]:
    """A project with stores `perf` and `drift` and the given checks/*.yml text."""

    def make(checks_yml: str, extra: Mapping[str, str] | None = None) -> Path:
        return make_project({**BASE, "checks/checks.yml": checks_yml, **(extra or {})})

    return make


@pytest.fixture
def seed() -> Seed:
    return seed_evaluation


def hours_ago(n: float) -> datetime:
    return utcnow() - timedelta(hours=n)
