"""A WARNING check leading to a retrain through a scenario, and a skipped step telling why."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from tests.conftest import query_rows


def _rows(n: int, seed: int) -> str:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 2))
    return "x1,x2,y\n" + "".join(f"{a:.4f},{b:.4f},{int(a > 0)}\n" for a, b in x)


FILES = {
    "data/train.csv": _rows(300, 1),
    "data/recent.csv": _rows(300, 2),
    "models/m.yml": """
        datasets:
          - {name: train, files: data/train.csv}
          - {name: recent, files: data/recent.csv}
        models:
          - {name: clf, data: train, target: y, params: {max_iter: 20}}
        """,
    "checks/c.yml": """
        checks:
          # a soft rule: its finding is a WARNING, never an ERROR
          - {name: soft_rule, sql: select * from recent where x1 > 1, severity: warn}
        retrains:
          - {name: retrain, model: clf, when: [soft_rule], on: [ERROR, WARNING], data: recent}
        """,
    "monitors/s.yml": """
        scenarios:
          - name: on_warning
            steps:
              - {name: check, build: soft_rule}
              - {name: retrain, build: retrain, run_if: {outcome_in: [WARNING, FAILED]}, reset_failure_state: true}
          - name: on_failure_only
            steps:
              - {name: check, build: soft_rule}
              - {name: retrain, build: retrain, run_if: prior_failed}
        """,
}


def _steps(root: Path, scenario: str) -> list[tuple[str, str, str]]:
    return query_rows(root, "SELECT s.step, s.outcome, s.message FROM mlmon.scenario_steps s JOIN mlmon.scenario_runs r "
                            "USING (run_id) WHERE r.scenario = ? ORDER BY s.started_at", [scenario])


def _versions(root: Path) -> list[tuple[int, bool]]:
    return query_rows(root, "SELECT version, active FROM mlmon.model_versions ORDER BY version")


def test_a_warning_check_retrains_when_the_step_runs_on_warning(make_project, mlmon):
    root = make_project(FILES)
    assert mlmon("build", "-s", "clf", project=root).exit_code == 0

    result = mlmon("scenario", "run", "on_failure_only", project=root)
    assert result.exit_code == 0, result.output  # a WARNING run is not a failure
    ((_, check, _), (_, outcome, message)) = _steps(root, "on_failure_only")
    assert (check, outcome) == ("WARNING", "SKIPPED")
    assert message.startswith("skipped: run_if prior_failed, and no prior step failed — the run is WARNING")
    assert "skipped: run_if prior_failed, and no prior step failed — the run is WARNING" in result.output
    assert _versions(root) == [(1, True)]  # nothing retrained, and the run says why

    result = mlmon("scenario", "run", "on_warning", project=root)
    assert result.exit_code == 0, result.output
    assert [s[:2] for s in _steps(root, "on_warning")] == [("check", "WARNING"), ("retrain", "SUCCESS")]
    assert _versions(root) == [(1, False), (2, True)]
    assert "retrain success: fired → v2 promoted" in _steps(root, "on_warning")[1][2]
    assert query_rows(root, "SELECT outcome FROM mlmon.scenario_runs WHERE scenario = 'on_warning'")[0][0] == "SUCCESS"
