"""Scenario runs through the real CLI: step conditions, outcomes, records, reporters, secrets."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from mlmon.automation.scenario_runner import RUNNING, run_scenario
from mlmon.config import RunConfig
from mlmon.project.compiler import compile_project
from mlmon.warehouse.duckdb import Warehouse
from tests.automation.test_reporters import Server, serve
from tests.conftest import query_rows

FILES = {
    "data/tx_01.csv": "id,amount\n1,10\n2,-5\n",
    "data/tx_02.csv": "id,amount\n3,7\n4,8\n",
    "models/src.yml": """
        datasets:
          - {name: tx, files: "data/tx_{{ var('month') }}.csv"}
        """,
    "models/totals.sql": "select count(*) as n, sum(amount) as total from tx\n",
    "checks/c.yml": """
        checks:
          - {name: no_negative, sql: select * from tx where amount < 0, tags: [dq]}
          - {name: soft_rule, sql: select * from tx where amount > 9, severity: warn, tags: [soft]}
        """,
}
SECRET = "s3cr3t-T0KEN-4f9a"


@pytest.fixture(autouse=True)
def no_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("http_proxy", "https_proxy", "all_proxy", "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")


def make(make_project, scenarios: str, extra: dict[str, str] | None = None) -> Path:
    return make_project({**FILES, "monitors/scenarios.yml": scenarios, **(extra or {})})




def steps(root: Path, scenario: str) -> list[tuple[str, str]]:
    return query_rows(root, "SELECT s.step, s.outcome FROM mlmon.scenario_steps s JOIN mlmon.scenario_runs r USING (run_id) "
                       "WHERE r.scenario = ? ORDER BY s.started_at, s.ended_at", [scenario])


def runs(root: Path, scenario: str | None = None) -> list[tuple]:
    where = "WHERE scenario = ?" if scenario else ""
    return query_rows(root, f"SELECT run_id, scenario, \"trigger\", outcome, trigger_params, message, ended_at IS NOT NULL "
                       f"FROM mlmon.scenario_runs {where} ORDER BY started_at", [scenario] if scenario else [])


CONDITIONS = """
scenarios:
  - name: conditions
    steps:
      - {name: ok, sql: "create table log (step varchar)"}
      - {name: broken, sql: "select * from no_such_table"}
      - {name: default_skipped, sql: "insert into log values ('default_skipped')"}
      - {name: on_failure, sql: "insert into log values ('on_failure')", run_if: prior_failed}
      - {name: always, sql: "insert into log values ('always')", run_if: always}
      - {name: never, sql: "insert into log values ('never')", run_if: never}
      - {name: in_failed, sql: "insert into log values ('in_failed')", run_if: {outcome_in: [FAILED]}}
      - {name: in_ok, sql: "insert into log values ('in_ok')", run_if: {outcome_in: [SUCCESS, WARNING]}}
      - {name: recover, sql: "insert into log values ('recover')", run_if: prior_failed, reset_failure_state: true}
      - {name: after_reset, sql: "insert into log values ('after_reset')"}
      - {name: failed_after_reset, sql: "insert into log values ('failed_after_reset')", run_if: prior_failed}
  - name: no_reset_when_skipped
    steps:
      - {name: broken, sql: "select * from no_such_table"}
      - {name: skipped_reset, sql: "select 1", run_if: never, reset_failure_state: true}
"""


def test_every_run_if_condition_and_reset_failure_state(make_project, mlmon):
    root = make(make_project, CONDITIONS)
    result = mlmon("scenario", "run", "conditions", project=root)
    assert result.exit_code == 0, result.output
    assert steps(root, "conditions") == [
        ("ok", "SUCCESS"), ("broken", "FAILED"), ("default_skipped", "SKIPPED"), ("on_failure", "SUCCESS"),
        ("always", "SUCCESS"), ("never", "SKIPPED"), ("in_failed", "SUCCESS"), ("in_ok", "SKIPPED"),
        ("recover", "SUCCESS"), ("after_reset", "SUCCESS"), ("failed_after_reset", "SKIPPED")]
    assert [r[0] for r in query_rows(root, "SELECT step FROM main.log")] == [
        "on_failure", "always", "in_failed", "recover", "after_reset"]
    ((_, _, trigger, outcome, params, _, ended),) = runs(root, "conditions")
    assert (trigger, outcome, params, ended) == ("manual", "SUCCESS", None, True)
    (message,) = query_rows(root, "SELECT message FROM mlmon.scenario_steps WHERE step = 'default_skipped'")[0]
    assert message == "skipped: run_if no_prior_failed, and a prior step failed — the run is FAILED"
    (message,) = query_rows(root, "SELECT message FROM mlmon.scenario_steps WHERE step = 'broken' AND outcome = 'FAILED' LIMIT 1")[0]
    assert "no_such_table" in message

    result = mlmon("scenario", "run", "no_reset_when_skipped", project=root)
    assert result.exit_code == 1
    assert runs(root, "no_reset_when_skipped")[0][3] == "FAILED"


def test_run_checks_outcomes_follow_check_statuses(make_project, mlmon):
    root = make(make_project, """
        scenarios:
          - name: hard
            steps: [{name: dq, run_checks: "tag:dq"}]
          - name: soft
            steps: [{name: dq, run_checks: "tag:soft"}]
          - name: all_checks
            steps: [{name: dq, run_checks: "type:check"}]
        """)
    assert mlmon("scenario", "run", "soft", project=root).exit_code == 0
    assert mlmon("scenario", "run", "hard", project=root).exit_code == 1
    assert mlmon("scenario", "run", "all_checks", project=root).exit_code == 1
    assert [(r[1], r[3]) for r in runs(root)] == [("soft", "WARNING"), ("hard", "FAILED"), ("all_checks", "FAILED")]
    messages = dict(query_rows(root, "SELECT r.scenario, s.message FROM mlmon.scenario_steps s JOIN mlmon.scenario_runs r USING (run_id)"))
    assert messages["hard"] == "1 fail — no_negative fail: ERROR: 1 failing row: (id=2, amount=-5)"
    assert messages["all_checks"].startswith("1 fail, 1 warn")
    assert query_rows(root, 'SELECT "check", count(*) FROM mlmon.check_results GROUP BY 1 ORDER BY 1') == [
        ("no_negative", 2), ("soft_rule", 2)]


def test_build_steps_follow_set_vars_and_later_steps_render_with_them(make_project, mlmon):
    root = make(make_project, """
        scenarios:
          - name: months
            steps:
              - {name: first, build: "+totals"}
              - {name: keep_first, sql: "create table first_month as select '{{ var('month') }}' as month, * from totals"}
              - {name: next_month, set_vars: {month: "02"}}
              - {name: second, build: "+totals"}
              - {name: keep_second, sql: "create table second_month as select '{{ var('month') }}' as month, * from totals"}
        """)
    result = mlmon("scenario", "run", "months", "--vars", "{month: '01'}", project=root)
    assert result.exit_code == 0, result.output
    assert query_rows(root, "SELECT * FROM main.first_month") == [("01", 2, 5)]
    assert query_rows(root, "SELECT * FROM main.second_month") == [("02", 2, 15)]
    assert json.loads(runs(root)[0][4]) == {"vars": {"month": "01"}}
    (message,) = query_rows(root, "SELECT message FROM mlmon.scenario_steps WHERE step = 'next_month'")[0]
    assert message == "vars now month=02"
    (message,) = query_rows(root, "SELECT message FROM mlmon.scenario_steps WHERE step = 'second'")[0]
    assert message == "2 success — tx success: 1 file, read at use time; totals success: table"


def test_run_scenario_records_both_runs(make_project, mlmon):
    root = make(make_project, """
        scenarios:
          - name: parent
            steps:
              - {name: call_ok, run_scenario: child_ok}
              - {name: call_bad, run_scenario: child_bad}
              - {name: after, sql: "select 1", run_if: always}
          - name: child_ok
            steps: [{name: build_it, build: "+totals"}]
          - name: child_bad
            steps: [{name: broken, sql: "select * from nowhere"}]
        """)
    assert mlmon("scenario", "run", "parent", project=root).exit_code == 1
    by_name = {r[1]: r for r in runs(root)}
    assert {n: r[3] for n, r in by_name.items()} == {"parent": "FAILED", "child_ok": "SUCCESS", "child_bad": "FAILED"}
    parent_id = by_name["parent"][0]
    for child, step in (("child_ok", "call_ok"), ("child_bad", "call_bad")):
        assert by_name[child][2] == "run_scenario"
        assert json.loads(by_name[child][4]) == {"parent_scenario": "parent", "parent_run_id": parent_id, "parent_step": step}
    assert steps(root, "parent") == [("call_ok", "SUCCESS"), ("call_bad", "FAILED"), ("after", "SUCCESS")]


def test_train_steps_train_a_new_version(make_project, mlmon):
    root = make(make_project, """
        models:
          - {name: clf, data: tx, target: amount, estimator: sklearn.linear_model.LinearRegression, exclude: []}
        scenarios:
          - name: retrain
            steps: [{name: train_it, train: clf}]
        """, {"data/tx_01.csv": "id,amount\n" + "".join(f"{i},{2 * i}\n" for i in range(20))})
    for _ in range(2):
        assert mlmon("scenario", "run", "retrain", project=root).exit_code == 0
    assert query_rows(root, "SELECT version, active FROM mlmon.model_versions ORDER BY version") == [(1, False), (2, True)]
    (message,) = query_rows(root, "SELECT message FROM mlmon.scenario_steps ORDER BY started_at DESC LIMIT 1")[0]
    assert message.startswith("1 success — clf success: trained version 2")


def test_scenario_errors_are_reported_at_compile_time_with_their_lines(make_project, mlmon):
    root = make(make_project, """
        scenarios:
          - name: broken
            triggers:
              - {name: weekly, cron: "0 6 * *"}
              - {name: data, dataset_changed: totals}
            steps:
              - {name: a, build: totlas}
              - {name: b, train: tx}
              - {name: c, run_checks: totals}
              - {name: d, sql: "select 1", run_if: sometimes}
              - {name: e, sql: "select 1", build: tx}
              - {name: f, run_scenario: loop}
              - {name: a, sql: "select 1"}
              - {name: g, set_vars: month}
            reporters:
              - {type: webhook, url: "{{ env_var('HOOK', '') }}", timeout: 0}
              - {type: email}
          - name: loop
            steps: [{name: back, run_scenario: broken}]
        """)
    result = mlmon("compile", project=root)
    assert result.exit_code == 2
    out = result.output
    expected = [
        "monitors/scenarios.yml:5: bad cron '0 6 * *'",
        "monitors/scenarios.yml:6: dataset_changed: 'totals' is built from SQL or Python, not read from files",
        "monitors/scenarios.yml:8: no node matches 'totlas' — did you mean 'totals'?",
        "monitors/scenarios.yml:9: train: 'tx' is a dataset",
        "monitors/scenarios.yml:10: run_checks takes an evaluation store or a selection of checks; 'totals' is a dataset",
        "monitors/scenarios.yml:11: unknown run_if 'sometimes'",
        "monitors/scenarios.yml:12: a step needs exactly one of build, run_checks, train, sql, set_vars, run_scenario; this one has both build and sql",
        "monitors/scenarios.yml:14: duplicate step name 'a'",
        "monitors/scenarios.yml:15: set_vars takes a mapping of vars",
        "monitors/scenarios.yml:17: webhook timeout must be a number of seconds > 0",
        "monitors/scenarios.yml:18: reporter type must be one of stdout, file, webhook, got 'email'",
        "monitors/scenarios.yml:7: scenarios run each other in a loop: broken -> loop -> broken",
        "monitors/scenarios.yml:20: scenarios run each other in a loop: loop -> broken -> loop",
    ]
    for line in expected:
        assert line in out, f"{line!r} not in\n{out}"


def test_webhook_reporter_posts_and_never_leaks_the_secret(make_project, mlmon, monkeypatch):
    root = make(make_project, """
        scenarios:
          - name: notify
            steps: [{name: dq, run_checks: "tag:dq"}]
            reporters:
              - {type: stdout}
              - {type: file, path: target/reports/runs.jsonl}
              - {type: webhook, url: "{{ env_var('ALERT_URL') }}", when: "outcome == 'FAILED'", retries: 0}
        """)
    with serve(Server()) as server:
        monkeypatch.setenv("ALERT_URL", f"{server.url}/hooks/{SECRET}?token={SECRET}")
        assert mlmon("compile", project=root).exit_code == 0
        result = mlmon("scenario", "run", "notify", project=root)
        assert result.exit_code == 1
        history = mlmon("scenario", "history", "notify", "--output", "json", project=root)
    (path, headers, body) = server.requests[0]
    assert path == f"/hooks/{SECRET}?token={SECRET}" and headers["Content-Type"] == "application/json"
    payload = json.loads(body)
    run_id = runs(root)[0][0]
    assert payload["scenario"] == "notify" and payload["run_id"] == run_id and payload["outcome"] == "FAILED"
    assert payload["steps"] == [{"name": "dq", "kind": "run_checks", "outcome": "FAILED",
                                 "message": "1 fail — no_negative fail: ERROR: 1 failing row: (id=2, amount=-5)"}]
    assert f"scenario notify run {run_id}: FAILED" in result.stdout
    assert json.loads((root / "target" / "reports" / "runs.jsonl").read_text())["run_id"] == run_id
    assert (root / "target" / "manifest.json").exists()  # compiled: the reporter is in it, unrendered
    assert_secret_absent(root, SECRET, result.stdout, result.stderr, history.output)


def test_a_webhook_that_times_out_leaves_the_run_alone(make_project, mlmon, monkeypatch):
    root = make(make_project, """
        scenarios:
          - name: notify
            steps: [{name: ok, sql: "select 1"}]
            reporters:
              - {type: webhook, url: "{{ env_var('ALERT_URL') }}", timeout: 0.3, retries: 0}
        """)
    with serve(Server(delay=3)) as server:
        monkeypatch.setenv("ALERT_URL", f"{server.url}/hooks/{SECRET}")
        result = mlmon("scenario", "run", "notify", project=root)
    assert result.exit_code == 0, result.output
    ((_, _, _, outcome, _, message, _),) = runs(root)
    assert outcome == "SUCCESS"
    assert message == f"reporter webhook {server.url}/… failed: no complete response within 0.3s (after 1 attempt)"
    assert "no complete response within 0.3s" in result.stderr
    assert_secret_absent(root, SECRET, result.stdout, result.stderr)


def test_a_webhook_with_an_empty_url_is_skipped(make_project, mlmon, monkeypatch):
    monkeypatch.delenv("ALERT_URL", raising=False)
    root = make(make_project, """
        scenarios:
          - name: notify
            steps: [{name: ok, sql: "select 1"}]
            reporters:
              - {type: webhook, url: "{{ env_var('ALERT_URL', '') }}"}
              - {type: webhook, url: "{{ env_var('UNSET_HOOK') }}"}
        """)
    result = mlmon("scenario", "run", "notify", project=root)
    assert result.exit_code == 0, result.output
    assert "reporter 1 (webhook) skipped: its url is empty" in result.stderr
    ((_, _, _, outcome, _, message, _),) = runs(root)
    assert outcome == "SUCCESS"
    assert message == "reporter 2 (webhook) skipped: environment variable 'UNSET_HOOK' is not set"


def test_a_run_left_running_by_a_dead_process_is_marked_aborted(make_project, mlmon):
    root = make(make_project, "scenarios:\n  - {name: s, steps: [{name: ok, sql: select 1}]}\n")
    with Warehouse(root / "target" / "warehouse.duckdb") as wh:
        wh.insert_rows("scenario_runs", [{"run_id": "dead", "scenario": "s", "trigger": "manual", "outcome": RUNNING}])
    assert mlmon("scenario", "run", "s", project=root).exit_code == 0
    outcomes = {r[0]: r[3] for r in runs(root)}
    assert outcomes.pop("dead") == "ABORTED" and list(outcomes.values()) == ["SUCCESS"]


def test_an_interrupted_run_is_recorded_aborted(make_project):
    root = make(make_project, "scenarios:\n  - {name: s, steps: [{name: stop, build: stopper}, {name: later, sql: select 1, run_if: always}]}\n",
                {"models/stopper.py": "def dataset(ctx):\n    raise KeyboardInterrupt\n"})
    project = compile_project(RunConfig(project_dir=root))
    with pytest.raises(KeyboardInterrupt):
        run_scenario(project, "s")
    assert steps(root, "s") == [("stop", "ABORTED")]
    assert runs(root)[0][3] == "ABORTED"


def assert_secret_absent(root: Path, secret: str, *outputs: str) -> None:
    """Not in what was printed, not in any warehouse table, not in any file under target/."""
    for text in outputs:
        assert secret not in text
    tables = query_rows(root, "SELECT table_schema, table_name FROM information_schema.tables WHERE table_catalog = current_database()")
    assert ("mlmon", "scenario_runs") in tables
    for schema, name in tables:
        assert secret not in repr(query_rows(root, f'SELECT * FROM "{schema}"."{name}"')), f"{schema}.{name}"
    for path in (p for p in (root / "target").rglob("*") if p.is_file()):
        assert secret.encode() not in path.read_bytes(), path


@pytest.mark.slow
def test_example_project_retrains_once_drift_crosses_the_max(tmp_path, mlmon, monkeypatch):
    from mlmon.demo.generator import generate
    from mlmon.nodes.base import NodeKind
    from mlmon.nodes.evaluations import EvaluationKind
    from tests.conftest import REPO_ROOT

    if EvaluationKind.execute is NodeKind.execute:
        pytest.skip("the evaluation node does not build stores yet (EvaluationKind.execute is not implemented)")
    monkeypatch.delenv("ALERT_URL", raising=False)
    root = tmp_path / "example"
    root.mkdir()
    shutil.copy(REPO_ROOT / "mlmon_project.yml", root)
    for folder in ("models", "monitors", "checks", "macros"):
        shutil.copytree(REPO_ROOT / folder, root / folder)
    generate(root / "data", rows=2500)
    for partner_file in [*REPO_ROOT.glob("data/partner_scores_*.csv"), *REPO_ROOT.glob("data/chargebacks_*.csv")]:
        shutil.copy(partner_file, root / "data")
    result = mlmon("build", "--vars", "{month: '2017_04'}", project=root)
    assert result.exit_code == 0, result.output

    walked: list[tuple[str, float, str]] = []
    for month in range(4, 13):
        label = f"2017_{month:02d}"
        result = mlmon("scenario", "run", "retrain_model", "--vars", f"{{month: '{label}'}}", project=root)
        assert result.exit_code == 0, result.output
        (drift,) = query_rows(root, "SELECT m.value FROM mlmon.metrics m JOIN mlmon.evaluations e USING (evaluation_id) "
                               "WHERE e.store = 'mes_for_input_drift' AND m.metric = 'data_drift' AND m.feature IS NULL "
                               "ORDER BY e.created_at DESC LIMIT 1")[0]
        walked.append((label, drift, runs(root, "retrain_model")[-1][3]))
        if query_rows(root, "SELECT count(*) FROM mlmon.model_versions WHERE model = 'fraud_model'")[0][0] == 2:
            break
    *before, (last_month, last_drift, last_outcome) = walked
    assert last_drift > 0.7, walked
    assert all(drift <= 0.7 for _, drift, _ in before), walked
    assert all(drift < 0.6 for month, drift, _ in walked if month <= "2017_06"), walked
    assert last_outcome == "SUCCESS"  # the retrain reset the failed check's outcome
    assert query_rows(root, "SELECT version FROM mlmon.model_versions WHERE model = 'fraud_model' AND active") == [(2,)]
    run_id = query_rows(root, "SELECT run_id FROM mlmon.scenario_runs ORDER BY started_at DESC LIMIT 1")[0][0]
    assert query_rows(root, "SELECT step, outcome FROM mlmon.scenario_steps WHERE run_id = ? ORDER BY started_at", [run_id]) == [
        ("build_mes", "SUCCESS"), ("run_mes_checks", "FAILED"), ("build_model", "SUCCESS")]
