"""Which segments an evaluation computes (mlmon.evaluation.segments), on small DuckDB relations."""

from __future__ import annotations

import duckdb
import pytest

from mlmon.errors import Location, NodeError
from mlmon.evaluation.segments import (MIN_SEGMENT_ROWS, Segment, _small_warning, find_segments,
                                       require_segment_columns, segment_label, segment_relation)


@pytest.fixture
def con():
    c = duckdb.connect()
    # current: a 150 rows, b 99, c 100, NULL 40; reference: a 100, b 300, d 120, NULL 5
    c.execute("CREATE TABLE cur AS SELECT region, 1.0 AS x FROM ("
              "SELECT 'a' AS region FROM range(150) UNION ALL SELECT 'b' FROM range(99) "
              "UNION ALL SELECT 'c' FROM range(100) UNION ALL SELECT NULL FROM range(40))")
    c.execute("CREATE TABLE ref AS SELECT region, 2.0 AS x FROM ("
              "SELECT 'a' AS region FROM range(100) UNION ALL SELECT 'b' FROM range(300) "
              "UNION ALL SELECT 'd' FROM range(120) UNION ALL SELECT NULL FROM range(5))")
    yield c
    c.close()


def test_segments_need_the_minimum_rows_on_both_sides(con):
    assert MIN_SEGMENT_ROWS == 100
    big, small = find_segments(con, "region", "cur", "ref")
    assert big == [Segment("region", "a", 150, 100)]
    assert small == [Segment("region", "b", 99, 300), Segment("region", "c", 100, 0), Segment("region", "d", 0, 120)]
    assert [s.label for s in small] == ["region=b", "region=c", "region=d"]


def test_segments_of_numbers_are_labelled_by_their_text_in_text_order(con):
    con.execute("CREATE TABLE nums AS SELECT (i % 3) * 5 AS k FROM range(900) AS r(i)")
    big, small = find_segments(con, "k", "nums", "nums")
    assert [(s.value, s.n_current, s.n_reference) for s in big] == [("0", 300, 300), ("10", 300, 300),
                                                                    ("5", 300, 300)]
    assert small == []
    assert big[1].label == "k=10" and segment_label("k", "10") == "k=10"


def test_the_small_segments_warning_names_their_rows(con):
    _, small = find_segments(con, "region", "cur", "ref")
    assert _small_warning("region", small) == (
        "segments of region under 100 rows on a side are not computed: region=b (99 rows, 300 in the reference); "
        "region=c (100 rows, 0 in the reference); region=d (0 rows, 120 in the reference)")
    big = [Segment("r", "x", 1_234, 5_678)]
    assert _small_warning("r", big).endswith("r=x (1,234 rows, 5,678 in the reference)")
    assert _small_warning("r", [Segment("r", "y", 1, 1)]).endswith("r=y (1 row, 1 in the reference)")


def test_a_segment_relation_holds_the_rows_of_its_value_only(con):
    assert con.execute(f"SELECT count(*) FROM {segment_relation('cur', 'region', 'a')}").fetchone() == (150,)
    assert con.execute(f"SELECT count(*) FROM {segment_relation('cur', 'region', 'z')}").fetchone() == (0,)
    con.execute("CREATE TABLE q AS SELECT * FROM (VALUES ('it''s', 1), ('x', 2)) AS t(\"odd col\", n)")
    rows = con.execute(f"SELECT n FROM {segment_relation('q', 'odd col', 'it' + chr(39) + 's')}").fetchall()
    assert rows == [(1,)]


def test_segment_columns_must_be_on_both_sides(con):
    require_segment_columns(con, ["region"], "cur", "ref")
    require_segment_columns(con, [], "cur", "ref")
    with pytest.raises(NodeError) as raised:
        require_segment_columns(con, ["regoin"], "cur", "ref")
    assert "segment column regoin not in the data" in str(raised.value)
    assert raised.value.hint == "did you mean 'region'?"
    with pytest.raises(NodeError) as raised:
        require_segment_columns(con, ["region", "zz", "yy"], "cur", "ref")
    assert "segment columns zz, yy not in the data" in str(raised.value)
    assert raised.value.hint == "segment by columns the data and reference both hold"
    with pytest.raises(NodeError) as raised:
        require_segment_columns(con, ["region"], "cur", "(SELECT x FROM ref)")
    assert "segment column region not in the reference rows" in str(raised.value)


def test_a_missing_segment_column_is_reported_at_the_line_of_its_entry(con):
    at = Location("monitors/e.yml", 7, 5)
    with pytest.raises(NodeError) as raised:
        require_segment_columns(con, ["zz"], "cur", "ref", location=at)
    assert raised.value.location == at
    assert str(raised.value).startswith("monitors/e.yml:7:5: segment column zz not in the data")
