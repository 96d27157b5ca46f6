"""`PeriodRows`: the rows of small groups read in scans of at most `budget` rows, handed out
group by group, each exactly the rows a query of its own would read."""

from __future__ import annotations

from datetime import date
from typing import Any

import duckdb
import pandas as pd
import pytest

from mlmon.evaluation.period_rows import PeriodRows
from mlmon.metrics.grouped import Groups

SIZES = {date(2021, 1, 1): 4, date(2021, 2, 1): 3, date(2021, 3, 1): 9, date(2021, 4, 1): 2, date(2021, 5, 1): 1}


class Counting:
    """A DuckDB connection that counts the statements it runs."""

    def __init__(self, con: duckdb.DuckDBPyConnection):
        self.con, self.statements = con, []

    def execute(self, sql: str) -> Any:
        self.statements.append(sql)
        return self.con.execute(sql)


@pytest.fixture
def con() -> Counting:
    con = duckdb.connect()
    rows = [(day, i, f"c{i % 3}" if i % 4 else None) for day, n in SIZES.items() for i in range(n)]
    rows.append((date(2021, 6, 1), 99, "other"))  # a period not compared: never read
    con.execute("CREATE TABLE t (p DATE, x BIGINT, c VARCHAR)")
    con.executemany("INSERT INTO t VALUES (?, ?, ?)", rows)
    return Counting(con)


def _groups(keys: list[date], sizes: list[int] | None = None) -> Groups:
    return Groups("t", "p", tuple(keys), tuple(sizes if sizes is not None else [SIZES[k] for k in keys]))


def _alone(con: Counting, day: date) -> pd.DataFrame:
    return con.con.execute(f"SELECT x, c FROM t WHERE p = DATE '{day}'").df()


def _same_rows(got: pd.DataFrame, want: pd.DataFrame) -> None:
    """The same rows whatever their order; a missing value may read as None or NaN (a lone
    period's all-NULL text column is an object column, among others' it is a string column):
    the domain classifier and the canonical order treat both as missing."""
    assert list(got.columns) == list(want.columns)

    def plain(frame: pd.DataFrame) -> list[tuple]:
        return sorted(tuple(None if pd.isna(v) else v for v in row) for row in frame.itertuples(index=False))

    assert plain(got) == plain(want)


def test_each_group_gets_the_rows_a_query_of_its_own_reads(con: Counting) -> None:
    keys = list(SIZES)
    rows = PeriodRows(con, _groups(keys), ["x", "c"], budget=100)
    for j, day in enumerate(keys):
        _same_rows(rows.rows(j), _alone(con, day))
    assert len(con.statements) == 1  # every group in one scan: 19 rows, budget 100


def test_scans_hold_at_most_budget_rows_and_skip_groups_above_it(con: Counting) -> None:
    keys = list(SIZES)  # 4, 3, 9, 2, 1 rows
    rows = PeriodRows(con, _groups(keys), ["x", "c"], budget=8)
    assert [rows.holds(j) for j in range(len(keys))] == [True, True, False, True, True]
    with pytest.raises(ValueError, match="9 rows, more than 8"):
        rows.rows(2)
    for j in (0, 1, 3, 4):
        _same_rows(rows.rows(j), _alone(con, keys[j]))
    # (4 + 3) in one scan, then (2 + 1): the 9-row group between them breaks the run
    assert len(con.statements) == 2
    assert "DATE" in con.statements[0] and "'2021-01-01'" in con.statements[0] and "'2021-02-01'" in con.statements[0]
    assert "'2021-04-01'" in con.statements[1] and "'2021-05-01'" in con.statements[1]
    assert "'2021-03-01'" not in " ".join(con.statements)


def test_a_run_stops_where_the_next_group_would_pass_the_budget(con: Counting) -> None:
    keys = [date(2021, 1, 1), date(2021, 2, 1), date(2021, 4, 1), date(2021, 5, 1)]  # 4, 3, 2, 1 rows
    rows = PeriodRows(con, _groups(keys), ["x"], budget=7)
    for j in range(len(keys)):
        assert len(rows.rows(j)) == SIZES[keys[j]]
    assert len(con.statements) == 2  # 4 + 3 = 7 fits exactly, then 2 + 1
    first, second = con.statements
    assert "'2021-01-01'" in first and "'2021-02-01'" in first and "'2021-04-01'" not in first
    assert "'2021-04-01'" in second and "'2021-05-01'" in second and "'2021-02-01'" not in second


def test_a_group_of_exactly_budget_rows_is_read(con: Counting) -> None:
    rows = PeriodRows(con, _groups([date(2021, 3, 1), date(2021, 5, 1)]), ["x"], budget=9)
    assert rows.holds(0) and rows.holds(1)
    assert len(rows.rows(0)) == 9
    assert len(con.statements) == 1 and "'2021-05-01'" not in con.statements[0]  # 9 + 1 would pass the budget


def test_groups_asked_out_of_order_or_again_are_read_again_and_earlier_ones_forgotten(con: Counting) -> None:
    keys = list(SIZES)
    rows = PeriodRows(con, _groups(keys), ["x"], budget=100)
    assert len(rows.rows(3)) == 2
    assert len(con.statements) == 1 and set(rows._read) == {4}  # from group 3 on: 2 and 1 rows
    assert len(rows.rows(0)) == 4  # an earlier group: read again
    assert len(rows.rows(0)) == 4  # handed out once: read again
    assert len(con.statements) == 3


def test_an_empty_group_is_never_read_with_others(con: Counting) -> None:
    groups = _groups([date(2021, 1, 1), date(2020, 1, 1), date(2021, 2, 1)], [4, 0, 3])
    rows = PeriodRows(con, groups, ["x", "c"], budget=100)
    assert [rows.holds(j) for j in range(3)] == [True, False, True]
    assert len(rows.rows(0)) == 4
    assert len(con.statements) == 1 and "'2020-01-01'" not in con.statements[0]
    assert len(rows.rows(2)) == 3
    assert len(con.statements) == 2  # the empty group ended the first run


def test_a_group_without_rows_in_the_relation_gets_an_empty_frame_of_its_columns(con: Counting) -> None:
    groups = _groups([date(2021, 1, 1), date(2019, 1, 1)], [4, 2])  # counted 2, but none there now
    rows = PeriodRows(con, groups, ["x", "c"], budget=100)
    assert len(rows.rows(0)) == 4
    empty = rows.rows(1)
    assert len(empty) == 0 and list(empty.columns) == ["x", "c"]
