"""A second concurrent command gets a clear lock error naming the holder, writes no artifact,
and corrupts nothing."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time
from pathlib import Path

import duckdb
import pytest

from tests.conftest import query_rows
from tests.run.test_build import FILES

ARTIFACTS = ("manifest.json", "run_results.json")


def _remove_artifacts(root: Path) -> None:
    for name in ARTIFACTS:
        (root / "target" / name).unlink()


def _wait_for(path: Path, process: subprocess.Popen) -> None:
    for _ in range(1200):
        if path.exists():
            return
        assert process.poll() is None, process.communicate()
        time.sleep(0.05)
    raise AssertionError(f"{path} never appeared")


def test_another_program_holding_the_warehouse_is_named(make_project, mlmon):
    root = make_project(FILES)
    assert mlmon("build", project=root).exit_code == 0
    before = query_rows(root, "SELECT * FROM main.report ORDER BY cat")
    _remove_artifacts(root)
    warehouse = root / "target" / "warehouse.duckdb"
    holder = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(f"""
            import duckdb, sys, time
            con = duckdb.connect({str(warehouse)!r})
            print("locked", flush=True)
            sys.stdin.readline()
        """)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "locked"
        result = mlmon("build", project=root)
        assert result.exit_code == 2
        assert "is locked by another process, not an mlmon command: " in result.output
        assert "python" in result.output and f"(PID {holder.pid})" in result.output
        assert "DuckDB allows one writer at a time" in result.output
        assert "published copy" in result.output and "published/warehouse.duckdb" in result.output
        assert not any((root / "target" / name).exists() for name in ARTIFACTS), "a refused command writes no artifact"
    finally:
        holder.communicate("\n", timeout=30)
    assert query_rows(root, "SELECT * FROM main.report ORDER BY cat") == before
    assert mlmon("build", project=root).exit_code == 0
    assert all((root / "target" / name).exists() for name in ARTIFACTS)


def test_a_running_mlmon_command_is_named_with_its_pid(make_project, mlmon):
    """A real `mlmon build` process holds the warehouse (its Python dataset waits for a file)."""
    root = make_project({
        **FILES,
        "models/slow.py": """
            import time
            from pathlib import Path
            import pandas as pd

            def dataset(ctx):
                here = Path(ctx.var("dir"))
                (here / "started").touch()
                while not (here / "finish").exists():
                    time.sleep(0.05)
                return pd.DataFrame({"x": [1]})
            """,
    })
    assert mlmon("build", "--exclude", "slow", project=root).exit_code == 0
    _remove_artifacts(root)
    (root / "signals").mkdir()
    command = [sys.executable, "-m", "mlmon", "build", "-s", "slow", "--project-dir", str(root),
               "--vars", f"{{dir: '{root / 'signals'}'}}"]
    slow = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        _wait_for(root / "signals" / "started", slow)
        (root / "target" / "manifest.json").unlink()  # the running build wrote its own
        result = mlmon("build", "-s", "report", project=root)
        assert result.exit_code == 2
        assert f"is locked by mlmon build (PID {slow.pid})" in result.output
        assert "wait for that command to finish" in result.output
        shown = mlmon("show", "report", project=root)  # readers too are told whom to wait for
        assert shown.exit_code == 2 and f"mlmon build (PID {slow.pid})" in shown.output
        assert not any((root / "target" / name).exists() for name in ARTIFACTS)
    finally:
        (root / "signals" / "finish").touch()
        output = slow.communicate(timeout=120)[0]
    assert slow.returncode == 0, output
    assert query_rows(root, "SELECT x FROM main.slow") == [(1,)]
    assert (root / "target" / "warehouse.duckdb.lock").read_text() == "", "the holder record is cleared"


def test_concurrent_cli_processes_one_wins(make_project):
    """Two real `mlmon build` processes at once: each exits 0 or 2 (lock), the warehouse stays sound."""
    root = make_project(FILES)
    command = [sys.executable, "-m", "mlmon", "build", "--project-dir", str(root)]
    first = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    second = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    outputs = [p.communicate(timeout=120)[0] for p in (first, second)]
    codes = sorted(p.returncode for p in (first, second))
    assert codes in ([0, 0], [0, 2]), outputs
    if codes == [0, 2]:
        assert any("is locked by mlmon build (PID" in o for o in outputs)
    con = duckdb.connect(str(root / "target" / "warehouse.duckdb"), read_only=True)
    assert con.execute('SELECT count(*) FROM "report"').fetchone()[0] == 2


def test_no_module_imports_fcntl():
    """fcntl does not exist on Windows: importing it anywhere would kill the CLI there."""
    import ast

    import mlmon

    package = Path(mlmon.__file__).parent
    offenders = []
    for source in package.rglob("*.py"):
        for node in ast.walk(ast.parse(source.read_text(encoding="utf-8"))):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else \
                [node.module or ""] if isinstance(node, ast.ImportFrom) else []
            if any(name.split(".")[0] == "fcntl" for name in names):
                offenders.append(str(source.relative_to(package)))
    assert offenders == []


def test_a_holder_that_has_not_recorded_itself_yet_is_still_named(tmp_path):
    """A holder writes its PID a moment after it takes the lock: a command finding the lock busy in
    that moment reads the record again rather than naming "another mlmon command"."""
    import json
    import threading

    import portalocker

    from mlmon.warehouse.lock import LockBusy, exclusive_lock

    path = tmp_path / "warehouse.duckdb.lock"
    handle = open(path, "w+b")
    portalocker.lock(handle, portalocker.LOCK_EX | portalocker.LOCK_NB)  # taken, not yet recorded

    def record() -> None:
        time.sleep(0.1)
        handle.write(json.dumps({"pid": 4242, "command": "mlmon build"}).encode())
        handle.flush()

    writer = threading.Thread(target=record)
    writer.start()
    try:
        with pytest.raises(LockBusy) as busy:
            with exclusive_lock(path):
                pass
        assert busy.value.holder.describe() == "mlmon build (PID 4242)"
    finally:
        writer.join()
        portalocker.unlock(handle)
        handle.close()
