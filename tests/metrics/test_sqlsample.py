"""Seeded, uniform, engine-independent samples drawn in SQL (mlmon.metrics.sqlsample)."""

from __future__ import annotations

import duckdb
import numpy as np
import pyarrow as pa
import pytest
from scipy import stats
from sqlglot import exp

from mlmon.metrics.sqlsample import canonical_order, draw_hash_sample, portable_sample_sql, sample_query, scramble, scramble_sql


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
