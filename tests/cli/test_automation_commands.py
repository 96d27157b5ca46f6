"""scenario run|list|history and scheduler through click's CliRunner: output and exit codes."""

from __future__ import annotations

import json

import pytest

from mlmon.automation.locks import scenario_lock

FILES = {
    "data/tx.csv": "id,amount\n1,10\n2,-5\n",
    "models/src.yml": "datasets:\n  - {name: tx, files: data/tx.csv}\n",
    "checks/c.yml": """
        checks:
          - {name: no_negative, sql: select * from tx where amount < 0}
          - {name: soft_negative, sql: select * from tx where amount < 0, severity: warn}
        """,
    "monitors/s.yml": """
        scenarios:
          - name: good
            triggers:
              - {name: weekly, cron: "0 6 * * 1", timezone: Europe/Paris}
              - {name: new_data, dataset_changed: tx}
            steps: [{name: ok, sql: select 1}]
          - name: warned
            triggers: [{name: hourly, every: 1h}]
            steps: [{name: soft, run_checks: soft_negative}]
          - name: failed
            steps: [{name: hard, run_checks: no_negative}]
        """,
}


@pytest.fixture
def project(make_project):
    return make_project(FILES)


@pytest.mark.parametrize(("scenario", "code", "outcome"), [("good", 0, "SUCCESS"), ("warned", 0, "WARNING"),
                                                           ("failed", 1, "FAILED")])
def test_run_exit_codes(project, mlmon, scenario, code, outcome):
    result = mlmon("scenario", "run", scenario, project=project)
    assert result.exit_code == code, result.output
    assert f"scenario {scenario} run " in result.stderr and f": {outcome} in " in result.stderr


def test_run_refuses_unknown_names_and_other_nodes(project, mlmon):
    result = mlmon("scenario", "run", "godo", project=project)
    assert result.exit_code == 2 and "no scenario named 'godo' — did you mean 'good'?" in result.output
    result = mlmon("scenario", "run", "tx", project=project)
    assert result.exit_code == 2 and "'tx' is a dataset, not a scenario" in result.output
    assert mlmon("scenario", "history", "nope", project=project).exit_code == 2


def test_run_refuses_a_scenario_that_is_already_running(project, mlmon):
    with scenario_lock(project / "target" / "locks", "good"):
        result = mlmon("scenario", "run", "good", project=project)
    assert result.exit_code == 2
    assert "scenario 'good' is already running" in result.output
    assert not (project / "target" / "warehouse.duckdb").exists(), "a busy scenario touches nothing"


def test_list_shows_triggers_and_last_outcome(project, mlmon):
    result = mlmon("scenario", "list", project=project)  # no warehouse yet
    assert result.exit_code == 0, result.output
    assert "weekly (cron 0 6 * * 1 Europe/Paris), new_data (dataset_changed tx)" in result.output
    assert "(manual only)" in result.output
    assert mlmon("scenario", "run", "failed", project=project).exit_code == 1
    assert mlmon("scenario", "run", "good", project=project).exit_code == 0
    assert mlmon("scenario", "run", "good", project=project).exit_code == 0
    rows = {r["scenario"]: r for r in json.loads(mlmon("scenario", "list", "-o", "json", project=project).output)}
    assert list(rows) == ["failed", "good", "warned"]
    assert rows["good"]["triggers"] == ["weekly (cron 0 6 * * 1 Europe/Paris)", "new_data (dataset_changed tx)"]
    assert (rows["good"]["last_outcome"], rows["good"]["last_trigger"], rows["good"]["steps"]) == ("SUCCESS", "manual", 1)
    assert rows["failed"]["last_outcome"] == "FAILED" and rows["warned"]["last_outcome"] is None
    assert rows["good"]["location"] == "monitors/s.yml:3"


def test_history_newest_first_with_steps(project, mlmon):
    result = mlmon("scenario", "history", "failed", project=project)
    assert result.exit_code == 0 and "Scenario failed has not run yet." in result.output
    for _ in range(3):
        mlmon("scenario", "run", "failed", project=project)
    mlmon("scenario", "run", "failed", "--vars", "{month: '02'}", project=project)
    result = mlmon("scenario", "history", "failed", "--limit", "2", "--output", "json", project=project)
    assert result.exit_code == 0, result.output
    runs = json.loads(result.output)
    assert len(runs) == 2 and runs[0]["started_at"] > runs[1]["started_at"]
    assert runs[0]["trigger_params"] == {"vars": {"month": "02"}} and runs[1]["trigger_params"] is None
    assert runs[0]["outcome"] == "FAILED" and runs[0]["trigger"] == "manual"
    assert [(s["step"], s["kind"], s["outcome"]) for s in runs[0]["steps"]] == [("hard", "run_checks", "FAILED")]
    assert runs[0]["steps"][0]["message"].startswith("1 fail — no_negative fail: ERROR: 1 failing row")
    table = mlmon("scenario", "history", "failed", project=project)
    assert table.exit_code == 0 and "failed: last 4 runs" in table.output and "hard FAILED" in table.output


def test_scheduler_once(project, mlmon):
    result = mlmon("scheduler", "--once", project=project)
    assert result.exit_code == 0, result.output
    assert "Checked 2 scenario(s): 0 ran" in result.output  # `failed` has no trigger
    result = mlmon("scheduler", "--once", "--interval", "0", project=project)
    assert result.exit_code == 2 and "--interval" in result.output
