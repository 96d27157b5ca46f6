"""Rows per class are keyed alike whichever path counts them: one relation (`class_counts`, a
single evaluation's targets and predicted classes) or the groups of a store's periods
(`grouped_class_counts`), for labels whose Python value depends on how rows are fetched."""

from __future__ import annotations

from datetime import date

import duckdb
import pytest

from mlmon.metrics.grouped import Groups
from mlmon.metrics.labels import add_label_counts
from mlmon.metrics.prediction import class_counts, grouped_class_counts

PERIOD = "__period"


@pytest.fixture()
def con() -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    con.execute(f"""CREATE TABLE rows AS SELECT * FROM (VALUES
        (CAST(0.10 AS DECIMAL(4, 2)), 1, CAST(1.0 AS DOUBLE), DATE '2020-01-01', DATE '2021-01-01'),
        (CAST(0.10 AS DECIMAL(4, 2)), 1, CAST(1.0 AS DOUBLE), DATE '2020-01-01', DATE '2021-01-01'),
        (CAST(1.00 AS DECIMAL(4, 2)), 0, NULL, DATE '2020-02-01', DATE '2021-01-01'),
        (NULL, 1, CAST(0.0 AS DOUBLE), NULL, DATE '2021-01-01'),
        (CAST(1.00 AS DECIMAL(4, 2)), 1, CAST(1.0 AS DOUBLE), DATE '2020-02-01', DATE '2021-02-01')
    ) AS t(dec, whole, half, day, "{PERIOD}")""")
    return con


@pytest.mark.parametrize("column", ["dec", "whole", "half", "day"])
def test_one_relation_and_grouped_periods_key_classes_alike(con: duckdb.DuckDBPyConnection, column: str) -> None:
    whole = class_counts(con, "rows", column)
    first, second = grouped_class_counts(con, Groups("rows", PERIOD, (date(2021, 1, 1), date(2021, 2, 1)), (4, 1)),
                                         column)
    assert whole == add_label_counts(dict(first), second.keys(), second.values())
    assert sum(whole.values()) == con.execute(f"SELECT COUNT({column}) FROM rows").fetchone()[0]


def test_classes_are_canonical_labels(con: duckdb.DuckDBPyConnection) -> None:
    assert class_counts(con, "rows", "dec") == {"0.1": 2, "1": 2}
    assert class_counts(con, "rows", "half") == {"1": 3, "0": 1}
    assert class_counts(con, "rows", "whole") == {"1": 4, "0": 1}


def test_counts_of_one_class_spelled_two_ways_add_up() -> None:
    assert add_label_counts({"1": 2}, [1, 1.0, True, "x"], [3, 4, 5, 6]) == {"1": 9, "true": 5, "x": 6}
