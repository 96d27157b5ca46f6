"""A scenario's retrain never decides on a check result left by an earlier run.

The month's scoring fails (its file lost a feature), so the check that would judge it does
not run; the retrain step still runs on a FAILED run (`outcome_in: [WARNING, FAILED]`), but
the only result of its check in the warehouse is last month's WARNING. The step is skipped,
naming the node that failed and the step it failed in, and no version is trained.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from mlmon.automation.failed_nodes import FailedNodes
from mlmon.graph.dag import DAG
from tests.conftest import query_rows


def _rows(n: int, seed: int, columns: tuple[str, ...] = ("x1", "x2", "y")) -> str:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 2))
    values = {"x1": x[:, 0], "x2": x[:, 1], "y": (x[:, 0] + 0.5 * rng.normal(size=n) > 0).astype(int)}
    return ",".join(columns) + "\n" + "".join(",".join(f"{values[c][i]:.4f}" if c != "y" else str(values[c][i])
                                                       for c in columns) + "\n" for i in range(n))


FILES = {
    "data/train.csv": _rows(400, 1),
    "data/current_01.csv": _rows(300, 2),
    "data/current_02.csv": _rows(300, 3, ("x1", "y")),  # the export lost x2: scoring fails
    "models/m.yml": """
        datasets:
          - {name: train, files: data/train.csv}
          - {name: current, files: "data/current_{{ var('month') }}.csv"}
          - {name: recent, files: data/current_01.csv}
        models:
          - {name: clf, data: train, target: y, params: {max_iter: 50}}
        scores:
          - {name: scored, model: clf, data: current}
        """,
    "monitors/e.yml": """
        evaluations:
          - {name: ev, model: clf, data: scored, labels: {month: "{{ var('month') }}"}}
        scenarios:
          - name: monthly
            steps:
              - {name: evaluate_month, build: "scored ev"}
              - {name: check_auc, run_checks: ev}
              - {name: retrain, build: retrain_on_auc_drop, run_if: {outcome_in: [WARNING, FAILED]},
                 reset_failure_state: true}
        """,
    "checks/c.yml": """
        checks:
          # no model reaches this AUC: every month the check is a WARNING, so the retrain fires
          - {name: auc_in_range, store: ev, metric: roc_auc, soft_min: 0.999}
        retrains:
          - {name: retrain_on_auc_drop, model: clf, when: [auc_in_range], on: [ERROR, WARNING], data: recent}
        """,
}


def _steps(root: Path, run_id: str) -> list[tuple[str, str, str]]:
    return query_rows(root, "SELECT step, outcome, message FROM mlmon.scenario_steps WHERE run_id = ? "
                            "ORDER BY started_at, ended_at", [run_id])


def _last_run(root: Path) -> tuple[str, str]:
    return query_rows(root, "SELECT run_id, outcome FROM mlmon.scenario_runs ORDER BY started_at DESC LIMIT 1")[0]


def _versions(root: Path) -> int:
    return query_rows(root, "SELECT count(*) FROM mlmon.model_versions WHERE model = 'clf'")[0][0]


def test_a_failed_evaluation_stops_the_retrain_that_would_read_last_months_check(make_project, mlmon):
    root = make_project(FILES)
    assert mlmon("build", "-s", "clf", project=root).exit_code == 0

    result = mlmon("scenario", "run", "monthly", "--vars", "{month: '01'}", project=root)
    assert result.exit_code == 0, result.output
    run_id, outcome = _last_run(root)
    assert outcome == "SUCCESS"  # the WARNING was handled by the retrain, which reset the run
    assert [s[:2] for s in _steps(root, run_id)] == [("evaluate_month", "SUCCESS"), ("check_auc", "WARNING"),
                                                     ("retrain", "SUCCESS")]
    assert "fired" in _steps(root, run_id)[2][2] and _versions(root) == 2

    result = mlmon("scenario", "run", "monthly", "--vars", "{month: '02'}", project=root)
    assert result.exit_code == 1, result.output
    run_id, outcome = _last_run(root)
    steps = _steps(root, run_id)
    assert outcome == "FAILED"  # the skipped retrain resets nothing: the run says scoring failed
    assert [s[:2] for s in steps] == [("evaluate_month", "FAILED"), ("check_auc", "SKIPPED"), ("retrain", "SKIPPED")]
    message = steps[2][2]
    assert message == ("skipped: retrain_on_auc_drop depends on scored, which failed in step evaluate_month "
                       "(error): it would act on results of an earlier run")
    assert message in result.output
    assert _versions(root) == 2  # nothing trained on the stale WARNING
    # the stale result is really there: without the rule the retrain would have fired on it
    assert query_rows(root, "SELECT status FROM mlmon.check_results WHERE \"check\" = 'auc_in_range' "
                            "ORDER BY checked_at DESC LIMIT 1") == [("WARNING",)]


@dataclass(frozen=True)
class _Result:
    node: str
    status: str


def _chain() -> DAG[str]:
    return DAG({"data": [], "scored": ["data"], "store": ["scored"], "check": ["store"], "retrain": ["check"]})


def test_only_nodes_that_were_not_produced_stop_their_descendants():
    failed = FailedNodes()
    failed.record("checks", [_Result("check", "fail")])  # a check ERROR is a result: the retrain it fires runs
    assert failed.blocking(["retrain"], _chain()) is None
    failed.record("evaluate", [_Result("scored", "error"), _Result("store", "skipped")])
    assert failed.blocking(["retrain"], _chain()) == (
        "skipped: retrain depends on scored, which failed in step evaluate (error): it would act on results of an earlier run")
    assert failed.blocking(["data"], _chain()) is None  # upstream of the failure
    assert failed.blocking(["scored", "store", "check"], _chain()) is None  # rebuilt by the step itself
    failed.record("again", [_Result("scored", "success"), _Result("store", "success")])
    assert failed.blocking(["retrain"], _chain()) is None


def test_the_root_error_is_named_before_the_nodes_skipped_for_it_whatever_their_names():
    dag = DAG({"z_scored": [], "a_store": ["z_scored"], "check": ["a_store"]})
    failed = FailedNodes()
    failed.record("evaluate", [_Result("a_store", "skipped"), _Result("z_scored", "error")])
    assert failed.by_node == {"a_store": ("evaluate", "skipped"), "z_scored": ("evaluate", "error")}
    assert failed.blocking(["check"], dag) == (
        "skipped: check depends on z_scored, which failed in step evaluate (error): it would act on results of an "
        "earlier run")


def test_among_failures_of_one_kind_the_first_name_is_named_and_the_first_blocked_planned_node():
    dag = DAG({"b": [], "a": [], "x": ["a", "b"], "y": ["a"], "free": []})
    failed = FailedNodes()
    failed.record("s1", [_Result("b", "skipped"), _Result("a", "skipped")])
    assert failed.blocking(["free", "y", "x"], dag) == (
        "skipped: y depends on a, which failed in step s1 (skipped): it would act on results of an earlier run")
    assert failed.blocking(["x", "y"], dag).startswith("skipped: x depends on a, ")
    assert failed.blocking(["free"], dag) is None
    assert failed.blocking([], dag) is None


def test_the_latest_step_of_a_failure_is_named():
    failed = FailedNodes()
    failed.record("first", [_Result("scored", "error")])
    failed.record("second", [_Result("data", "success"), _Result("scored", "skipped")])
    assert failed.by_node == {"scored": ("second", "skipped")}
    assert failed.blocking(["check"], _chain()) == (
        "skipped: check depends on scored, which failed in step second (skipped): it would act on results of an "
        "earlier run")


def test_nothing_failed_blocks_nothing():
    failed = FailedNodes()
    failed.record("ok", [_Result("data", "success"), _Result("scored", "fail"), _Result("store", "warn")])
    assert failed.by_node == {}
    assert failed.blocking(["retrain"], _chain()) is None
