"""Text columns that hold numbers and a marker (mlmon.nodes.text_numbers), at their boundaries."""

from __future__ import annotations

import duckdb
import pytest
from sqlglot import exp

from mlmon.nodes.text_numbers import MAX_MARKERS, TextNumbers, advice, count_and_find


def found_in(columns: dict[str, list[str | None]]) -> tuple[int, list[TextNumbers]]:
    con = duckdb.connect()
    names = list(columns)
    rows = list(zip(*columns.values()))
    con.execute("CREATE TABLE t (" + ", ".join(f'"{n}" VARCHAR' for n in names) + ")")
    con.executemany(f"INSERT INTO t VALUES ({', '.join('?' for _ in names)})", rows)
    return count_and_find(con, exp.to_table("t"))


def test_half_numbers_and_one_marker_is_reported_less_than_half_is_not():
    n, found = found_in({"half": ["1", "2", "NA", "NA", None], "less": ["1", "2", "NA", "NA", "NA"]})
    assert n == 5
    assert found == [TextNumbers("half", 4, 2, ("NA",))]  # two of five numbers is less than half


def test_up_to_two_distinct_markers_are_reported_three_are_codes():
    assert MAX_MARKERS == 2
    _, found = found_in({"two": ["1", "2", "3", "NA", "-", None], "three": ["1", "2", "3", "NA", "-", "?"]})
    assert found == [TextNumbers("two", 5, 3, ("-", "NA"))]


def test_numbers_only_or_markers_only_are_not_reported():
    n, found = found_in({"numbers": ["1", None, "-3e2"], "markers": ["NA", "NA", None], "empty": [None] * 3})
    assert n == 3 and found == []


def test_advice_groups_columns_by_their_markers():
    texts = advice([TextNumbers("a", 10, 9, ("NA",)), TextNumbers("b", 8, 6, ("-", "NA")),
                    TextNumbers("c", 1000, 999, ("NA",))])
    assert texts == [
        "2 columns are read as text though their values are numbers but for 'NA': 'a' (9 of 10 values), "
        "'c' (999 of 1,000 values); if 'NA' marks a missing value, add `options: {nullstr: ['NA', '']}` to the dataset",
        "column is read as text though its values are numbers but for '-' and 'NA': 'b' (6 of 8 values); "
        "if '-' and 'NA' mark a missing value, add `options: {nullstr: ['-', 'NA', '']}` to the dataset",
    ]


@pytest.mark.parametrize("value", ["1", "1.5", "-2", "1e3", " 7 "])
def test_a_number_as_duckdb_reads_it_counts_as_a_number(value):
    _, found = found_in({"v": [value, value, "NA"]})
    assert found == [TextNumbers("v", 3, 2, ("NA",))]
