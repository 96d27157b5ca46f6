"""Kept rows of a period store: at most `keep_rows` per evaluation, the seeded sample of the
whole rows read on the kept columns, the same rows whatever the order the data arrives in."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from mlmon.evaluation.store import EvaluationRecord, append_evaluations
from mlmon.metrics.sqlsample import portable_sample_sql
from mlmon.warehouse.duckdb import Warehouse

KEPT = ["x", "g", "target"]


def _periods(con, table: str, order: str) -> list[str]:
    """Two period views of 2,000 rows each, the other columns (id, note) not kept."""
    con.execute(f"CREATE TABLE {table} AS SELECT i // 2000 AS period, i AS id, (i % 17) * 0.5 AS x, "
                f"'g' || (i % 3) AS g, i % 2 AS target, 'note ' || i AS note FROM range(4000) AS r(i) ORDER BY {order}")
    views = []
    for p in range(2):
        con.execute(f"CREATE VIEW {table}_{p} AS SELECT * EXCLUDE (period) FROM {table} WHERE period = {p}")
        views.append(f"{table}_{p}")
    return views


def _append(warehouse: Warehouse, views: list[str], tag: str) -> list[str]:
    records = [EvaluationRecord(f"{tag}{p}", "daily", None, None, "data", "first", datetime(2024, 1, 1 + p), "inv",
                                2000, 2000, True, {"period": f"2024-01-0{1 + p}"}) for p in range(len(views))]
    append_evaluations(warehouse, [(r, [], v, KEPT) for r, v in zip(records, views)], keep_rows=300)
    return [r.evaluation_id for r in records]


def _kept(con, evaluation_id: str) -> list[tuple]:
    return con.execute("SELECT x, g, target FROM mlmon.rows_daily WHERE evaluation_id = ? ORDER BY ALL",
                       [evaluation_id]).fetchall()


def test_kept_rows_are_bounded_reproducible_and_the_whole_row_sample(tmp_path: Path) -> None:
    with Warehouse(tmp_path / "w.duckdb") as warehouse:
        con = warehouse.con
        first = _append(warehouse, _periods(con, "a", "id"), "a")
        again = _append(warehouse, _periods(con, "b", "note DESC"), "b")
        for p, (one, other) in enumerate(zip(first, again)):
            kept = _kept(con, one)
            assert len(kept) == 300 and kept == _kept(con, other)
            whole_row = [(c, t) for c, t in (("x", "DOUBLE"), ("g", "VARCHAR"), ("target", "BIGINT"),
                                              ("id", "BIGINT"), ("note", "VARCHAR"))]
            expected = con.execute(f"SELECT * FROM ({portable_sample_sql(f'a_{p}', KEPT, whole_row, 300, 0)}) "
                                   "ORDER BY ALL").fetchall()
            assert kept == expected
        assert _kept(con, first[0]) != _kept(con, first[1])
