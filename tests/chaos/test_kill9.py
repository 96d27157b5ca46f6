"""kill -9 at every write phase of a real `mlmon` process, then: nothing half-done is visible,
nothing committed is lost, and the next command cleans up and finishes the work.

MLMON_CHAOS_PAUSE=<phase> makes the process write its PID to MLMON_CHAOS_FILE and sleep at that
phase (mlmon.chaos), so each kill lands at a known instant instead of a random one.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pytest

from mlmon.chaos import PHASES
from tests.conftest import REPO_ROOT

FILES = {
    "mlmon_project.yml": "name: chaos\n",
    "models/flow.yml": """
datasets:
  - {name: train_rows, files: data/train.csv}
  - {name: fresh_rows, files: data/fresh.csv}
models:
  - {name: clf, data: train_rows, target: label, estimator: sklearn.linear_model.LogisticRegression}
scores:
  - {name: scored, model: clf, data: fresh_table, chunk_rows: 500}
evaluations:
  - {name: ev, model: clf, data: scored}
scenarios:
  - name: nightly
    steps: [{name: rescore, build: scored}]
""",
    "models/fresh_table.sql": "select * from fresh_rows\n",
}
BUILD_PHASES = [p for p in PHASES if p != "scenario_step_running"]
WAIT_SECONDS = 120


def _rows(n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({"a": rng.normal(size=n), "b": rng.normal(size=n), "kind": rng.choice(["x", "y"], n)})
    frame["label"] = (frame["a"] - frame["b"] + rng.normal(size=n) > 0).astype(int)
    return frame


def _mlmon(root: Path, *args: str, chaos: str | None = None, marker: Path | None = None) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    env.pop("MLMON_CHAOS_PAUSE", None)
    if chaos:
        env.update(MLMON_CHAOS_PAUSE=chaos, MLMON_CHAOS_FILE=str(marker))
    return subprocess.Popen([sys.executable, "-m", "mlmon", *args, "--project-dir", str(root)], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def _finish(process: subprocess.Popen) -> tuple[int, str]:
    output = process.communicate(timeout=WAIT_SECONDS)[0]
    return process.returncode, output


def _state(root: Path) -> dict:
    """What a reader sees: relations per schema, row and version counts, temporary files."""
    con = duckdb.connect()
    con.execute(f"ATTACH '{root / 'target' / 'warehouse.duckdb'}' AS w (READ_ONLY)")
    try:
        relations = con.execute("SELECT table_schema, table_name FROM information_schema.tables "
                                "WHERE table_catalog = 'w' ORDER BY ALL").fetchall()
        count = lambda sql: con.execute(sql).fetchone()[0]  # noqa: E731
        state = {
            "visible": sorted((s, t) for s, t in relations if s in ("main", "mlmon")),
            "staging": sorted(t for s, t in relations if s not in ("main", "mlmon")),
            "evaluations": count("SELECT count(*) FROM w.mlmon.evaluations"),
            "metrics": count("SELECT count(*) FROM w.mlmon.metrics"),
            "versions": count("SELECT count(*) FROM w.mlmon.model_versions"),
            "scored": count("SELECT count(*) FROM w.main.scored"),
            "fresh_table": count("SELECT count(*) FROM w.main.fresh_table"),
        }
    finally:
        con.close()
    state["temp_files"] = sorted(p.name for p in (root / "target").rglob(".*.skops.*"))
    return state


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = tmp_path / "project"
    for rel, text in FILES.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    (root / "data").mkdir()
    _rows(1500, 1).to_csv(root / "data" / "train.csv", index=False)
    _rows(3000, 2).to_csv(root / "data" / "fresh.csv", index=False)
    code, output = _finish(_mlmon(root, "build"))
    assert code == 0, output
    return root


def _kill_at(root: Path, phase: str, *args: str) -> None:
    marker = root / "paused.pid"
    marker.unlink(missing_ok=True)
    process = _mlmon(root, *args, chaos=phase, marker=marker)
    deadline = time.monotonic() + WAIT_SECONDS
    while not marker.exists():
        if process.poll() is not None:
            pytest.fail(f"mlmon ended before reaching {phase}:\n{process.communicate()[0]}")
        assert time.monotonic() < deadline, f"{phase} never reached"
        time.sleep(0.05)
    os.kill(process.pid, signal.SIGKILL)
    process.communicate(timeout=WAIT_SECONDS)  # reaped: its PID is free


def test_kill_9_at_every_write_phase_leaves_nothing_half_done(project: Path):
    """One kill per phase, one after the other: each killed command is also the next command
    that opens the warehouse after the previous kill (subprocesses are slow to start: one
    chain keeps the suite short)."""
    before = _state(project)
    leftover = project / "target" / "artifacts" / "clf" / ".v7.skops.abc123"  # as save_model's temp file
    leftover.write_bytes(b"half an artifact")
    for phase in BUILD_PHASES:
        training = phase in ("artifact_written", "registry_row_written")
        _kill_at(project, phase, "build", *(("-s", "clf", "--full-refresh") if training else ()))
        after_kill = _state(project)
        # Every relation, row and version as before the build: the killed work never shows.
        for key in ("visible", "evaluations", "metrics", "versions", "scored", "fresh_table"):
            assert after_kill[key] == before[key], (phase, key)

    _kill_at(project, "scenario_step_running", "scenario", "run", "nightly")
    code, output = _finish(_mlmon(project, "scenario", "list", "--output", "json"))
    assert code == 0, output
    assert json.loads(output)[0]["last_outcome"] == "ABORTED"  # at once: its process is gone

    code, output = _finish(_mlmon(project, "build"))
    assert code == 0, output
    rebuilt = _state(project)
    assert rebuilt["staging"] == [] and rebuilt["temp_files"] == []  # the next writer cleaned up
    assert rebuilt["visible"] == before["visible"]
    assert rebuilt["evaluations"] == before["evaluations"] + 1
    assert rebuilt["metrics"] == before["metrics"] * 2
    assert rebuilt["versions"] == before["versions"]  # a killed training never committed a version
    assert (rebuilt["scored"], rebuilt["fresh_table"]) == (3000, 3000)
