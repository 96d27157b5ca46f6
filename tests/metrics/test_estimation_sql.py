"""CBPE in SQL against the row-by-row implementation (mlmon.metrics.estimation)."""

from __future__ import annotations

import duckdb
import numpy as np
import pyarrow as pa
import pytest

from mlmon.metrics.estimation import ESTIMATED_METRICS, MAX_BAND_ROWS, estimate_performance
from mlmon.metrics.estimation_sql import MAX_CALIBRATION_ROWS, calibration_rows, estimate_performance_sql
from mlmon.metrics.sqlsample import draw_hash_sample


def table(con: duckdb.DuckDBPyConnection, name: str, **columns: np.ndarray) -> str:
    con.register("__load", pa.table(columns))
    con.execute(f'CREATE OR REPLACE TABLE "{name}" AS SELECT * FROM __load')
    con.unregister("__load")
    return f'"{name}"'


def scores(kind: str, n: int, rng: np.random.Generator) -> np.ndarray:
    if kind == "continuous":
        return rng.beta(2.0, 2.0, n)
    return rng.integers(0, 11, n) / 10.0  # heavy ties, and scores exactly on the fit's thresholds


@pytest.mark.parametrize("kind", ["continuous", "discrete"])
@pytest.mark.parametrize("n_ref, n_cur", [(40, 30), (3000, 2000), (5000, 3 * MAX_BAND_ROWS)])
def test_point_estimates_equal_the_row_by_row_ones(kind, n_ref, n_cur):
    rng = np.random.default_rng(n_ref + n_cur)
    ref_p = scores(kind, n_ref, rng)
    ref_y = (rng.random(n_ref) < ref_p).astype(int)
    cur_p = scores(kind, n_cur, rng)
    cur_p[:4] = [np.nan, np.inf, -np.inf, 1.5]  # left out / clipped like the arrays are
    con = duckdb.connect()
    current = table(con, "cur", proba_1=cur_p)
    rows = estimate_performance(ref_p, ref_y, cur_p, threshold=0.45)
    got = estimate_performance_sql(con, current, "proba_1", ref_p, ref_y, threshold=0.45)
    assert [m.metric for m in got] == list(ESTIMATED_METRICS)
    for a, b in zip(rows, got):
        assert b.value == pytest.approx(a.value, rel=1e-12, abs=1e-12), a.metric
        if n_cur <= MAX_BAND_ROWS:  # the band simulates the same rows: the same band
            assert (b.lower, b.upper) == pytest.approx((a.lower, a.upper), rel=1e-12, abs=1e-12), a.metric
        else:  # a hash sample of the rows instead of a random one: a band as wide
            assert b.lower <= b.value <= b.upper
            assert (b.upper - b.lower) == pytest.approx(a.upper - a.lower, rel=0.3), a.metric


def test_unusable_reference_or_empty_current_gives_none():
    con = duckdb.connect()
    current = table(con, "cur", proba_1=np.array([0.2, 0.9]))
    assert all(m.value is None for m in estimate_performance_sql(con, current, "proba_1", [0.1, 0.8], [1, 1]))
    empty = table(con, "empty", proba_1=np.array([np.nan]))
    assert all(m.value is None for m in estimate_performance_sql(con, empty, "proba_1", [0.1, 0.8], [0, 1]))


def test_calibration_rows_are_bounded_and_reproducible():
    rng = np.random.default_rng(4)
    bound = 20_000
    n = bound + 5_000
    p = rng.random(n)
    con = duckdb.connect()
    ref = table(con, "ref", target=(rng.random(n) < p).astype(int), proba_1=p)
    first = calibration_rows(con, ref, "target", "proba_1", max_rows=bound)
    assert len(first) == bound
    again = calibration_rows(con, f"(SELECT * FROM {ref} ORDER BY proba_1 DESC)", "target", "proba_1", max_rows=bound)
    key = ["proba_1", "target"]
    assert first.sort_values(key).reset_index(drop=True).equals(again.sort_values(key).reset_index(drop=True))
    small = calibration_rows(con, ref, "target", "proba_1")
    assert len(small) == n  # under MAX_CALIBRATION_ROWS: every labelled row
    assert MAX_CALIBRATION_ROWS == 1_000_000


def test_calibration_rows_are_the_hash_sample_of_the_whole_rows():
    """Sorting on (target, probability) alone draws the values the whole rows' sample holds."""
    rng = np.random.default_rng(8)
    n = 3_000
    p = np.round(rng.random(n), 2)  # ties, told apart by the other columns in the whole rows' order
    con = duckdb.connect()
    ref = table(con, "ref", other=rng.integers(0, 5, n), target=(rng.random(n) < p).astype(int), proba_1=p,
                more=rng.random(n))
    got = calibration_rows(con, ref, "target", "proba_1", max_rows=1_000, seed=3)
    where = 'target IS NOT NULL AND proba_1 IS NOT NULL AND NOT ISNAN(proba_1)'
    whole = draw_hash_sample(con, ref, ["target", "proba_1"], ["target", "proba_1"], 1_000, 3, where=where)
    assert len(got) == 1_000 and got.equals(whole)
