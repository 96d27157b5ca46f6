"""Doubles written into generated SQL come back bit for bit: DuckDB reads the exponent
literal as a DOUBLE (never a rounded DECIMAL), and the non-finite values as casts."""

from __future__ import annotations

import math

import duckdb
import numpy as np
import pytest

from mlmon.metrics.sqlstats import double_literal


def doubles() -> np.ndarray:
    rng = np.random.default_rng(7)
    return np.concatenate([rng.normal(0, 1, 500), rng.normal(0, 1e6, 200), 10.0 ** rng.uniform(-300, 300, 200),
                           -(10.0 ** rng.uniform(-300, 300, 200)),
                           [0.0, 1.0, -3.0, 0.1, 0.30000000000000004, 5e-324, 1.7976931348623157e308, 2.0 ** 53 + 2]])


def test_every_double_round_trips_through_duckdb() -> None:
    values = doubles()
    row = duckdb.connect().execute("SELECT [" + ", ".join(double_literal(x) for x in values) + "]").fetchone()[0]
    assert np.array_equal(np.array(row, dtype=np.float64).view(np.int64), values.view(np.int64))


@pytest.mark.parametrize("x, text", [(0.5, "0.5e0"), (3.0, "3.0e0"), (-4.25, "-4.25e0"), (1e-300, "1e-300"),
                                     (9437184, "9437184.0e0")])
def test_the_literal_is_one_exponent_number(x: float, text: str) -> None:
    assert double_literal(x) == text


def test_non_finite_values_are_casts() -> None:
    con = duckdb.connect()
    for x in (math.inf, -math.inf, math.nan):
        got = con.execute(f"SELECT {double_literal(x)}").fetchone()[0]
        assert (math.isnan(got) and math.isnan(x)) or got == x
