"""An older warehouse's metrics table gains the `segment` column; its rows are the whole data's."""

from __future__ import annotations

from pathlib import Path

import duckdb

from mlmon.warehouse.duckdb import Warehouse
from mlmon.warehouse.tables import SYSTEM_TABLES


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

