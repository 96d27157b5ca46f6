"""Small samples read whole (`in_memory`): the same exact answer as the cells' rounds, from two
queries and no first-round layout."""

from __future__ import annotations

import math
from datetime import date
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa
import pytest
from scipy import stats

from mlmon.metrics import twosample, values
from mlmon.metrics.twosample import ColumnSpec, Layout, column_statistics
from mlmon.metrics.values import fits_in_memory, read_values, value_cells
from tests.metrics.test_value_once import Recorder
from mlmon.metrics.grouped import GroupedDrift, Groups, grouped_column_statistics, grouped_value_statistics
from mlmon.metrics.univariate import drift_and_profile, profile_reference


def _tables(ref: dict[str, np.ndarray], cur: dict[str, np.ndarray]) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    for name, columns in (("ref", ref), ("cur", cur)):
        con.register("frame", pa.table(columns))
        con.execute(f"CREATE TABLE {name} AS SELECT * FROM frame")
        con.unregister("frame")
    return con


def _columns(rng: np.random.Generator, n: int, shift: float) -> dict[str, np.ndarray]:
    ties = np.round(rng.normal(shift, 1.0, n), 1)  # few distinct values, many ties
    gaps = rng.normal(shift, 1.0, n)
    gaps[::7] = np.nan  # missing as NaN ...
    nulls = pa.array(rng.exponential(1.0 + shift, n), mask=np.arange(n) % 5 == 0)  # ... and as NULL
    return {"ties": ties, "gaps": gaps, "nulls": nulls, "constant": np.full(n, 3.0),
            "empty": pa.nulls(n, pa.float64()), "ints": rng.integers(-3, 4, n)}


def _specs(names: list[str], edges: dict[str, tuple[float, ...]] | None = None) -> list[ColumnSpec]:
    edges = edges or {}
    knots = {c: edges.get(c, (0.0, 1.0)) for c in names}  # the cells' path cuts known edges' bins apart
    return [ColumnSpec(c, f'CAST("{c}" AS DOUBLE)', Layout(knots[c], (500.0,) * (len(knots[c]) + 1), -3.0, 4.0),
                       edges.get(c)) for c in names]


NAMES = ["ties", "gaps", "nulls", "constant", "empty", "ints"]


@pytest.fixture(scope="module")
def con() -> duckdb.DuckDBPyConnection:
    rng = np.random.default_rng(11)
    return _tables(_columns(rng, 1200, 0.0), _columns(rng, 700, 0.4))


def _assert_same(a: twosample.ColumnStats, b: twosample.ColumnStats) -> None:
    assert (a.n_ref, a.n_cur, a.edges, a.ref_bins, a.cur_bins) == (b.n_ref, b.n_cur, b.edges, b.ref_bins, b.cur_bins)
    assert (a.ref_min, a.ref_max, a.ks_numerator) == (b.ref_min, b.ref_max, b.ks_numerator)
    if a.wasserstein_numerator is None:
        assert b.wasserstein_numerator is None
    else:
        assert a.wasserstein_numerator == pytest.approx(b.wasserstein_numerator, rel=1e-12, abs=1e-9)


@pytest.mark.parametrize("known_edges", [False, True])
def test_values_read_whole_give_the_cells_answer(con, known_edges: bool) -> None:
    edges = {"ties": (-0.5, 0.0, 0.5), "gaps": (-1.0, 0.25, 1.5), "nulls": (0.5, 1.0), "constant": (3.0,),
             "empty": (), "ints": (-1.0, 0.0, 2.0)} if known_edges else None
    recorder = Recorder(con)
    whole = column_statistics(recorder, "ref", "cur", _specs(NAMES, edges), in_memory=True)
    assert len(recorder.sql) == 2 and all("GROUP BY" not in sql for sql in recorder.sql)  # one read of each side
    # The cells' rounds, made to run every kind of round (small cells, windows at once).
    cells = column_statistics(con, "ref", "cur", _specs(NAMES, edges), rows_per_cell=2, max_split=4, window_rows=0)
    for name in NAMES:
        _assert_same(whole[name], cells[name])
    assert whole["empty"].ks_numerator is None and whole["empty"].n_ref == 0
    assert whole["constant"].ks_numerator == 0 and whole["constant"].wasserstein_numerator == 0


def test_values_read_whole_equal_scipy(con) -> None:
    found = column_statistics(con, "ref", "cur", _specs(["gaps", "ties"]), in_memory=True)
    for name in ("gaps", "ties"):
        ref = con.execute(f'SELECT "{name}" FROM ref WHERE "{name}" IS NOT NULL AND NOT isnan("{name}")').fetchnumpy()[name]
        cur = con.execute(f'SELECT "{name}" FROM cur WHERE "{name}" IS NOT NULL AND NOT isnan("{name}")').fetchnumpy()[name]
        stat = found[name]
        scale = stat.n_ref * stat.n_cur
        assert stat.ks_numerator / scale == pytest.approx(stats.ks_2samp(ref, cur).statistic, abs=1e-12)
        assert stat.wasserstein_numerator / scale == pytest.approx(stats.wasserstein_distance(ref, cur), rel=1e-9)
        deciles = np.quantile(ref, np.linspace(0.1, 0.9, 9))
        assert stat.edges == pytest.approx(tuple(dict.fromkeys(deciles.tolist())), abs=1e-12)


def test_an_infinite_value_takes_the_cells_path() -> None:
    ref = {"x": np.array([0.0, 1.0, 2.0, math.inf, 3.0] * 20)}
    cur = {"x": np.array([0.5, 1.5, -math.inf, 2.5] * 20)}
    con = _tables(ref, cur)
    recorder = Recorder(con)
    whole = column_statistics(recorder, "ref", "cur", _specs(["x"]), in_memory=True)
    assert any("GROUP BY x.k" in sql for sql in recorder.sql)  # the first round ran after the read
    _assert_same(whole["x"], column_statistics(con, "ref", "cur", _specs(["x"]))["x"])


@pytest.mark.parametrize("rows, columns, fits", [(1_000_000, 1, True), (1_000_001, 1, False), (500_000, 2, True),
                                                 (500_001, 2, False), (1_000_000, 0, True), (0, 5, True)])
def test_fits_in_memory(rows: int, columns: int, fits: bool) -> None:
    assert fits_in_memory(rows, columns) is fits


def test_drift_of_small_samples_reads_the_values_and_no_layout(con, monkeypatch: pytest.MonkeyPatch) -> None:
    recorder = Recorder(con)
    small = drift_and_profile(recorder, "ref", "cur", ["gaps", "nulls", "ints"], [])
    assert not any("QUANTILE" in sql.upper() or "GROUP BY x.k" in sql for sql in recorder.sql)
    # One value more than fits: the same metrics through a sampled layout and the cells' rounds.
    monkeypatch.setattr(values, "IN_MEMORY_VALUES", (1200 + 700) * 3 - 1)
    recorder = Recorder(con)
    cells = drift_and_profile(recorder, "ref", "cur", ["gaps", "nulls", "ints"], [])
    assert any("GROUP BY x.k" in sql for sql in recorder.sql)
    assert small.profile == cells.profile
    expected = {(m.metric, m.feature): m.value for m in cells.metrics}
    found = {(m.metric, m.feature): m.value for m in small.metrics}
    assert found.keys() == expected.keys()
    for key, value in expected.items():
        assert found[key] == pytest.approx(value, rel=1e-12, abs=1e-12, nan_ok=True), key


@pytest.fixture(scope="module")
def months() -> duckdb.DuckDBPyConnection:
    rng = np.random.default_rng(5)
    cur = _columns(rng, 900, 0.3)
    cur["month"] = np.array([date(2021, 1 + i % 3, 1) for i in range(900)])
    return _tables(_columns(rng, 1000, 0.0), cur)


MONTHS = Groups("cur", "month", (date(2021, 1, 1), date(2021, 3, 1)), (300, 300))  # February left out


def test_groups_read_whole_give_the_cells_answer(months) -> None:
    names = ["ties", "gaps", "nulls", "ints"]
    profile = profile_reference(months, "ref", names, [])
    specs = [ColumnSpec(c, f'CAST("{c}" AS DOUBLE)',
                        twosample.known_layout(profile.numeric[c].edges, profile.numeric[c].bins, 300,
                                               profile.numeric[c].min, profile.numeric[c].max),
                        tuple(profile.numeric[c].edges)) for c in names]
    recorder = Recorder(months)
    whole = grouped_value_statistics(recorder, "ref", MONTHS, specs)
    assert len(recorder.sql) == 2  # the reference's values, the compared groups' values
    cells = grouped_column_statistics(months, "ref", MONTHS, specs, rows_per_cell=2, max_split=4, window_rows=0)
    assert len(whole) == len(cells) == 2
    for found, expected in zip(whole, cells):
        for name in names:
            _assert_same(found[name], expected[name])
    assert whole[0]["ties"].n_cur == months.execute(
        "SELECT COUNT(ties) FROM cur WHERE month = DATE '2021-01-01'").fetchone()[0]


def test_grouped_drift_of_small_groups_reads_the_values(months, monkeypatch: pytest.MonkeyPatch) -> None:
    def metrics(con: Any) -> dict:
        drift = GroupedDrift(con, "ref", MONTHS).for_group(1)
        result = drift(con, "ref", "cur", ["gaps", "ints"], [], extra={"score": 'CAST("ties" AS DOUBLE)'})
        return {(m.metric, m.feature): m.value for m in result.metrics}

    # The reference's 1,000 rows and the compared groups' 600, three values each: just fits.
    monkeypatch.setattr(values, "IN_MEMORY_VALUES", (1000 + 600) * 3)
    recorder = Recorder(months)
    small = metrics(recorder)
    assert not any("GROUP BY x.g, x.k" in sql for sql in recorder.sql)
    monkeypatch.setattr(values, "IN_MEMORY_VALUES", (1000 + 600) * 3 - 1)
    recorder = Recorder(months)
    expected = metrics(recorder)
    assert any("GROUP BY x.g, x.k" in sql for sql in recorder.sql)
    assert small.keys() == expected.keys()
    for key, value in expected.items():
        assert small[key] == pytest.approx(value, rel=1e-12, abs=1e-12, nan_ok=True), key


def test_value_cells_count_each_distinct_value_of_both_samples() -> None:
    cells = value_cells(3, 0.5, np.array([2.0, 1.0, np.nan, 1.0]), np.array([3.0, 2.0]))
    assert cells is not None and cells.index == 3 and (cells.n1, cells.n2) == (3, 2)
    assert cells.vmin.tolist() == cells.vmax.tolist() == [1.0, 2.0, 3.0]
    assert cells.c1.tolist() == [2, 1, 0] and cells.c2.tolist() == [0, 1, 1]
    # m = sum of w * (v - r), w = +n_cur on reference values and -n_ref on current ones
    assert cells.m.tolist() == [2 * 2 * 0.5, (2 - 3) * 1.5, -3 * 2.5]
    assert np.all(np.diff(cells.pkey) > 0)
    for ref, cur in ((np.array([1.0, math.inf]), np.array([1.0])), (np.array([1.0]), np.array([-math.inf, 2.0]))):
        assert value_cells(0, 0.0, ref, cur) is None  # an infinite value on either side


def test_read_values_reads_expressions_over_t_and_groups() -> None:
    con = _tables({"x": np.array([1.0, 2.0, 3.0]), "g": np.array([0, 1, 1])}, {"x": np.array([4.0]), "g": np.array([1])})
    (values,), group = read_values(con, "ref", ['t."x" * 2'], where='t."g" = 1', group='t."g" + 10')
    assert values.tolist() == [4.0, 6.0] and group.tolist() == [11, 11] and group.dtype == np.int64
    (values,), group = read_values(con, "ref", ['t."x"'])
    assert values.tolist() == [1.0, 2.0, 3.0] and group is None


def test_groups_with_an_infinite_value_take_the_cells_in_runs() -> None:
    ref = {"x": np.arange(40, dtype=float)}
    cur = {"x": np.array([1.0, 2.0, math.inf, 3.0] * 5), "month": np.array([date(2021, 1 + i % 2, 1) for i in range(20)])}
    con = _tables(ref, cur)
    groups = Groups("cur", "month", (date(2021, 1, 1), date(2021, 2, 1)), (10, 10))
    specs = _specs(["x"])
    assert grouped_value_statistics(con, "ref", groups, specs) is None
    recorder = Recorder(con)
    drift = GroupedDrift(recorder, "ref", groups).for_group(0)
    found = {(m.metric, m.feature): m.value for m in drift(recorder, "ref", "cur", ["x"], []).metrics}
    assert any("GROUP BY x.g, x.k" in sql for sql in recorder.sql)
    assert found[("ks_statistic", "x")] is not None
