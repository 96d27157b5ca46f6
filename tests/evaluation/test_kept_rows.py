"""Kept rows of a period store: at most `keep_rows` per evaluation, the seeded sample of the
whole rows read on the kept columns, the same rows whatever the order the data arrives in."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest

import mlmon.evaluation.store as store_module
from mlmon.evaluation.kept_groups import KeptGroups, cut, kept_groups_query, orderable
from mlmon.evaluation.store import EvaluationRecord, append_evaluations
from mlmon.metrics.sqlsample import last_draw, portable_sample_sql
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


@pytest.mark.parametrize("batch_rows, first, keep", [(1_000_000, "x", 300), (2_500, "x", 300), (1_000_000, "u", 300),
                                                     (1_000_000, "x", 5_000)])
def test_kept_rows_of_periods_in_one_statement_are_each_periods_own_sample(tmp_path: Path, monkeypatch,
                                                                           batch_rows: int, first: str,
                                                                           keep: int) -> None:
    """Periods of one table kept in grouped statements (one, or runs of periods): the same rows
    as each period's view sampled alone, a period under the bound included (every period, at
    `keep` 5,000). The first kept column is tied everywhere (x, with NULLs) or mostly distinct
    (u, some ties and NULLs)."""
    kept = [first, *KEPT[1:]]
    monkeypatch.setattr(store_module, "GROUPED_KEPT_ROWS", batch_rows)
    with Warehouse(tmp_path / "w.duckdb") as warehouse:
        con = warehouse.con
        con.execute("CREATE TABLE rows_ AS SELECT CASE WHEN i < 1500 THEN 0 WHEN i < 3700 THEN 1 ELSE 2 END AS period, "
                    "i AS id, CASE WHEN i % 11 = 0 THEN NULL ELSE (i % 13) * 0.25 END AS x, 'g' || (i % 3) AS g, "
                    "i % 2 AS target, CASE WHEN i % 50 = 0 THEN NULL WHEN i % 7 = 0 THEN 1.5 ELSE i * 0.001 END AS u "
                    "FROM range(3900) AS r(i) ORDER BY (i * 7919) % 3900")
        views = []
        for p in range(3):
            con.execute(f"CREATE VIEW rows_{p} AS SELECT * EXCLUDE (period) FROM rows_ WHERE period = {p}")
            views.append(f"rows_{p}")
        sizes = [1500, 2200, 200]
        for tag, grouped in (("one", False), ("all", True)):
            records = [EvaluationRecord(f"{tag}{p}", "daily", None, None, "data", "first", datetime(2024, 1, 1 + p),
                                        "inv", sizes[p], sizes[p], True, {"period": f"2024-01-0{1 + p}"})
                       for p in range(3)]
            kept_groups = KeptGroups("rows_", "period", {f"{tag}{p}": str(p) for p in range(3)}) if grouped else None
            append_evaluations(warehouse, [(r, [], v, kept) for r, v in zip(records, views)], keep_rows=keep,
                               grouped=kept_groups)

        def rows(evaluation_id: str) -> list[tuple]:
            return con.execute(f"SELECT {', '.join(kept)} FROM mlmon.rows_daily WHERE evaluation_id = ? ORDER BY ALL",
                               [evaluation_id]).fetchall()

        for p in range(3):
            assert len(rows(f"one{p}")) == min(keep, sizes[p])
            assert rows(f"all{p}") == rows(f"one{p}")


def test_a_group_with_no_more_rows_than_kept_keeps_them_all() -> None:
    assert cut(5, 5, 7) is None and cut(4, 5, 7) is None
    assert cut(6, 5, 7) == last_draw(6, 5, 7)
    groups = KeptGroups("rows_", "period", {"a": "0", "b": "1"})
    whole = kept_groups_query(groups, {"a": 5, "b": 4}, ["x", "g"], 5, 7)
    assert " OVER " not in whole and "JOIN" not in whole  # all kept: nothing to rank
    assert " OVER " in kept_groups_query(groups, {"a": 6, "b": 4}, ["x", "g"], 5, 7)


def test_grouped_kept_rows_need_columns_both_engines_order_alike() -> None:
    types = {"x": "DOUBLE", "g": "VARCHAR", "d": "DECIMAL(10,2)", "tags": "VARCHAR[]"}
    assert orderable(types, ["x", "g", "d"])
    assert not orderable(types, ["x", "tags"])
    assert not orderable(types, ["x", "absent"])
