"""Scenario runs that always end: hostile reporters, a dead process, the write lock."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
from pathlib import Path

from mlmon.automation.liveness import this_host
from mlmon.automation.scenario_runner import RUNNING
from mlmon.warehouse.duckdb import Warehouse
from tests.automation.test_reporters import raw_server
from tests.automation.test_scenario_runner import assert_secret_absent, make, no_proxy, runs  # noqa: F401

SECRET = "zq-Secret-77Hk"


def test_hostile_reporters_cannot_break_a_run(make_project, mlmon, monkeypatch):
    root = make(make_project, """
        scenarios:
          - name: notify
            steps: [{name: ok, sql: "select 1"}]
            reporters:
              - {type: webhook, url: "{{ env_var('MALFORMED_URL') }}"}
              - {type: webhook, url: "{{ env_var('DRIP_URL') }}", timeout: 1, retries: 1, backoff: 0.1}
              - {type: webhook, url: "{{ env_var('CONTROL_URL') }}", timeout: 1}
              - {type: file, path: target/reports/runs.jsonl}
        """)

    def drip(conn: socket.socket) -> None:
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n")
        for _ in range(1000):
            conn.sendall(b"x")
            time.sleep(0.05)

    with raw_server(drip) as url:
        monkeypatch.setenv("MALFORMED_URL", f"http://[hooks.example.com/{SECRET}")
        monkeypatch.setenv("DRIP_URL", f"{url}/hooks/{SECRET}")
        monkeypatch.setenv("CONTROL_URL", f"{url}/hooks/{SECRET}\x01")
        assert mlmon("compile", project=root).exit_code == 0  # env var urls are checked when the run reports
        started = time.monotonic()
        result = mlmon("scenario", "run", "notify", project=root)
        elapsed = time.monotonic() - started
        listing = mlmon("scenario", "list", "--output", "json", project=root)
        history = mlmon("scenario", "history", "notify", "--output", "json", project=root)
    assert result.exit_code == 0, result.output
    assert "Traceback" not in result.output + result.stderr
    assert elapsed < 20  # the deadline (1 s) plus the command itself; the drip alone would last 50 s
    ((run_id, _, _, outcome, _, message, ended),) = runs(root)
    assert outcome == "SUCCESS" and ended
    assert json.loads((root / "target" / "reports" / "runs.jsonl").read_text())["run_id"] == run_id
    assert "reporter 1 (webhook) skipped: webhook url is malformed" in message
    assert "failed: no complete response within 1s" in message
    assert "reporter 3 (webhook) skipped: webhook url holds a space or a control character" in message
    assert json.loads(history.output)[0]["outcome"] == "SUCCESS"
    assert_secret_absent(root, SECRET, result.stdout, result.stderr, listing.output, history.output, message)


def test_a_literal_malformed_url_is_a_config_error_with_its_line(make_project, mlmon):
    root = make(make_project, """
        scenarios:
          - name: notify
            steps: [{name: ok, sql: "select 1"}]
            reporters:
              - {type: stdout}
              - {type: webhook, url: "http://[hooks.example.com/x"}
        """)
    result = mlmon("compile", project=root)
    assert result.exit_code == 2
    assert "monitors/scenarios.yml:7: webhook url is malformed" in result.output + result.stderr


def test_reporters_run_after_the_write_lock_is_released(make_project, mlmon, monkeypatch):
    root = make(make_project, """
        scenarios:
          - name: notify
            steps: [{name: ok, sql: "create table t as select 1 as x"}]
            reporters:
              - {type: webhook, url: "{{ env_var('HOOK_URL') }}", timeout: 30, retries: 0}
        """)
    warehouse = root / "target" / "warehouse.duckdb"
    opened: list[int] = []

    def answer(conn: socket.socket) -> None:  # another process opens the warehouse for writing
        probe = subprocess.run([sys.executable, "-c", f"import duckdb; duckdb.connect({str(warehouse)!r}).close()"],
                               capture_output=True, timeout=60)
        opened.append(probe.returncode)
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")

    with raw_server(answer) as url:
        monkeypatch.setenv("HOOK_URL", f"{url}/hook")
        result = mlmon("scenario", "run", "notify", project=root)
    assert result.exit_code == 0, result.output
    assert opened == [0]


def test_a_run_whose_process_died_shows_aborted_at_once(make_project, mlmon):
    root = make(make_project, "scenarios:\n  - {name: s, steps: [{name: ok, sql: select 1}]}\n"
                              "  - {name: live, steps: [{name: ok, sql: select 1}]}\n")
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()  # reaped: its PID names no process
    with Warehouse(root / "target" / "warehouse.duckdb") as wh:
        wh.insert_rows("scenario_runs", [
            {"run_id": "dead", "scenario": "s", "trigger": "manual", "outcome": RUNNING, "pid": dead.pid, "host": this_host()},
            {"run_id": "live", "scenario": "live", "trigger": "manual", "outcome": RUNNING, "pid": 1, "host": this_host()},
        ])
    listing = {r["scenario"]: r["last_outcome"] for r in json.loads(mlmon("scenario", "list", "-o", "json", project=root).output)}
    assert listing == {"s": "ABORTED", "live": RUNNING}
    assert json.loads(mlmon("scenario", "history", "s", "-o", "json", project=root).output)[0]["outcome"] == "ABORTED"
