"""The drift statements compute a column's value once per row: every bucket key, bound and
test of a branch names the value (`with_value`), so the SQL stays short for the warehouse to
parse and plan, whatever the number of cells or bins."""

from __future__ import annotations

from datetime import date
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa
import pytest
import sqlglot
from sqlglot import exp

from mlmon.metrics import values
from mlmon.metrics.grouped import GroupedDrift, Groups
from mlmon.metrics.twosample import ColumnSpec, Layout, column_statistics
from mlmon.metrics.univariate import drift_and_profile

VALUE = 'ABS("x") + 7'  # a column's value expression, told apart from the engine's own ABS by its column


class Recorder:
    """A DuckDB connection that keeps every SQL text it runs."""

    def __init__(self, con: duckdb.DuckDBPyConnection):
        self.con, self.sql = con, []

    def execute(self, sql: str, *args: Any) -> Any:
        self.sql.append(sql)
        return self.con.execute(sql, *args)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.con, name)


@pytest.fixture(scope="module")
def con() -> duckdb.DuckDBPyConnection:
    rng = np.random.default_rng(3)
    c = duckdb.connect()
    for name, shift, n in (("ref", 0.0, 2000), ("cur", 0.3, 1500)):
        x = rng.normal(shift, 1.0, n)
        x[::11] = np.nan
        month = np.where(np.arange(n) % 2 == 0, date(2021, 1, 1), date(2021, 2, 1))
        c.register("frame", pa.table({"x": x, "month": month}))
        c.execute(f"CREATE TABLE {name} AS SELECT * FROM frame")
        c.unregister("frame")
    return c


def _uses_per_select(sql: str, wanted) -> list[int]:
    """For every SELECT of the statement, how many nodes `wanted` accepts it holds itself
    (not inside a nested SELECT)."""
    counts = []
    for statement in sqlglot.parse(sql, read="duckdb"):
        for select in statement.find_all(exp.Select):
            counts.append(sum(1 for node in select.find_all(exp.Expression)
                              if wanted(node) and node.find_ancestor(exp.Select) is select))
    return counts


def _is_value(node: exp.Expression) -> bool:
    return isinstance(node, exp.Abs) and node.find(exp.Column) is not None and node.find(exp.Column).name == "x"


def _is_cast_of_x(node: exp.Expression) -> bool:
    return isinstance(node, exp.Cast) and isinstance(node.this, exp.Column) and node.this.name == "x"


def test_every_round_of_the_engine_computes_the_value_once_per_branch(con) -> None:
    recorder = Recorder(con)
    spec = ColumnSpec("s", VALUE, Layout((6.5, 7.0, 7.5, 8.0), (300.0,) * 5, 5.0, 11.0))
    # Small cells and no window before the last depth: the first round, the exact deciles'
    # detail, split rounds and windows all run.
    found = column_statistics(recorder, "ref", "cur", [spec], window_rows=0, rows_per_cell=2, max_split=4,
                              crossing_share=2.0, max_depth=2)
    assert found["s"].ks_numerator is not None
    using = [sql for sql in recorder.sql if any(_uses_per_select(sql, _is_value))]
    assert any("GROUP BY x.k" in s for s in using) and any("GROUP BY x.pcid, x.v" in s for s in using)
    assert any("GROUP BY x.cid," in s for s in using) and any(" OVER (" in s for s in using)
    for sql in using:
        assert max(_uses_per_select(sql, _is_value)) == 1, sql


def test_grouped_statements_and_out_of_range_counts_compute_the_value_once(con, monkeypatch) -> None:
    monkeypatch.setattr(values, "IN_MEMORY_VALUES", 0)  # the cells' statements, not the values read whole
    recorder = Recorder(con)
    groups = Groups("cur", "month", (date(2021, 1, 1), date(2021, 2, 1)), (750, 750))
    drift = GroupedDrift(recorder, "ref", groups).for_group(1)
    result = drift(recorder, "ref", "cur", ["x"], [], extra={"s": VALUE})
    assert result.metrics
    drift_and_profile(recorder, "ref", "cur", ["x"], [], extra={"s": VALUE})
    using = [sql for sql in recorder.sql if any(_uses_per_select(sql, _is_value))]
    assert any("GROUP BY x.g, x.k" in s for s in using)
    outside = [sql for sql in recorder.sql if "ELSE 0 END)" in sql]
    assert len(outside) == 2  # per group, and of one current relation
    for sql in using:
        assert max(_uses_per_select(sql, _is_value)) == 1, sql
    for sql in outside:
        assert max(_uses_per_select(sql, _is_cast_of_x)) == 1, sql
