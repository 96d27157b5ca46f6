"""The scheduler on real projects: schedules on an injected clock, data triggers, overlap, signals."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

import duckdb

from mlmon.automation.locks import scenario_lock
from mlmon.automation.scheduler import Scheduler
from mlmon.warehouse.lock import read_holder
from tests.conftest import query_rows

T0 = datetime(2024, 1, 1, 5, 0, tzinfo=timezone.utc)  # a Monday


@dataclass
class Clock:
    now: datetime

    def __call__(self) -> datetime:
        return self.now




def runs(root: Path, scenario: str) -> list[tuple]:
    return query_rows(root, 'SELECT "trigger", outcome, trigger_params FROM mlmon.scenario_runs WHERE scenario = ? '
                       "ORDER BY started_at", [scenario])


def ran(scheduler: Scheduler) -> list[str]:
    return [t.scenario for t in scheduler.run_once() if t.status == "ran"]


def test_time_triggers_fire_once_per_due_time(make_project):
    root = make_project({"monitors/s.yml": """
        scenarios:
          - name: hourly
            triggers: [{name: every_hour, every: 1h}]
            steps: [{name: tick, sql: select 1}]
          - name: weekly
            triggers: [{name: monday, cron: "0 6 * * 1", timezone: UTC}]
            steps: [{name: tick, sql: select 1}]
          - name: manual_only
            steps: [{name: tick, sql: select 1}]
        """})
    clock = Clock(T0)
    scheduler = Scheduler(root, clock=clock)
    expected = [
        (timedelta(0), []),  # the first look starts the clocks
        (timedelta(minutes=59), []),
        (timedelta(hours=1), ["hourly", "weekly"]),
        (timedelta(hours=1, minutes=30), []),
        (timedelta(hours=4, minutes=5), ["hourly"]),  # three missed hours fire once
        (timedelta(hours=4, minutes=10), []),
        (timedelta(days=7, hours=1, minutes=30), ["hourly", "weekly"]),
        (timedelta(days=7, hours=1, minutes=31), []),
    ]
    for offset, scenarios in expected:
        clock.now = T0 + offset
        assert ran(scheduler) == scenarios, offset
    assert [(t, o) for t, o, _ in runs(root, "hourly")] == [("every_hour", "SUCCESS")] * 3
    assert [json.loads(p) for _, _, p in runs(root, "weekly")] == [
        {"scheduled_at": "2024-01-01T06:00:00+00:00"}, {"scheduled_at": "2024-01-08T06:00:00+00:00"}]
    assert query_rows(root, "SELECT count(*) FROM mlmon.scenario_runs WHERE scenario = 'manual_only'") == [(0,)]
    states = dict(query_rows(root, "SELECT scenario || '.' || \"trigger\", state FROM mlmon.trigger_state"))
    assert json.loads(states["hourly.every_hour"])["last_fired_at"] == "2024-01-08T06:00:00+00:00"


def test_dataset_changed_fires_after_a_change_and_not_before(make_project, mlmon):
    root = make_project({
        "data/tx_01.csv": "id,amount\n1,10\n",
        "models/src.yml": "datasets:\n  - {name: tx, files: \"data/tx_{{ var('month') }}.csv\"}\n",
        "monitors/s.yml": """
            scenarios:
              - name: on_data
                triggers: [{name: new_data, dataset_changed: tx}]
                steps: [{name: check_files, build: tx}]
            """,
    })

    def once() -> str:
        result = mlmon("scheduler", "--once", project=root)
        assert result.exit_code == 0, result.output
        return result.output

    assert "0 ran" in once()  # baseline
    assert "0 ran" in once()
    data = root / "data" / "tx_01.csv"
    data.write_text("id,amount\n1,10\n2,20\n")
    output = once()
    assert "on_data: trigger new_data fired" in output and "1 ran" in output
    assert "0 ran" in once()
    ((trigger, outcome, params),) = runs(root, "on_data")
    assert (trigger, outcome) == ("new_data", "SUCCESS")
    assert json.loads(params) == {"dataset": "tx", "added": [], "removed": [], "modified": ["data/tx_01.csv"]}


def test_a_file_that_arrives_is_a_change(make_project, mlmon):
    root = make_project({
        "models/src.yml": "datasets:\n  - {name: tx, files: \"data/tx_{{ var('month') }}.csv\"}\n",
        "monitors/s.yml": """
            scenarios:
              - name: on_data
                triggers: [{name: new_data, dataset_changed: tx}]
                steps: [{name: check_files, build: tx}]
            """,
    })
    (root / "data").mkdir()
    assert "0 ran" in mlmon("scheduler", "--once", project=root).output  # nothing there: the baseline is empty
    (root / "data" / "tx_01.csv").write_text("id,amount\n3,30\n")
    result = mlmon("scheduler", "--once", project=root)
    assert result.exit_code == 0 and "1 ran" in result.output, result.output
    assert json.loads(runs(root, "on_data")[0][2])["added"] == ["data/tx_01.csv"]


def test_sql_changed_fires_when_the_result_changes(make_project):
    root = make_project({"monitors/s.yml": """
        scenarios:
          - name: on_rows
            triggers: [{name: rows, sql_changed: "select count(*) from main.events"}]
            steps: [{name: tick, sql: select 1}]
        """})
    scheduler = Scheduler(root)
    (root / "target").mkdir()
    con = duckdb.connect(str(root / "target" / "warehouse.duckdb"))
    con.execute("CREATE TABLE events (id INT)")
    con.close()
    assert ran(scheduler) == [] and ran(scheduler) == []
    con = duckdb.connect(str(root / "target" / "warehouse.duckdb"))
    con.execute("INSERT INTO events VALUES (1)")
    con.close()
    assert ran(scheduler) == ["on_rows"] and ran(scheduler) == []


FAILING = {
    "monitors/s.yml": """
        scenarios:
          - name: a_broken
            triggers: [{name: tick, every: 1h}]
            steps: [{name: broken, sql: select * from nowhere}]
          - name: b_bad_trigger
            triggers: [{name: rows, sql_changed: select count(*) from main.missing_table}]
            steps: [{name: tick, sql: select 1}]
          - name: c_unlockable
            triggers: [{name: tick, every: 1h}]
            steps: [{name: tick, sql: select 1}]
          - name: d_good
            triggers: [{name: tick, every: 1h}]
            steps: [{name: tick, sql: select 1}]
        """,
}


def test_a_failing_scenario_does_not_stop_the_pass(make_project, caplog):
    root = make_project(FAILING)
    (root / "target" / "locks" / "c_unlockable.lock").mkdir(parents=True)  # its lock cannot be taken
    clock = Clock(T0)
    scheduler = Scheduler(root, clock=clock)
    scheduler.run_once()
    clock.now = T0 + timedelta(hours=1)
    turns = {t.scenario: t for t in scheduler.run_once()}
    assert {n: t.status for n, t in turns.items()} == {
        "a_broken": "ran", "b_bad_trigger": "idle", "c_unlockable": "error", "d_good": "ran"}
    assert str(turns["a_broken"].outcome) == "FAILED" and str(turns["d_good"].outcome) == "SUCCESS"
    logged = caplog.text
    assert "b_bad_trigger: trigger rows could not be checked" in logged and "missing_table" in logged
    assert "c_unlockable: IsADirectoryError" in logged


def test_once_exits_1_when_a_run_failed(make_project, mlmon):
    root = make_project({"monitors/s.yml": FAILING["monitors/s.yml"].replace("every: 1h", "every: 1s")})
    assert mlmon("scheduler", "--once", project=root).exit_code == 0  # clocks start
    time.sleep(1.1)
    result = mlmon("scheduler", "--once", project=root)
    assert result.exit_code == 1
    assert "Checked 4 scenario(s): 3 ran, 1 failed" in result.output


def _wait_for(condition, timeout: float = 60.0, step: float = 0.05) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting")
        time.sleep(step)


def _mlmon_process(root: Path, *args: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "mlmon", *args, "--project-dir", str(root)], cwd=root,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def test_a_scenario_running_elsewhere_is_skipped_not_run_twice(make_project, mlmon):
    root = make_project({
        "data/tx.csv": "id\n1\n",
        "models/src.yml": "datasets:\n  - {name: tx, files: data/tx.csv}\n",
        "models/slow_table.py": "import time\n\nimport pandas as pd\n\n\ndef dataset(ctx):\n    time.sleep(3)\n"
                          "    return pd.DataFrame({'x': [1]})\n",
        "monitors/s.yml": """
            scenarios:
              - name: slow
                triggers: [{name: new_data, dataset_changed: tx}]
                steps: [{name: wait, build: slow_table}]
            """,
    })
    assert mlmon("scheduler", "--once", project=root).exit_code == 0  # baseline
    (root / "data" / "tx.csv").write_text("id\n1\n2\n")
    lock = root / "target" / "locks" / "slow.lock"
    first = _mlmon_process(root, "scheduler", "--once")
    try:
        _wait_for(lambda: lock.exists() and read_holder(lock).pid == first.pid)
        second = mlmon("scheduler", "--once", project=root)
        assert second.exit_code == 0, second.output
        assert f"slow: skipped, a run is in progress (scenario 'slow' is already running (lock {lock} is held by process {first.pid} (mlmon scheduler))" in second.output
        _, err = first.communicate(timeout=120)
    finally:
        first.kill() if first.poll() is None else None
    assert first.returncode == 0, err
    assert "slow: trigger new_data fired, running" in err
    assert [(t, o) for t, o, _ in runs(root, "slow")] == [("new_data", "SUCCESS")]
    # the run saved the trigger state: the change is not seen twice
    assert "0 ran" in mlmon("scheduler", "--once", project=root).output
    assert len(runs(root, "slow")) == 1


def test_the_loop_survives_failures_and_stops_on_sigterm(make_project):
    scenarios = FAILING["monitors/s.yml"].replace("every: 1h", "every: 1s").replace(
        "steps:", "reporters: [{type: file, path: reports/runs.jsonl}]\n            steps:")
    root = make_project({"monitors/s.yml": scenarios})
    (root / "target" / "locks" / "c_unlockable.lock").mkdir(parents=True)
    report = root / "reports" / "runs.jsonl"

    def outcomes() -> list[tuple[str, str]]:
        if not report.exists():
            return []
        return [(r["scenario"], r["outcome"]) for r in map(json.loads, report.read_text().splitlines())]

    process = _mlmon_process(root, "scheduler", "--interval", "0.2")
    try:
        _wait_for(lambda: outcomes().count(("a_broken", "FAILED")) >= 2 and outcomes().count(("d_good", "SUCCESS")) >= 2)
        process.send_signal(signal.SIGTERM)
        _, err = process.communicate(timeout=30)
    finally:
        process.kill() if process.poll() is None else None
    assert process.returncode == 0, err
    assert "received SIGTERM: stopping after the current scenario" in err
    assert "scheduler stopped after" in err
    assert "c_unlockable: IsADirectoryError" in err


def test_a_held_lock_skips_the_scenario(make_project):
    root = make_project({"monitors/s.yml": """
        scenarios:
          - name: busy
            triggers: [{name: tick, every: 1h}]
            steps: [{name: tick, sql: select 1}]
        """})
    clock = Clock(T0)
    scheduler = Scheduler(root, clock=clock)
    scheduler.run_once()
    clock.now = T0 + timedelta(hours=1)
    with scenario_lock(root / "target" / "locks", "busy"):
        assert [t.status for t in scheduler.run_once()] == ["busy"]
    assert ran(scheduler) == ["busy"]  # not saved while busy: still due once the lock is free
    assert os.path.exists(root / "target" / "locks" / "busy.lock")
