"""Seeded, uniform, engine-independent samples drawn in SQL (mlmon.metrics.sqlsample)."""

from __future__ import annotations

import duckdb
import pandas as pd
import numpy as np
import pyarrow as pa
import pytest
from scipy import stats
from sqlglot import exp

from mlmon.metrics import sqlsample, values
from mlmon.metrics.sqlsample import (canonical_order, draw_hash_sample, last_draw, portable_sample_sql, sample_query,
                                    scramble, scramble_sql)


@pytest.fixture
def con():
    c = duckdb.connect()
    rng = np.random.default_rng(0)
    n = 20_000
    c.register("__load", pa.table({"i": np.arange(n), "x": rng.normal(size=n)}))
    c.execute("CREATE TABLE t AS SELECT * FROM __load")
    c.unregister("__load")
    yield c
    c.close()


def test_sample_is_bounded_and_independent_of_row_order(con):
    first = draw_hash_sample(con, "t", ["i", "x"], ["i", "x"], 1_000, 7)
    again = draw_hash_sample(con, "(SELECT * FROM t ORDER BY x DESC)", ["i", "x"], ["i", "x"], 1_000, 7)
    assert len(first) == 1_000
    assert first.equals(again)
    other = draw_hash_sample(con, "t", ["i", "x"], ["i", "x"], 1_000, 8)
    assert len(set(first["i"]) & set(other["i"])) < 200
    assert len(draw_hash_sample(con, "t", ["i"], ["i", "x"], 1_000, 7, where="x > 3")) < 1_000


def test_a_key_decides_the_draw_and_other_columns_do_not(con):
    by_key = draw_hash_sample(con, "t", ["i"], ["i"], 500, 3)
    changed = draw_hash_sample(con, "(SELECT i, x + 1 AS x FROM t)", ["i"], ["i"], 500, 3)
    assert by_key.equals(changed)
    assert not by_key.equals(draw_hash_sample(con, "t", ["i"], ["x"], 500, 3))


def test_identical_rows_are_distinct_draws():
    """Half the rows are copies of one row: a uniform sample holds about half copies, whereas a
    hash of the contents alone takes all copies or none."""
    con = duckdb.connect()
    con.execute("CREATE TABLE d AS SELECT CASE WHEN i % 2 = 0 THEN 0.5 ELSE i / 7.0 END AS x, 'a' AS c "
                "FROM range(4000) AS r(i)")
    shares = []
    for seed in range(20):
        sample = draw_hash_sample(con, "d", ["x"], ["x", "c"], 400, seed)
        shares.append(float((sample["x"] == 0.5).mean()))
    # 400 draws without replacement from 4000 rows, half copies: sd of the share about 0.024.
    assert abs(np.mean(shares) - 0.5) < 0.02 and min(shares) > 0.38 and max(shares) < 0.62


def test_sample_is_uniform_over_rows():
    """Every row is equally likely to be drawn: over many seeds the counts per row are binomial."""
    con = duckdb.connect()
    con.execute("CREATE TABLE u AS SELECT i % 10 AS g, (i % 3) * 0.25 AS x FROM range(200) AS r(i)")
    con.execute("CREATE TABLE numbered AS SELECT row_number() OVER () AS rid, * FROM u")
    hits = np.zeros(10)
    seeds = 300
    for seed in range(seeds):
        sample = draw_hash_sample(con, "u", ["g"], ["g", "x"], 50, seed)
        hits += np.bincount(sample["g"].astype(int), minlength=10)
    # Each group holds 20 of 200 rows: expected 5 draws per seed.
    chi2 = stats.chisquare(hits, np.full(10, seeds * 5.0))
    assert chi2.pvalue > 0.001


def test_the_scramble_is_exact_integer_arithmetic_and_spreads_ordinals():
    con = duckdb.connect()
    ordinals = np.arange(1, 5001)
    in_sql = np.array([r[0] for r in con.execute(
        f"SELECT {scramble_sql('i', 42)} FROM range(1, 5001) AS r(i) ORDER BY i").fetchall()])
    assert np.array_equal(in_sql, scramble(ordinals, 42))
    assert len(set(in_sql)) == len(in_sql)  # no ties
    # The 500 smallest draws are spread over the ordinals like a uniform sample of them.
    picked = ordinals[np.argsort(in_sql)[:500]]
    assert stats.kstest(picked / 5000.0, "uniform").pvalue > 0.01
    assert abs(np.corrcoef(picked[:-1], picked[1:])[0, 1]) < 0.1


def _reference_scramble(ordinal: int, seed: int) -> int:
    """The documented recipe in Python's unbounded integers: offset the ordinal by the seed, then
    three multiplications modulo 2^31 - 1 with xor-shifts by 15 and 13 between them."""
    p = 2**31 - 1
    x = (ordinal + (seed * 1_000_003 + 12_345) % p) % p
    x = (x * 48_271) % p
    x ^= x >> 15
    x = (x * 69_621) % p
    x ^= x >> 13
    return (x * 40_692) % p


def test_the_scramble_is_the_documented_recipe():
    """The draws are part of the results: a change to the recipe would redraw every stored sample."""
    ordinals = np.array([0, 1, 2, 1_000, 123_456_789, 2**31 - 2])
    for seed in (0, 1, 42, 2**40):
        expected = [_reference_scramble(int(o), seed) for o in ordinals]
        assert scramble(ordinals, seed).tolist() == expected
        assert all(0 <= x < 2**31 for x in expected)
    con = duckdb.connect()
    assert con.execute(f"SELECT {scramble_sql('41', 7)}").fetchone()[0] == _reference_scramble(41, 7)


def test_the_sample_is_the_rows_with_the_smallest_scrambled_ordinals():
    con = duckdb.connect()
    con.execute("CREATE TABLE s AS SELECT (i * 7) % 50 AS v FROM range(50) AS r(i)")
    # the canonical order of the rows is the order of v, which takes every value 0..49 once
    draws = scramble(np.arange(1, 51), 5)
    expected = sorted((np.argsort(draws)[:8]).tolist())  # ordinal k is the row v = k - 1
    sample = draw_hash_sample(con, "s", ["v"], ["v"], 8, 5)
    assert sample["v"].tolist() == expected
    assert draw_hash_sample(con, "s", ["v"], ["v"], 8, 5, where="v >= 25")["v"].min() >= 25
    assert len(draw_hash_sample(con, "s", ["v"], ["v"], 80, 5)) == 50
    assert draw_hash_sample(con, "s", ["v"], ["v"], 0, 5).empty


def test_rows_tied_on_the_key_are_ordered_by_their_other_columns():
    """With a key that repeats, the other columns decide the order: the sample stays the same
    whatever order the rows are stored in."""
    con = duckdb.connect()
    con.execute("CREATE TABLE k AS SELECT i % 3 AS g, i AS x FROM range(300) AS r(i)")
    first = draw_hash_sample(con, "k", ["g", "x"], ["g"], 40, 1)
    for shuffled in ("(SELECT * FROM k ORDER BY x DESC)", "(SELECT * FROM k ORDER BY (x * 37) % 101)"):
        assert first.equals(draw_hash_sample(con, shuffled, ["g", "x"], ["g"], 40, 1))


def test_a_key_column_the_relation_lacks_is_an_error():
    con = duckdb.connect()
    con.execute("CREATE TABLE n AS SELECT 1 AS a")
    with pytest.raises(ValueError, match="no column 'no_such_key'"):
        draw_hash_sample(con, "n", ["a"], ["no_such_key"], 1, 0)


def test_only_types_both_engines_order_alike_take_part_in_the_order():
    sql = portable_sample_sql("t", ["a"], [("a", "decimal(18,3)"), ("b", "VARCHAR"), ("l", "INTEGER[]"),
                                           ("m", "MAP(VARCHAR, INTEGER)"), ("c", "timestamp with time zone")], 3, 1)
    assert 'ORDER BY "a" ASC NULLS FIRST, "b" ASC NULLS FIRST, "c" ASC NULLS FIRST)' in sql
    assert '"l"' not in sql and '"m"' not in sql
    assert "ROW_NUMBER() OVER () AS" in portable_sample_sql("t", ["l"], [("l", "BLOB")], 3, 1)


def test_a_sample_of_lists_only_is_still_drawn():
    con = duckdb.connect()
    con.execute("CREATE TABLE lists AS SELECT [i, i + 1] AS l FROM range(10) AS r(i)")
    assert len(con.execute(portable_sample_sql("lists", ["l"], [("l", "BIGINT[]")], 4, 3)).fetchall()) == 4


def test_canonical_order_sorts_rows_by_their_values_with_missing_last():
    frame = pd.DataFrame({"a": [2.0, 1.0, np.nan, 1.0], "b": ["x", "z", "y", "w"]}, index=[9, 8, 7, 6])
    ordered = canonical_order(frame)
    assert ordered["a"].tolist()[:3] == [1.0, 1.0, 2.0] and np.isnan(ordered["a"].iloc[3])
    assert ordered["b"].tolist() == ["w", "z", "x", "y"]
    assert ordered.index.tolist() == [0, 1, 2, 3]
    two = canonical_order(pd.DataFrame({"a": [2.5, 1.5]}, index=[4, 3]))
    assert two["a"].tolist() == [1.5, 2.5] and two.index.tolist() == [0, 1]
    one = canonical_order(pd.DataFrame({"a": [1.5]}, index=[4]))
    assert one.index.tolist() == [0]
    no_columns = canonical_order(pd.DataFrame(index=[5, 3, 4]))
    assert no_columns.index.tolist() == [0, 1, 2] and no_columns.shape == (3, 0)


def test_canonical_order_of_a_column_mixing_types_compares_their_text():
    ordered = canonical_order(pd.DataFrame({"o": ["b", 1, "a", 2.5]}, dtype=object))
    assert ordered["o"].tolist() == [1, 2.5, "a", "b"]


def test_integers_and_booleans_are_read_as_floats_whichever_engine_typed_them():
    frame = pd.DataFrame({
        "i": pd.Series([3, 1], dtype="int32"),
        "n": pd.Series([2, None], dtype="Int64"),
        "b": pd.Series([True, False]),
        "spark_b": pd.Series([True, None], dtype=object),
        "spark_f": pd.Series([None, False], dtype=object),
        "nothing": pd.Series([None, None], dtype=object),
        "t": ["p", "q"],
    })
    ordered = canonical_order(frame)
    assert {c: str(ordered[c].dtype) for c in ("i", "n", "b", "spark_b")} == dict.fromkeys(
        ("i", "n", "b", "spark_b"), "float64")
    assert ordered["i"].tolist() == [1.0, 3.0] and ordered["b"].tolist() == [0.0, 1.0]
    assert ordered["spark_b"].iloc[0] is not None and np.isnan(ordered["spark_b"].iloc[0])
    assert ordered["spark_b"].iloc[1] == 1.0
    assert ordered["spark_f"].iloc[0] == 0.0 and np.isnan(ordered["spark_f"].iloc[1])
    assert list(ordered.columns) == list(frame.columns)  # no index column left behind
    assert ordered["n"].iloc[1] == 2.0 and np.isnan(ordered["n"].iloc[0])
    assert ordered["nothing"].dtype == object and ordered["t"].tolist() == ["q", "p"]
    untouched = pd.DataFrame({"x": [0.5, 0.25], "t": ["a", "b"]})
    assert canonical_order(untouched)["x"].tolist() == [0.25, 0.5]
    assert canonical_order(pd.DataFrame({"o": pd.Series(["yes", True], dtype=object)}))["o"].dtype == object


def test_ordinals_of_any_integer_or_float_type_scramble_alike():
    """Spark hands row numbers over as int32, pandas as float64 once a NULL is near: the draw
    must not depend on it (no int32 overflow, no float arithmetic)."""
    expected = [_reference_scramble(o, 3) for o in (1, 2, 2**31 - 2)]
    for dtype in (np.int32, np.float64, np.uint32):
        assert scramble(np.array([1, 2, 2**31 - 2], dtype=dtype), 3).tolist() == expected
    assert scramble([1, 2, 2**31 - 2], 3).tolist() == expected


def test_canonical_order_compares_numbers_as_numbers():
    ordered = canonical_order(pd.DataFrame({"a": [10.0, 9.0, 100.0, -1.0]}))
    assert ordered["a"].tolist() == [-1.0, 9.0, 10.0, 100.0]


def test_a_key_column_of_a_type_engines_order_differently_is_left_out_of_the_order():
    con = duckdb.connect()
    con.execute("CREATE TABLE l AS SELECT [i % 3] AS l, i FROM range(30) AS r(i)")
    sql = sample_query(con, "l", ["i"], ["l"], 5, 1).sql("duckdb")
    assert 'OVER (ORDER BY "i" ASC NULLS FIRST)' in sql and '"l" ASC' not in sql
    assert len(draw_hash_sample(con, "l", ["i"], ["l"], 5, 1)) == 5


def test_a_sample_read_on_some_columns_sorts_on_them_only_and_draws_the_whole_row_sample():
    """Rows tied on the columns read differ elsewhere: sorting on the read columns alone takes
    the same rows as the order of the whole row, and the other columns stay out of the sort."""
    con = duckdb.connect()
    con.execute("CREATE TABLE w AS SELECT i % 13 AS g, (i % 5) * 0.5 AS x, 'note ' || (i * 7919 % 1000) AS note "
                "FROM range(3000) AS r(i)")
    whole_row = [("g", "BIGINT"), ("x", "DOUBLE"), ("note", "VARCHAR")]
    for seed in (0, 5):
        expected = canonical_order(con.execute(portable_sample_sql("w", ["g", "x"], whole_row, 700, seed)).df())
        assert draw_hash_sample(con, "w", ["g", "x"], ["g", "x"], 700, seed).equals(expected)
        assert draw_hash_sample(con, "w", ["g"], ["g", "x", "note"], 700, seed).equals(expected[["g"]].pipe(canonical_order))
    window = sample_query(con, "w", ["g", "x"], ["g", "x"], 700, 0).find(exp.Window)
    assert {c.name for c in window.find_all(exp.Column)} == {"g", "x"}
    # A column read but not hashed still needs the whole row's order.
    window = sample_query(con, "w", ["g", "note"], ["g"], 700, 0).find(exp.Window)
    assert {c.name for c in window.find_all(exp.Column)} == {"g", "x", "note"}


# --- the cheaper query takes the rows of the definition -----------------------------------------


def _rows(con, sql: str) -> list[str]:
    """The rows as text, sorted: NaN and NULL compare equal to themselves."""
    return sorted(repr(r) for r in con.execute(sql).fetchall())


@pytest.fixture
def awkward():
    """Ties everywhere: a low-cardinality first column with NULLs, floats with NaN, NULL, -0.0
    and 0.0, text with NULLs, booleans, whole rows repeated, and a list column (no order)."""
    c = duckdb.connect()
    c.execute("""CREATE TABLE awkward AS SELECT
        CASE WHEN i % 11 = 0 THEN NULL ELSE i % 7 END AS a,
        CASE WHEN i % 13 = 0 THEN 'nan'::DOUBLE WHEN i % 17 = 0 THEN NULL WHEN i % 5 = 0 THEN -0.0
             WHEN i % 3 = 0 THEN 0.0 ELSE ((i * 7919) % 601) / 8.0 END AS x,
        CASE WHEN i % 19 = 0 THEN NULL ELSE 'k' || ((i * 31) % 23) END AS s,
        i % 4 = 0 AS b,
        [i % 7, i % 3] AS l
        FROM range(3000) AS r(i), range(2) AS copies(j)""")
    yield c
    c.close()


AWKWARD_TYPES = {"a": "BIGINT", "x": "DOUBLE", "s": "VARCHAR", "b": "BOOLEAN", "l": "BIGINT[]"}


@pytest.mark.parametrize("order", [["a", "x", "s", "b", "l"], ["x", "s", "l", "a", "b"], ["s", "b", "a", "x"]])
@pytest.mark.parametrize("where", [None, "x > 0 OR s IS NULL"])
def test_ranking_on_a_prefix_first_takes_the_rows_of_the_definition(awkward, order, where):
    ordered = [(c, AWKWARD_TYPES[c]) for c in order]
    select = [c for c in order if c != "l"]
    rows = awkward.execute(f"SELECT COUNT(*) FROM awkward AS t{' WHERE ' + where if where else ''}").fetchone()[0]
    for seed in (0, 3):
        for size in (1, 37, 800, rows - 1):
            definition = portable_sample_sql("awkward", select, ordered, size, seed, where)
            expected = awkward.execute(definition).fetchall()
            assert len(expected) == size
            for prefix in (1, 2, 3, None):
                cheaper = portable_sample_sql("awkward", select, ordered, size, seed, where, rows=rows, prefix=prefix)
                # the same rows in the same order (by draw): identical rows are interchangeable
                assert repr(awkward.execute(cheaper).fetchall()) == repr(expected), (seed, size, prefix)


def test_a_sample_of_all_rows_or_none_reads_no_order(awkward):
    ordered = [(c, AWKWARD_TYPES[c]) for c in ("a", "x", "s")]
    everything = portable_sample_sql("awkward", ["a", "x", "s"], ordered, 6000, 1, rows=6000, prefix=1)
    assert "OVER" not in everything
    assert _rows(awkward, everything) == _rows(awkward, "SELECT a, x, s FROM awkward")
    assert _rows(awkward, portable_sample_sql("awkward", ["a"], ordered, 9000, 1, rows=6000)) == \
        _rows(awkward, "SELECT a FROM awkward")
    assert awkward.execute(portable_sample_sql("awkward", ["a"], ordered, 0, 1, rows=6000)).fetchall() == []


class _Counting:
    """A connection that keeps the text of every statement it runs."""

    def __init__(self, con: duckdb.DuckDBPyConnection) -> None:
        self.con, self.statements = con, []

    def execute(self, sql: str):
        self.statements.append(sql)
        return self.con.execute(sql)


def test_a_known_row_count_within_the_size_takes_every_row_without_counting_them(con):
    counting = _Counting(con)
    everything = draw_hash_sample(counting, "t", ["i", "x"], ["i", "x"], 20_000, 7, rows=20_000)
    assert everything.equals(draw_hash_sample(con, "t", ["i", "x"], ["i", "x"], 20_000, 7))
    assert len(everything) == 20_000
    assert len(counting.statements) == 2 and not any("COUNT" in s for s in counting.statements)  # DESCRIBE, rows


def test_rows_that_fit_in_memory_are_read_once_and_drawn_without_a_window(con, monkeypatch):
    counting = _Counting(con)
    drawn = draw_hash_sample(counting, "t", ["i", "x"], ["i", "x"], 1_000, 7, rows=20_000)
    assert len(drawn) == 1_000
    assert len(counting.statements) == 2  # DESCRIBE, the rows
    assert not any("COUNT(" in s or "OVER" in s for s in counting.statements)
    counting.statements.clear()
    monkeypatch.setattr(values, "IN_MEMORY_VALUES", 0)  # the engine's draw: counts, plans, numbers rows
    assert drawn.equals(draw_hash_sample(counting, "t", ["i", "x"], ["i", "x"], 1_000, 7))
    assert any("COUNT(*)" in s for s in counting.statements) and any("OVER" in s for s in counting.statements)


def test_rows_beyond_memory_are_not_read_whole(con, monkeypatch):
    """`fits_in_memory` counts the read columns and their NULL flags: 20,000 rows of 2 + 2 fit
    in 80,000 values and not in one less. Without a row count, at most one row more than fits
    is read before the engine's draw takes over."""
    expected = draw_hash_sample(con, "t", ["i", "x"], ["i", "x"], 1_000, 7)
    for limit, whole in ((80_000, True), (79_999, False)):
        monkeypatch.setattr(values, "IN_MEMORY_VALUES", limit)
        for rows in (20_000, None):
            counting = _Counting(con)
            assert draw_hash_sample(counting, "t", ["i", "x"], ["i", "x"], 1_000, 7, rows=rows).equals(expected)
            assert any("OVER" in s for s in counting.statements) is not whole
            read_whole = [s for s in counting.statements if "__mlmon_null_" in s]
            assert bool(read_whole) is (whole or rows is None)
            assert all(s.endswith(f"LIMIT {limit // 4 + 1}") for s in read_whole)


def test_sample_query_ranks_on_a_leading_column_that_nearly_identifies_rows():
    """Wide rows whose first column is continuous: ranked on it alone, then the few rows of the
    drawn ordinals ordered on the rest; the rows are the definition's."""
    con = duckdb.connect()
    columns = ", ".join(f"(i * {p}) % 97 AS c{k}" for k, p in enumerate((3, 5, 7, 11, 13)))
    con.execute(f"CREATE TABLE wide AS SELECT (i * 7919) % 20011 / 3.0 AS lead, {columns}, "
                "'t' || (i % 9) AS tag FROM range(20000) AS r(i)")
    names = ["lead", *[f"c{k}" for k in range(5)], "tag"]
    types = [("lead", "DOUBLE"), *[(f"c{k}", "BIGINT") for k in range(5)], ("tag", "VARCHAR")]
    query = sample_query(con, "wide", names, names, 300, 9)
    assert query.find(exp.CTE).alias == "__mlmon_ranked"
    # Counted after `where`: the draw is the definition's over the rows that meet it.
    where = "c0 < 60 AND tag <> 't3'"
    assert _rows(con, sample_query(con, "wide", names, names, 300, 9, where).sql("duckdb")) == \
        _rows(con, portable_sample_sql("wide", names, types, 300, 9, where))
    # No fewer rows than asked for: all of them, read without a sort.
    everything = sample_query(con, "wide", names, names, 30_000, 9).sql("duckdb")
    assert "OVER" not in everything and _rows(con, everything) == _rows(con, f"SELECT {', '.join(names)} FROM wide")
    ranked = query.find(exp.CTE).find(exp.Window)
    assert {c.name for c in ranked.find_all(exp.Column)} == {"lead"}
    assert _rows(con, query.sql("duckdb")) == _rows(con, portable_sample_sql("wide", names, types, 300, 9))
    # A leading column of few values: ranked on it and the next, which tell rows apart.
    reordered = ["tag", *names[:-1]]
    query = sample_query(con, "wide", reordered, reordered, 300, 9)
    assert {c.name for c in query.find(exp.CTE).find(exp.Window).find_all(exp.Column)} == {"tag", "lead"}
    assert _rows(con, query.sql("duckdb")) == _rows(con, portable_sample_sql("wide", reordered, [types[-1], *types[:-1]],
                                                                             300, 9))
    # Two columns, the first of few values: one pass on both, the same rows.
    query = sample_query(con, "wide", ["tag", "c0"], ["tag", "c0"], 300, 9)
    assert "__mlmon_ranked" not in query.sql("duckdb")
    assert _rows(con, query.sql("duckdb")) == _rows(con, portable_sample_sql(
        "wide", ["tag", "c0"], [("tag", "VARCHAR"), ("c0", "BIGINT")], 300, 9))


def _brute_force_last(rows: int, size: int, seed: int) -> tuple[int, int]:
    ordinals = np.arange(1, rows + 1)
    draws = scramble(ordinals, seed)
    last = np.lexsort((ordinals, draws))[size - 1]
    return int(draws[last]), int(ordinals[last])


def test_the_cut_is_the_last_drawn_ordinal(monkeypatch):
    for rows, size, seed in ((2, 1, 0), (10, 3, 1), (1_000, 999, 2), (5_000, 1, 3), (30_000, 2_000, 5),
                             (200_000, 150_000, 6)):
        assert last_draw(rows, size, seed) == _brute_force_last(rows, size, seed)
    # Ordinals scrambled a chunk at a time: the same cut across chunk boundaries.
    monkeypatch.setattr(sqlsample, "_CHUNK", 1_000)
    for size in (1, 999, 1_000, 1_001, 4_999):
        assert last_draw(5_000, size, 7) == _brute_force_last(5_000, size, 7)
    for size, rows in ((0, 10), (10, 10), (11, 10)):
        with pytest.raises(ValueError, match="0 < size < rows"):
            last_draw(rows, size, 1)


def test_a_cut_at_draw_zero_keeps_ordinals_by_their_ordinal_too():
    """Draw 0 is the one value two ordinals can share; there the ordinal decides the tie."""
    p = 2**31 - 1
    # The seed whose offset sends ordinal 50 to 0, which every later stage keeps at 0.
    seed = (p - 50 - 12_345) * pow(1_000_003, -1, p) % p
    assert scramble(np.array([50]), seed).tolist() == [0]
    assert last_draw(100, 1, seed) == (0, 50)
    con = duckdb.connect()
    con.execute("CREATE TABLE z AS SELECT i AS v FROM range(100) AS r(i)")
    sql = portable_sample_sql("z", ["v"], [("v", "BIGINT")], 1, seed, rows=100)
    assert "__mlmon_ordinal <= 50" in sql and "__mlmon_draw = c.__mlmon_cut" in sql
    assert con.execute(sql).fetchall() == [(49,)]
    assert draw_hash_sample(con, "z", ["v"], ["v"], 1, seed)["v"].tolist() == [49]  # read whole, numbered in numpy
    # Ranked on a prefix first: the same tie-break finds the tie group holding ordinal 50.
    con.execute("CREATE TABLE z3 AS SELECT i % 10 AS a, i % 7 AS b, i AS v FROM range(100) AS r(i)")
    ordered = [("a", "BIGINT"), ("b", "BIGINT"), ("v", "BIGINT")]
    for size in (1, 2, 30):
        ranked = portable_sample_sql("z3", ["a", "b", "v"], ordered, size, seed, rows=100, prefix=1)
        assert "__mlmon_ranked" in ranked
        assert con.execute(ranked).fetchall() == con.execute(
            portable_sample_sql("z3", ["a", "b", "v"], ordered, size, seed)).fetchall()


# --- small data drawn in numpy takes the rows of the definition ---------------------------------


def _assert_same_rows(found: pd.DataFrame, expected: pd.DataFrame) -> None:
    """Equal values, missing ones alike (a text column of NULLs only is read as str or object)."""
    def plain(frame: pd.DataFrame) -> pd.DataFrame:
        return frame.astype(object).where(frame.notna(), None)
    pd.testing.assert_frame_equal(plain(found), plain(expected))


def _both_ways(con, monkeypatch, *args, **kwargs) -> tuple[pd.DataFrame, pd.DataFrame, bool]:
    """(drawn in memory when it can be, drawn by the engine, whether the first was drawn in
    memory: its rows read whole and no window numbered them)."""
    counting = _Counting(con)
    whole = draw_hash_sample(counting, *args, **kwargs)
    read_whole = not any("OVER" in s for s in counting.statements)  # the engine numbers rows in a window
    with monkeypatch.context() as patch:
        patch.setattr(values, "IN_MEMORY_VALUES", 0)
        by_engine = draw_hash_sample(con, *args, **kwargs)
    return whole, by_engine, read_whole


@pytest.mark.parametrize("hashed", [["a", "x", "s", "b", "l"], ["x", "s"], ["s", "b", "a", "x"], ["b"], ["l"]])
@pytest.mark.parametrize("where", [None, "x > 0 OR s IS NULL"])
def test_rows_read_whole_are_drawn_as_the_engine_draws_them(awkward, monkeypatch, hashed, where):
    """Ties everywhere, NULL first, NaN after every number, -0.0 beside 0.0, text, booleans, whole
    rows repeated, a list column outside the order: the same rows as the engine's numbering."""
    rows = awkward.execute(f"SELECT COUNT(*) FROM awkward AS t{' WHERE ' + where if where else ''}").fetchone()[0]
    for seed in (0, 3):
        for size in (1, 37, 800, rows - 1):
            for select in (["a", "x", "s", "b"], ["x"]):
                for known in (None, rows):
                    whole, by_engine, read_whole = _both_ways(awkward, monkeypatch, "awkward", select, hashed, size,
                                                              seed, where=where, rows=known)
                    assert read_whole
                    assert len(whole) == size
                    _assert_same_rows(whole, by_engine)


@pytest.fixture
def typed():
    """Dates, timestamps (with and without a time zone), text beyond ASCII, decimals and
    integers beyond 2^53, each with NULLs and ties."""
    c = duckdb.connect()
    c.execute("SET TimeZone = 'UTC'")
    c.execute("""CREATE TABLE typed AS SELECT
        CASE WHEN i % 9 = 0 THEN NULL ELSE DATE '2024-01-01' + CAST(i % 40 AS INTEGER) END AS d,
        CASE WHEN i % 10 = 0 THEN NULL ELSE TIMESTAMP '2024-01-01' + INTERVAL (i % 50) MINUTE END AS ts,
        CASE WHEN i % 11 = 0 THEN NULL ELSE TIMESTAMPTZ '2024-01-01 00:00:00+00' + INTERVAL (i % 30) HOUR END AS tz,
        CASE WHEN i % 12 = 0 THEN NULL ELSE ['é', 'e', 'Z', 'z', 'ß', '日本', 'ä', ''][1 + i % 8] END AS u,
        CASE WHEN i % 13 = 0 THEN NULL ELSE CAST((i % 17) / 4 AS DECIMAL(9, 2)) END AS small_decimal,
        CASE WHEN i % 14 = 0 THEN NULL ELSE CAST((i % 19) / 8 AS DECIMAL(20, 3)) END AS wide_decimal,
        CASE WHEN i % 15 = 0 THEN NULL ELSE 9007199254740993 + (i % 5) END AS huge,
        CASE WHEN i % 16 = 0 THEN NULL ELSE i % 21 END AS n
        FROM range(2500) AS r(i)""")
    yield c
    c.close()


@pytest.mark.parametrize("hashed, exact", [(["d", "n"], True), (["ts", "u"], True), (["tz", "n", "u"], True),
                                           (["small_decimal", "d"], True), (["u"], True),
                                           (["wide_decimal", "n"], False), (["huge", "n"], False)])
def test_values_pandas_orders_differently_fall_back_to_the_engine(typed, monkeypatch, hashed, exact):
    """Dates, timestamps, text beyond ASCII and short decimals are numbered in memory; decimals
    beyond 15 digits and integers beyond 2^53, which doubles may not tell apart, are drawn by
    the engine. Either way, the rows of the definition."""
    for size in (3, 400):
        whole, by_engine, read_whole = _both_ways(typed, monkeypatch, "typed", hashed, hashed, size, 5, rows=2500)
        assert len(whole) == size
        _assert_same_rows(whole, by_engine)
        assert read_whole is exact
    from mlmon.metrics.row_order import null_flag, row_ordinals
    frame = typed.execute(f"SELECT {', '.join(hashed)}, {', '.join(f'{c} IS NULL AS {null_flag(i)}' for i, c in enumerate(hashed))} "
                          "FROM typed").df()
    types = {r[0]: str(r[1]) for r in typed.execute("DESCRIBE typed").fetchall()}
    assert (row_ordinals(frame, hashed, types) is not None) is exact


def _frame(**columns) -> tuple[pd.DataFrame, list[str]]:
    """A frame of `columns` (None: NULL) with their NULL flags, as the rows read whole are."""
    from mlmon.metrics.row_order import null_flag
    frame = pd.DataFrame(columns)
    for index, name in enumerate(columns):
        frame[null_flag(index)] = [v is None for v in columns[name]]
    return frame, list(columns)


def test_rows_are_numbered_null_first_nan_after_every_number_then_by_the_next_column():
    from mlmon.metrics.row_order import row_ordinals
    frame, names = _frame(x=[2.0, float("nan"), None, float("-inf"), 1.0, 2.0, -0.0, 0.0],
                          s=["b", "a", "z", "a", "a", "a", "y", "x"])
    ordinals = row_ordinals(frame, names, {"x": "DOUBLE", "s": "VARCHAR"})
    # NULL, -inf, (-0.0, 0.0 tied: then by s), 1.0, (2.0, 2.0: then by s), NaN
    assert ordinals.tolist() == [7, 8, 1, 2, 5, 6, 4, 3]
    assert ordinals.dtype == np.int64
    assert row_ordinals(frame.iloc[:0], names, {"x": "DOUBLE", "s": "VARCHAR"}).tolist() == []


def test_without_orderable_columns_rows_keep_their_order():
    from mlmon.metrics.row_order import row_ordinals
    frame = pd.DataFrame({"l": [[3], [1], [2]]})
    assert row_ordinals(frame, [], {"l": "BIGINT[]"}).tolist() == [1, 2, 3]


def test_a_sample_of_lists_only_is_drawn_in_memory_as_the_engine_draws_it(monkeypatch):
    con = duckdb.connect()
    con.execute("CREATE TABLE lists AS SELECT [i, i + 1] AS l FROM range(10) AS r(i)")
    whole, by_engine, read_whole = _both_ways(con, monkeypatch, "lists", ["l"], ["l"], 4, 3)
    assert read_whole and len(whole) == 4 and len(by_engine) == 4


@pytest.mark.parametrize("values, dtype, exact", [
    ([float(2 ** 53), 1.0], "BIGINT", True), ([float(2 ** 53 + 2), 1.0], "BIGINT", False),
    ([-float(2 ** 53 + 2), 1.0], "HUGEINT", False), ([float(2 ** 60)], "DOUBLE", True),
    ([1.25, 2.5], "DECIMAL(15,2)", True), ([1.25, 2.5], "DECIMAL(16,2)", False), ([1.25], "DECIMAL", False),
    ([1, 2], "BIGINT", True), ([1.5, float("nan"), 2.5], "DECIMAL(38,2)", False),
    ([1.5, float("nan"), 2.5], "OBJECT", False), ([1.5, 2.5, 3.5], "OBJECT", True), (["a", 1], "OBJECT", False),
])
def test_values_a_double_or_python_may_misorder_give_no_numbering(values, dtype, exact):
    """Numbers as doubles beyond what a double tells apart; among Python objects (a decimal
    column read by Spark), a NaN, which breaks comparisons, or types that do not compare."""
    from mlmon.metrics.row_order import row_ordinals
    frame, names = _frame(v=list(values))
    frame["v"] = pd.Series(values, dtype=object if dtype == "OBJECT" else None)
    assert (row_ordinals(frame, names, {"v": dtype}) is not None) is exact


@pytest.mark.parametrize("rows, size", [(1_000, 37), (5_000, 4_999), (30, 30), (30, 31)])
def test_drawn_keeps_the_ordinals_with_the_smallest_scrambled_values(rows, size):
    from mlmon.metrics.sqlsample import drawn
    ordinals = np.arange(1, rows + 1, dtype=np.int64)
    expected = np.zeros(rows, dtype=bool)
    expected[np.lexsort((ordinals, scramble(ordinals, 7)))[:size]] = True
    kept = drawn(ordinals, rows, size, 7)
    assert kept.tolist() == expected.tolist() and kept.sum() == min(rows, size)
