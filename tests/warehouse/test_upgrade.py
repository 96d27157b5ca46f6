"""A warehouse written before a system table gained a column is upgraded when opened for writing."""

from __future__ import annotations

from pathlib import Path

import duckdb

from mlmon.warehouse.duckdb import Warehouse
from mlmon.warehouse.tables import SYSTEM_TABLES, upgrade_statements


def test_an_older_metrics_table_gains_the_segment_column(tmp_path: Path) -> None:
    path = tmp_path / "old.duckdb"
    old = [(c, t) for c, t in SYSTEM_TABLES["metrics"].columns if c != "segment"]
    with duckdb.connect(str(path)) as con:
        con.execute("CREATE SCHEMA mlmon")
        con.execute(f"CREATE TABLE mlmon.metrics ({', '.join(f'{c} {t}' for c, t in old)})")
        con.execute("INSERT INTO mlmon.metrics (evaluation_id, store, metric, value) VALUES ('e1', 's', 'psi', 0.5)")
    with Warehouse(path) as warehouse:
        rows = warehouse.con.execute("SELECT metric, segment, value FROM mlmon.metrics").fetchall()
    assert rows == [("psi", None, 0.5)]
    with Warehouse(path) as warehouse:  # opening again changes nothing
        columns = [r[0] for r in warehouse.con.execute("DESCRIBE mlmon.metrics").fetchall()]
    assert columns.count("segment") == 1


def test_upgrade_statements_name_only_what_is_missing() -> None:
    current = {name: set(table.column_names) for name, table in SYSTEM_TABLES.items()}
    assert upgrade_statements(current) == []
    current["metrics"].discard("segment")
    assert upgrade_statements(current) == ['ALTER TABLE "mlmon"."metrics" ADD COLUMN "segment" TEXT']
