"""A realistic warehouse and manifest for the report pages.

Two stores (input drift without ground truth, performance with it) evaluated over four months,
checks in every status, scenario runs with steps, two model versions and node results: what a
few weeks of `mlmon build` and `mlmon scheduler` leave behind.
"""

from __future__ import annotations

import copy
import json
import os
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Iterator

import duckdb
import pytest

from mlmon.reports.browser import Browser, BrowserUnavailable, open_browser
from mlmon.warehouse.tables import create_statements

MONTHS = ["2017_01", "2017_02", "2017_03", "2017_04"]
DRIFT_STORE = "mes_for_input_drift"
PERF_STORE = "mes_for_ground_truth"
NUMERIC = ["purchase_amount", "card_age", "signature_provided"]
CATEGORICAL = ["merchant_category", "item_category"]
DATA_DRIFT = [0.512, 0.581, 0.643, 0.7364]  # crosses soft_max 0.6 then max 0.7
LATEST_AUC = 0.8714
T0 = datetime(2026, 7, 3, 6, 0, 0)


def _insert(con: duckdb.DuckDBPyConnection, table: str, rows: list[dict[str, Any]]) -> None:
    if not rows:
        return
    columns = list(rows[0])
    quoted = ", ".join(f'"{c}"' for c in columns)
    marks = ", ".join("?" for _ in columns)
    con.executemany(f"INSERT INTO mlmon.{table} ({quoted}) VALUES ({marks})", [[r[c] for c in columns] for r in rows])


def _metric(eid: str, store: str, metric: str, value: float, feature: str | None = None,
            lower: float | None = None, upper: float | None = None) -> dict[str, Any]:
    return {"evaluation_id": eid, "store": store, "metric": metric, "feature": feature,
            "value": value, "lower": lower, "upper": upper}


def _create_tables(path: Path) -> duckdb.DuckDBPyConnection:
    """A writable connection to a new warehouse file with the system tables.

    Attached under another name because a file called warehouse.duckdb opens as catalog "mlmon",
    which DuckDB finds ambiguous with schema "mlmon" in unqualified names.
    """
    con = duckdb.connect(":memory:")
    con.execute(f"ATTACH '{path}' AS warehouse")
    con.execute("USE warehouse")
    for statement in create_statements():
        con.execute(statement)
    return con


def build_warehouse(path: Path) -> None:
    """Fill a DuckDB file with the system tables of a few monthly builds."""
    con = _create_tables(path)
    evaluations: list[dict[str, Any]] = []
    metrics: list[dict[str, Any]] = []
    checks: list[dict[str, Any]] = []
    for i, month in enumerate(MONTHS):
        when = T0 + timedelta(days=30 * i)
        version = 1 if i < 2 else 2
        for store, has_truth in ((DRIFT_STORE, False), (PERF_STORE, True)):
            eid = f"{store}-{month}"
            evaluations.append({
                "evaluation_id": eid, "store": store, "model": "fraud_model", "model_version": version,
                "dataset": "test_scored", "reference": "training", "created_at": when + timedelta(minutes=1 if has_truth else 0),
                "invocation_id": f"inv-{i}", "n_rows": 48210 + 1000 * i, "n_evaluated": 10000,
                "has_ground_truth": has_truth, "labels": json.dumps({"month": month}),
                "reference_evaluation_id": None, "warnings": json.dumps([]),
            })
            metrics += [
                _metric(eid, store, "estimated_accuracy", 0.91 - 0.01 * i, lower=0.9 - 0.01 * i, upper=0.92 - 0.01 * i),
                _metric(eid, store, "estimated_f1", 0.94 - 0.01 * i, lower=0.93 - 0.01 * i, upper=0.95 - 0.01 * i),
                _metric(eid, store, "estimated_roc_auc", 0.88 - 0.005 * i, lower=0.86 - 0.005 * i, upper=0.9 - 0.005 * i),
            ]
            if has_truth:
                auc = [0.901, 0.893, 0.882, LATEST_AUC][i]
                perf = {"accuracy": 0.905 - 0.01 * i, "precision": 0.93 - 0.005 * i, "recall": 0.96 - 0.004 * i,
                        "f1": 0.944 - 0.006 * i, "roc_auc": auc, "log_loss": 0.24 + 0.02 * i,
                        "brier_score": 0.071 + 0.005 * i, "average_precision": 0.97 - 0.004 * i}
                metrics += [_metric(eid, store, k, v) for k, v in perf.items()]
                metrics += [_metric(eid, store, f"{k}_drift", v - 0.9) for k, v in perf.items() if k == "roc_auc"]
                checks.append({"check": "auc_above_threshold", "store": store, "evaluation_id": eid, "metric": "roc_auc",
                               "feature": None, "value": auc, "status": "OK" if auc >= 0.88 else "WARNING",
                               "message": f"roc_auc = {auc}", "checked_at": when + timedelta(minutes=5),
                               "invocation_id": f"inv-{i}"})
                continue
            drift = DATA_DRIFT[i]
            metrics += [
                _metric(eid, store, "data_drift", drift, lower=drift - 0.021, upper=drift + 0.019),
                _metric(eid, store, "data_drift_pvalue", 10 ** (-3 * i)),
                _metric(eid, store, "drifted_features_share", 0.2 * i),
                _metric(eid, store, "max_psi", 0.05 + 0.08 * i),
                _metric(eid, store, "prediction_psi", 0.01 + 0.03 * i),
                _metric(eid, store, "prediction_ks_pvalue", 0.4 / (1 + 5 * i)),
                _metric(eid, store, "prediction_chi2_pvalue", 0.5 / (1 + 5 * i)),
            ]
            for cls, ref_share in (("0", 0.094), ("1", 0.906)):
                shift = 0.02 * i if cls == "0" else -0.02 * i
                metrics += [_metric(eid, store, "predicted_class_share", ref_share + shift, feature=cls),
                            _metric(eid, store, "predicted_class_share_reference", ref_share, feature=cls)]
            for j, feat in enumerate(NUMERIC + CATEGORICAL):
                psi = round(0.02 + 0.06 * i * (j + 1) / 3, 4)
                p = 0.5 / (1 + i * j)
                metrics += [
                    _metric(eid, store, "psi", psi, feature=feat),
                    _metric(eid, store, "ks_pvalue" if feat in NUMERIC else "chi2_pvalue", p, feature=feat),
                    _metric(eid, store, "missing_share", 0.01 * j, feature=feat),
                    _metric(eid, store, "drifted", float(psi > 0.2 or p <= 0.05), feature=feat),
                    _metric(eid, store, "drift_importance", [0.41, 0.22, 0.07, 0.2, 0.1][j], feature=feat),
                    _metric(eid, store, "model_importance", [0.35, 0.3, 0.15, 0.12, 0.08][j], feature=feat),
                ]
                if feat in NUMERIC:
                    metrics += [_metric(eid, store, "wasserstein", 1.5 * i * (j + 1), feature=feat),
                                _metric(eid, store, "ks_statistic", 0.02 * i * (j + 1), feature=feat)]
                gone = feat == "card_age" and i == 3  # the last month's export lost a column
                metrics += [_metric(eid, store, "missing_share_reference", 0.01 * j, feature=feat),
                            _metric(eid, store, "feature_missing", float(gone), feature=feat),
                            _metric(eid, store, "type_changed", 0.0, feature=feat)]
                metrics += [_metric(eid, store, "out_of_range_share" if feat in NUMERIC else "new_category_share",
                                    0.005 * i * j, feature=feat)]
            status = "OK" if drift <= 0.6 else ("WARNING" if drift <= 0.7 else "ERROR")
            checks.append({"check": "data_drift_in_range", "store": store, "evaluation_id": eid, "metric": "data_drift",
                           "feature": None, "value": drift, "status": status, "message": f"data_drift = {drift}",
                           "checked_at": when + timedelta(minutes=5), "invocation_id": f"inv-{i}"})
            psi = round(0.02 + 0.06 * i / 3, 4)
            checks.append({"check": "psi_purchase_amount", "store": store, "evaluation_id": eid, "metric": "psi",
                           "feature": "purchase_amount", "value": psi, "status": "OK" if psi <= 0.05 else "WARNING",
                           "message": f"psi = {psi}", "checked_at": when + timedelta(minutes=5), "invocation_id": f"inv-{i}"})
            checks.append({"check": "precision_recorded", "store": store, "evaluation_id": eid, "metric": "precision",
                           "feature": None, "value": None, "status": "EMPTY", "message": "metric precision is absent",
                           "checked_at": when + timedelta(minutes=5), "invocation_id": f"inv-{i}"})
    _insert(con, "evaluations", evaluations)
    _insert(con, "metrics", metrics)
    _insert(con, "check_results", checks)
    _insert(con, "model_versions", [
        {"model": "fraud_model", "version": v, "trained_at": T0 - timedelta(days=40 - 60 * (v - 1)),
         "training_dataset": "transactions_train", "n_train": 160000 + 20000 * v, "n_test": 40000 + 5000 * v,
         "active": v == 2, "artifact_path": f"target/artifacts/fraud_model/v{v}.skops", "sha256": f"{v}f3a9c0d4e5b6a7980112233445566778899aabbccddeeff0011223344556677",
         "metrics": json.dumps({"accuracy": 0.91 + 0.005 * v, "precision": 0.935, "recall": 0.962, "f1": 0.948,
                                "roc_auc": 0.9 + 0.004 * v, "log_loss": 0.231, "brier_score": 0.068, "average_precision": 0.975}),
         "task": "binary", "target": "authorized_flag", "features": json.dumps(NUMERIC + CATEGORICAL),
         "classes": json.dumps([0, 1]), "estimator": "sklearn.ensemble.HistGradientBoostingClassifier", "invocation_id": f"inv-v{v}"}
        for v in (1, 2)
    ])
    runs, steps = [], []
    for k, outcome in enumerate(["SUCCESS", "WARNING", "FAILED", "SUCCESS", "ABORTED"]):
        start = T0 + timedelta(days=60 + 7 * k, hours=k % 3)
        run_id = f"run-{k}"
        runs.append({"run_id": run_id, "scenario": "retrain_model", "trigger": "weekly" if k % 2 == 0 else "new_data",
                     "started_at": start, "ended_at": start + timedelta(seconds=40 + 25 * k), "outcome": outcome,
                     "trigger_params": json.dumps({}), "message": None})
        step_outcomes = {"SUCCESS": ["SUCCESS", "SUCCESS", "SUCCESS"], "WARNING": ["SUCCESS", "WARNING", "SUCCESS"],
                         "FAILED": ["SUCCESS", "FAILED", "FAILED"], "ABORTED": ["SUCCESS", "ABORTED", "ABORTED"]}[outcome]
        for s, (step, kind) in enumerate([("build_mes", "build"), ("run_mes_checks", "run_checks"), ("build_model", "train")]):
            steps.append({"run_id": run_id, "step": step, "kind": kind, "outcome": step_outcomes[s],
                          "started_at": start + timedelta(seconds=15 * s), "ended_at": start + timedelta(seconds=15 * s + 12),
                          "message": "data_drift_in_range: ERROR" if step_outcomes[s] == "FAILED" else None})
    _insert(con, "scenario_runs", runs)
    _insert(con, "scenario_steps", steps)
    results = []
    for inv, status_of in (("inv-2", {}), ("inv-3", {"data_drift_in_range": "fail", "fraud_model": "reused", "psi_purchase_amount": "warn"})):
        for n, (node, kind) in enumerate(NODE_KINDS.items()):
            if kind in ("scenario", "dashboard"):
                continue
            started = T0 + timedelta(days=60 if inv == "inv-2" else 90, seconds=n)
            results.append({"invocation_id": inv, "node": node, "kind": kind, "status": status_of.get(node, "success"),
                            "started_at": started, "ended_at": started + timedelta(seconds=1),
                            "message": f"{node} finished", "rows": 100 * n, "target": "duckdb"})
    _insert(con, "node_results", results)
    con.close()


NODE_KINDS = {
    "transactions_history": "dataset", "transactions_train": "dataset", "new_transactions": "dataset",
    "fraud_model": "model", "test_scored": "score", DRIFT_STORE: "evaluation", PERF_STORE: "evaluation",
    "data_drift_in_range": "check", "psi_purchase_amount": "check", "auc_above_threshold": "check",
    "precision_recorded": "check", "retrain_on_drift": "retrain", "retrain_model": "scenario",
    "model_monitoring": "dashboard",
}

TILES: list[dict[str, Any]] = [
    {"type": "metric", "store": DRIFT_STORE, "metric": "data_drift", "title": "Data drift"},
    {"type": "metric", "store": PERF_STORE, "metric": "roc_auc", "title": "ROC AUC"},
    {"type": "metric", "store": DRIFT_STORE, "metric": "psi", "feature": "purchase_amount", "title": "PSI purchase_amount"},
    {"type": "metric", "store": DRIFT_STORE, "metric": "max_psi", "title": "Max PSI"},
    {"type": "metric_history", "store": DRIFT_STORE, "metric": "data_drift", "title": "Data drift over time"},
    {"type": "metric_history", "store": PERF_STORE, "metric": "roc_auc", "x": "month", "title": "AUC by month"},
    {"type": "scenario_runs", "scenario": "retrain_model", "title": "Retrain runs"},
    {"type": "feature_drift", "store": DRIFT_STORE, "title": "Feature drift"},
    {"type": "data_quality", "store": DRIFT_STORE, "title": "Data quality"},
    {"type": "prediction_drift", "store": DRIFT_STORE, "title": "Prediction drift"},
    {"type": "performance", "store": PERF_STORE, "title": "Performance vs reference"},
    {"type": "model_versions", "model": "fraud_model", "title": "Model versions"},
]
CHART_TILES = 6  # metric_history x2, scenario_runs, feature_drift, prediction_drift, performance


def _node(name: str, type_: str, config: dict[str, Any], deps: list[dict[str, Any]] = (), *, zone: str | None = None,
          sql: str | None = None, materialized: str | None = None, path: str = "monitors/stores.yml",
          line: int = 1, description: str | None = None, tags: list[str] = ()) -> dict[str, Any]:
    return {"name": name, "type": type_, "path": path, "line": line, "zone": zone, "tags": list(tags),
            "description": description, "config": config, "depends_on": list(deps), "sql": sql,
            "materialized": materialized}


def _dep(name: str, via: str, inferred: bool = False) -> dict[str, Any]:
    return {"name": name, "inferred": inferred, "via": via}


def make_manifest() -> dict[str, Any]:
    check_cfg = {
        "data_drift_in_range": {"store": DRIFT_STORE, "metric": "data_drift", "feature": None, "min": None,
                                "soft_min": None, "soft_max": 0.6, "max": 0.7},
        "psi_purchase_amount": {"store": DRIFT_STORE, "metric": "psi", "feature": "purchase_amount", "min": None,
                                "soft_min": None, "soft_max": 0.05, "max": 0.25},
        "auc_above_threshold": {"store": PERF_STORE, "metric": "roc_auc", "feature": None, "min": 0.8,
                                "soft_min": 0.88, "soft_max": None, "max": None},
        "precision_recorded": {"store": DRIFT_STORE, "metric": "precision", "feature": None, "min": 0.5,
                               "soft_min": None, "soft_max": None, "max": None},
    }
    nodes = [
        _node("transactions_history", "dataset", {"files": "data/transactions_history.csv", "format": "csv"},
              zone="model_training", path="models/sources.yml", line=2),
        _node("transactions_train", "dataset", {}, [_dep("transactions_history", "sql", inferred=True)],
              zone="model_training", path="models/transactions_train.sql",
              sql="SELECT *\nFROM transactions_history\nWHERE authorized_flag IS NOT NULL AND purchase_amount < 5000",
              materialized="table", description="Labelled transactions used to train the fraud model."),
        _node("new_transactions", "dataset", {"files": "data/transactions_prepared_2017_04.csv", "format": "csv"},
              zone="model_scoring", path="models/sources.yml", line=6),
        _node("fraud_model", "model", {"data": "transactions_train", "target": "authorized_flag",
                                       "exclude": ["transaction_id", "card_id"], "test_size": 0.2, "seed": 0,
                                       "estimator": "sklearn.ensemble.HistGradientBoostingClassifier",
                                       "params": {"max_iter": 200}},
              [_dep("transactions_train", "data")], zone="model_training", path="models/models.yml", line=1),
        _node("test_scored", "score", {"model": "fraud_model", "data": "new_transactions", "threshold": 0.5},
              [_dep("fraud_model", "model"), _dep("new_transactions", "data")], zone="model_scoring", line=1),
        _node(DRIFT_STORE, "evaluation", {"model": "fraud_model", "data": "test_scored", "skip_performance": True,
                                          "labels": {"month": "2017_04"}, "reference": "training"},
              [_dep("fraud_model", "model"), _dep("test_scored", "data")], zone="input_drift_monitoring", line=8),
        _node(PERF_STORE, "evaluation", {"model": "fraud_model", "data": "test_scored", "skip_performance": False,
                                         "labels": {"month": "2017_04"}, "reference": "training"},
              [_dep("fraud_model", "model"), _dep("test_scored", "data")], zone="model_scoring", line=16),
        *[_node(name, "check", cfg, [_dep(cfg["store"], "store")], zone="input_drift_monitoring",
                path="checks/checks.yml", line=3 + 6 * k) for k, (name, cfg) in enumerate(check_cfg.items())],
        _node("retrain_on_drift", "retrain", {"model": "fraud_model", "when": ["data_drift_in_range"], "on": ["ERROR"]},
              [_dep("fraud_model", "model"), _dep("data_drift_in_range", "when")], path="checks/retrain.yml"),
        _node("retrain_model", "scenario", {"triggers": [{"name": "weekly", "cron": "0 6 * * 1"}],
                                            "steps": [{"name": "build_mes", "build": DRIFT_STORE},
                                                      {"name": "run_mes_checks", "run_checks": DRIFT_STORE},
                                                      {"name": "build_model", "train": "fraud_model", "run_if": "prior_failed"}]},
              [_dep(DRIFT_STORE, "steps"), _dep("fraud_model", "steps")], path="monitors/scenarios.yml"),
        _node("model_monitoring", "dashboard", {"tiles": copy.deepcopy(TILES)},
              [_dep(DRIFT_STORE, "tiles"), _dep(PERF_STORE, "tiles"), _dep("retrain_model", "tiles")],
              path="monitors/dashboards.yml", description="What the fraud team looks at every Monday."),
    ]
    zones: dict[str, list[str]] = {}
    for n in nodes:
        if n["zone"]:
            zones.setdefault(n["zone"], []).append(n["name"])
    return {
        "metadata": {"project_name": "fraud_monitoring", "mlmon_version": "0.1.0",
                     "generated_at": "2026-11-27T15:00:00+00:00", "vars": {"month": "2017_04"}},
        "nodes": {n["name"]: n for n in nodes},
        "zones": zones,
    }


@pytest.fixture(scope="session")
def warehouse_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("warehouse") / "warehouse.duckdb"
    build_warehouse(path)
    return path


@pytest.fixture(scope="session")
def empty_warehouse_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("empty") / "warehouse.duckdb"
    _create_tables(path).close()
    return path


@pytest.fixture
def con(warehouse_file: Path) -> Iterator[duckdb.DuckDBPyConnection]:
    connection = duckdb.connect(str(warehouse_file), read_only=True)
    yield connection
    connection.close()


@pytest.fixture
def empty_con(empty_warehouse_file: Path) -> Iterator[duckdb.DuckDBPyConnection]:
    connection = duckdb.connect(str(empty_warehouse_file), read_only=True)
    yield connection
    connection.close()


@pytest.fixture
def bare_con() -> Iterator[duckdb.DuckDBPyConnection]:
    """A warehouse that was never built: no mlmon schema at all."""
    connection = duckdb.connect(":memory:")
    yield connection
    connection.close()


@pytest.fixture
def manifest() -> dict[str, Any]:
    return make_manifest()


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    """Headless Chromium; missing Chromium fails under CI (it must be installed there) and skips elsewhere."""
    try:
        with open_browser() as b:
            yield b
    except BrowserUnavailable as exc:
        reason = f"headless Chromium unavailable: {exc}"
        if os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no"):
            pytest.fail(reason)
        pytest.skip(reason)
