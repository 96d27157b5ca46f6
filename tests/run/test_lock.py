"""A second concurrent build gets a clear lock error and corrupts nothing."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import duckdb

from tests.conftest import query_rows
from tests.run.test_build import FILES


def test_second_concurrent_build_reports_the_lock(make_project, mlmon):
    root = make_project(FILES)
    assert mlmon("build", project=root).exit_code == 0
    before = query_rows(root, "SELECT * FROM main.report ORDER BY cat")
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
    manifest = root / "target" / "manifest.json"
    manifest.write_text("{}")
    try:
        assert holder.stdout.readline().strip() == "locked"
        result = mlmon("build", project=root)
        assert result.exit_code == 2
        assert manifest.read_text() == "{}"  # a refused build writes no artifact
        assert f"is locked by process {holder.pid}" in result.output
        assert "DuckDB allows one writer at a time" in result.output
    finally:
        holder.communicate("\n", timeout=30)
    assert query_rows(root, "SELECT * FROM main.report ORDER BY cat") == before
    assert mlmon("build", project=root).exit_code == 0


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
        assert any("is locked by process" in o for o in outputs)
    con = duckdb.connect(str(root / "target" / "warehouse.duckdb"), read_only=True)
    assert con.execute('SELECT count(*) FROM "report"').fetchone()[0] == 2
