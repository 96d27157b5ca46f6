"""Seeded hash samples drawn in SQL (mlmon.metrics.sqlsample)."""

from __future__ import annotations

import duckdb
import numpy as np
import pyarrow as pa
import pytest

from mlmon.metrics.sqlsample import draw_hash_sample, hash_modulus


@pytest.fixture
def con():
    c = duckdb.connect()
    rng = np.random.default_rng(0)
    n = 50_000
    c.register("__load", pa.table({"i": np.arange(n), "x": rng.normal(size=n)}))
    c.execute("CREATE TABLE t AS SELECT * FROM __load")
    c.unregister("__load")
    yield c
    c.close()


def test_prefiltered_sample_is_bounded_and_independent_of_row_order(con):
    rows = 50_000
    assert hash_modulus(rows, 1_000) == 25 and hash_modulus(None, 1_000) == 1 and hash_modulus(500, 1_000) == 1
    first = draw_hash_sample(con, "t", ["i", "x"], ["i", "x"], 1_000, 7, rows=rows)
    again = draw_hash_sample(con, "(SELECT * FROM t ORDER BY x DESC)", ["i", "x"], ["i", "x"], 1_000, 7, rows=rows)
    assert len(first) == 1_000
    assert first.equals(again)  # the same rows, in the same (hash) order
    other = draw_hash_sample(con, "t", ["i", "x"], ["i", "x"], 1_000, 8, rows=rows)
    assert len(set(first["i"]) & set(other["i"])) < 200


def test_without_a_row_count_or_with_too_few_rows_every_row_competes(con):
    whole = draw_hash_sample(con, "t", ["i"], ["i", "x"], 1_000, 7)
    assert len(whole) == 1_000
    # A prefilter that keeps too few rows (a wrong, tiny row count) is dropped, not obeyed.
    assert draw_hash_sample(con, "t", ["i"], ["i", "x"], 1_000, 7, rows=10**9).equals(whole)
    assert len(draw_hash_sample(con, "t", ["i"], ["i", "x"], 1_000, 7, rows=50_000, where="x > 3")) < 1_000
