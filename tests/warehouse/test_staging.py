"""Staging and scratch tables live in schema mlmon_staging, out of readers' sight, and the next
writer removes what a killed command left there; older warehouses gain new system columns."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from mlmon.warehouse.duckdb import Warehouse
from mlmon.warehouse.tables import STAGING_SCHEMA, SYSTEM_TABLES


def _tables(path: Path) -> set[tuple[str, str]]:
    con = duckdb.connect(str(path), read_only=True)
    try:
        return set(con.execute("SELECT table_schema, table_name FROM information_schema.tables").fetchall())
    finally:
        con.close()


def test_a_table_is_built_in_the_staging_schema_and_swapped_into_main(tmp_path: Path) -> None:
    path = tmp_path / "warehouse.duckdb"
    with Warehouse(path) as wh:
        assert wh.staging_name("t") == f'"{STAGING_SCHEMA}"."t"'
        assert wh.replace("t", "SELECT range AS x FROM range(5)") == 5
        assert wh.replace("t", "SELECT range AS x FROM range(3)") == 3
    tables = _tables(path)
    assert ("main", "t") in tables and not any(schema == STAGING_SCHEMA for schema, _ in tables)


def test_a_failed_query_keeps_the_old_table_and_no_staging(tmp_path: Path) -> None:
    path = tmp_path / "warehouse.duckdb"
    with Warehouse(path) as wh:
        wh.replace("t", "SELECT 1 AS x")
        with pytest.raises(duckdb.Error):
            wh.replace("t", "SELECT * FROM no_such_table")
        assert wh.con.execute("SELECT x FROM t").fetchall() == [(1,)]
    assert not any(schema == STAGING_SCHEMA for schema, _ in _tables(path))


def test_the_next_writer_removes_what_a_killed_command_left(tmp_path: Path) -> None:
    path = tmp_path / "warehouse.duckdb"
    with Warehouse(path) as wh:
        wh.con.execute(f'CREATE TABLE "{STAGING_SCHEMA}".half_built AS SELECT 1 AS x')
        artifacts = wh.artifact_dir / "clf"
    artifacts.mkdir(parents=True)
    (artifacts / ".v3.skops.k2j4h5").write_bytes(b"half")
    (artifacts / "v2.skops").write_bytes(b"a real artifact")

    with Warehouse(path, read_only=True):  # a reader changes nothing
        pass
    assert (STAGING_SCHEMA, "half_built") in _tables(path)

    with Warehouse(path):
        pass
    assert (STAGING_SCHEMA, "half_built") not in _tables(path)
    assert sorted(p.name for p in artifacts.iterdir()) == ["v2.skops"]


def test_an_older_warehouse_gains_the_new_system_columns(tmp_path: Path) -> None:
    path = tmp_path / "warehouse.duckdb"
    con = duckdb.connect(str(path))
    con.execute("CREATE SCHEMA mlmon")
    con.execute("CREATE TABLE mlmon.scenario_runs (run_id VARCHAR, scenario VARCHAR, outcome VARCHAR)")
    con.execute("INSERT INTO mlmon.scenario_runs VALUES ('r1', 's', 'SUCCESS')")
    con.close()
    with Warehouse(path) as wh:
        columns = [r[0] for r in wh.con.execute("SELECT column_name FROM information_schema.columns "
                                                  "WHERE table_schema = 'mlmon' AND table_name = 'scenario_runs'").fetchall()]
        assert set(SYSTEM_TABLES["scenario_runs"].column_names) <= set(columns)
        assert wh.con.execute("SELECT run_id, pid, host FROM mlmon.scenario_runs").fetchall() == [("r1", None, None)]
