"""A warehouse written by an older mlmon gets the system-table columns added since."""

from __future__ import annotations

from pathlib import Path

import duckdb

from mlmon.warehouse.duckdb import Warehouse
from mlmon.warehouse.tables import SYSTEM_TABLES


def test_an_older_warehouse_gains_new_columns_and_keeps_its_rows(tmp_path: Path):
    path = tmp_path / "old.duckdb"
    with duckdb.connect(str(path)) as con:
        con.execute("CREATE SCHEMA mlmon")
        con.execute("CREATE TABLE mlmon.model_versions (model VARCHAR, version INTEGER)")
        con.execute("INSERT INTO mlmon.model_versions VALUES ('m', 1)")
    with Warehouse(path) as wh:
        columns = [r[0] for r in wh.con.execute("DESCRIBE mlmon.model_versions").fetchall()]
        assert columns[:2] == ["model", "version"]
        assert set(columns) == set(SYSTEM_TABLES["model_versions"].column_names)
        assert wh.con.execute("SELECT model, version, promotion FROM mlmon.model_versions").fetchall() == [("m", 1, None)]
