"""A warehouse written by an older mlmon gains the system columns added since, and keeps its rows."""

from __future__ import annotations

import duckdb

from mlmon.warehouse.duckdb import Warehouse
from mlmon.warehouse.tables import SYSTEM_TABLES


def test_an_older_metrics_table_gains_the_segment_column(tmp_path):
    path = tmp_path / "warehouse.duckdb"
    con = duckdb.connect(str(path))
    con.execute("CREATE SCHEMA mlmon")
    con.execute("CREATE TABLE mlmon.metrics (evaluation_id VARCHAR, store VARCHAR, metric VARCHAR, feature VARCHAR, "
                "value DOUBLE, lower DOUBLE, upper DOUBLE)")
    con.execute("INSERT INTO mlmon.metrics VALUES ('e1', 's', 'psi', 'x', 0.1, NULL, NULL)")
    con.close()
    with Warehouse(path) as wh:
        columns = [r[0] for r in wh.con.execute("SELECT column_name FROM information_schema.columns WHERE "
                                                 "table_schema = 'mlmon' AND table_name = 'metrics'").fetchall()]
        assert set(columns) == set(SYSTEM_TABLES["metrics"].column_names)
        assert wh.con.execute("SELECT metric, segment, value FROM mlmon.metrics").fetchall() == [("psi", None, 0.1)]
        wh.insert_rows("metrics", [{"evaluation_id": "e2", "metric": "psi", "segment": "region=EU", "value": 0.2}])
    with Warehouse(path) as wh:  # opening again changes nothing
        assert wh.con.execute("SELECT count(*) FROM mlmon.metrics").fetchone() == (2,)
