"""Univariate drift and CBPE of many periods in grouped scans equal each period's own.

Every period of one table is compared with one reference by `GroupedDrift` and, separately, by
`drift_and_profile` on a view of the period's rows: every metric agrees to 1e-9, and KS,
Wasserstein and chi-square agree with scipy. The periods cover missing values, ties, an unseen
category, a numeric column without any value, a single row and two rows; CBPE's periods one
large enough for the band's hash sample, and one of a single row. The number of statements
does not grow with the number of periods.
"""

from __future__ import annotations

from datetime import date
from typing import Any

import duckdb
import numpy as np
import pandas as pd
import pytest
from scipy import stats

from mlmon.metrics.estimation_sql import estimate_performance_sql, grouped_estimates
from mlmon.metrics import grouped as grouped_module
from mlmon.metrics import values as values_module
from mlmon.metrics.grouped import GroupedDrift, Groups
from mlmon.metrics.univariate import chi2_pvalue, drift_and_profile

NUMERIC = ["x", "ties", "count"]
CATEGORICAL = ["cat"]
SCORE = {"__score": 'CAST("score" AS DOUBLE)'}
PERIOD = "__period"


def _frame(rng: np.random.Generator, n: int, shift: float) -> pd.DataFrame:
    x = rng.normal(shift, 1.0, n)
    x[rng.random(n) < 0.1] = np.nan
    cat = rng.choice(["a", "b", "c"], n, p=[0.5 - shift / 4, 0.3, 0.2 + shift / 4]).astype(object)
    cat[rng.random(n) < 0.05] = None
    return pd.DataFrame({"x": x, "ties": np.round(rng.normal(shift, 1.0, n), 1),
                         "count": rng.poisson(3 + shift, n).astype(np.int64), "cat": cat,
                         "score": rng.beta(2 + shift, 2, n)})


def _periods(rng: np.random.Generator) -> dict[date, pd.DataFrame]:
    out = {date(2020, 1, 1): _frame(rng, 700, 0.0), date(2020, 2, 1): _frame(rng, 500, 0.6),
           date(2020, 3, 1): _frame(rng, 1, 0.0), date(2020, 4, 1): _frame(rng, 2, 0.3)}
    unseen = _frame(rng, 400, 0.2)
    unseen.loc[::7, "cat"] = "zz"  # a category the reference never saw
    unseen["x"] = np.nan  # a numeric column without any value
    out[date(2020, 5, 1)] = unseen
    return out


class CountingConnection:
    """A DuckDB connection that counts the statements it runs, and the scans of the reference
    (`ref`) they name."""

    def __init__(self, con: duckdb.DuckDBPyConnection):
        self.con, self.statements, self.reference_scans = con, 0, 0

    def execute(self, sql: str, *args: Any) -> Any:
        self.statements += 1
        self.reference_scans += sql.count("FROM ref AS t")
        return self.con.execute(sql, *args)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.con, name)


class RecordingConnection(CountingConnection):
    """Also keeps the text of every statement."""

    def __init__(self, con: duckdb.DuckDBPyConnection):
        super().__init__(con)
        self.sql: list[str] = []

    def execute(self, sql: str, *args: Any) -> Any:
        self.sql.append(sql)
        return super().execute(sql, *args)


@pytest.fixture(scope="module")
def data() -> tuple[duckdb.DuckDBPyConnection, dict[date, pd.DataFrame], pd.DataFrame]:
    rng = np.random.default_rng(5)
    reference = _frame(rng, 3000, 0.0)
    periods = _periods(rng)
    con = duckdb.connect()
    con.register("ref_frame", reference)
    con.execute("CREATE TABLE ref AS SELECT * FROM ref_frame")
    rows = pd.concat([f.assign(**{PERIOD: pd.Timestamp(d)}) for d, f in periods.items()], ignore_index=True)
    con.register("rows_frame", rows)
    con.execute(f'CREATE TABLE rows AS SELECT * EXCLUDE ("{PERIOD}"), CAST("{PERIOD}" AS DATE) AS "{PERIOD}" '
                "FROM rows_frame")
    for i, d in enumerate(periods):
        con.execute(f"CREATE VIEW period_{i} AS SELECT * EXCLUDE (\"{PERIOD}\") FROM rows "
                    f"WHERE \"{PERIOD}\" = DATE '{d.isoformat()}'")
    return con, periods, reference


def _groups(periods: dict[date, pd.DataFrame], keys: list[date]) -> Groups:
    return Groups("rows", PERIOD, tuple(keys), tuple(len(periods[k]) for k in keys))


def _values(result: Any) -> dict[tuple[str, str | None], float | None]:
    out = {(m.metric, m.feature): m.value for m in result.metrics}
    out.update({(m.metric, m.feature): m.value for ms in result.extra.values() for m in ms})
    return out


def test_every_period_equals_its_own_comparison(data) -> None:
    con, periods, _ = data
    keys = list(periods)
    grouped = GroupedDrift(con, "ref", _groups(periods, keys))
    for j, d in enumerate(keys):
        mine = grouped.for_group(j)(con, "ref", f"period_{j}", NUMERIC, CATEGORICAL, extra=SCORE)
        alone = drift_and_profile(con, "ref", f"period_{j}", NUMERIC, CATEGORICAL, extra=SCORE)
        assert mine.profile.to_dict() == alone.profile.to_dict()
        got, want = _values(mine), _values(alone)
        assert got.keys() == want.keys()
        for key, value in want.items():
            if value is None:
                assert got[key] is None, (d, key)
            else:
                assert got[key] == pytest.approx(value, rel=1e-9, abs=1e-12), (d, key)


def test_every_period_equals_scipy(data) -> None:
    con, periods, reference = data
    keys = list(periods)
    grouped = GroupedDrift(con, "ref", _groups(periods, keys))
    for j, d in enumerate(keys):
        values = _values(grouped.for_group(j)(con, "ref", f"period_{j}", NUMERIC, CATEGORICAL, extra=SCORE))
        current = periods[d]
        for c in NUMERIC:
            a, b = reference[c].dropna().to_numpy(float), current[c].dropna().to_numpy(float)
            if len(b) == 0:
                assert values[("ks_statistic", c)] is None and values[("wasserstein", c)] is None
                continue
            ks = stats.ks_2samp(a, b)
            assert values[("ks_statistic", c)] == pytest.approx(ks.statistic, abs=1e-12), (d, c)
            assert values[("ks_pvalue", c)] == pytest.approx(ks.pvalue, rel=1e-9, abs=1e-300), (d, c)
            assert values[("wasserstein", c)] == pytest.approx(stats.wasserstein_distance(a, b), rel=1e-9), (d, c)
            assert values[("missing_share", c)] == pytest.approx(current[c].isna().mean())
        ref_counts = reference["cat"].value_counts().to_dict()
        cur_counts = current["cat"].value_counts().to_dict()
        keys_seen = [k for k in ref_counts if ref_counts[k] or cur_counts.get(k, 0)]
        table = [[ref_counts[k] for k in keys_seen], [cur_counts.get(k, 0) for k in keys_seen]]
        expected = stats.chi2_contingency(table).pvalue if min(map(sum, table)) > 0 and len(keys_seen) > 1 else None
        assert chi2_pvalue(ref_counts, cur_counts) == (None if expected is None else pytest.approx(expected))
        if expected is None:
            assert values[("chi2_pvalue", "cat")] is None
        else:
            assert values[("chi2_pvalue", "cat")] == pytest.approx(expected, rel=1e-9), d
        present = current["cat"].notna().sum()
        unseen = (current["cat"] == "zz").sum() / present if present else None
        assert values[("new_category_share", "cat")] == (None if unseen is None else pytest.approx(unseen))


def test_statements_and_reference_scans_do_not_grow_with_the_periods(data) -> None:
    con, periods, _ = data
    counts = []
    for keys in (list(periods)[:2], list(periods)):
        counting = CountingConnection(con)
        grouped = GroupedDrift(counting, "ref", _groups(periods, keys))
        for j in range(len(keys)):
            grouped.for_group(j)(counting, "ref", f"period_{j}", NUMERIC, CATEGORICAL, extra=SCORE)
        counts.append((counting.statements, counting.reference_scans))
    # The cells each period leaves open are resolved in one scan of the reference per column.
    assert counts[0] == counts[1]


def test_cbpe_of_every_group_equals_its_own_and_statements_do_not_grow() -> None:
    rng = np.random.default_rng(9)
    ref_score = rng.beta(2, 2, 5000)
    ref_y = (rng.random(5000) < ref_score).astype(np.int64)
    sizes = {date(2021, 1, 1): 25_000, date(2021, 2, 1): 300, date(2021, 3, 1): 1, date(2021, 4, 1): 2}
    frames = []
    for d, n in sizes.items():
        score = np.round(rng.beta(2.5, 2, n), 3)  # ties: groups of one calibrated probability
        score[rng.random(n) < 0.05] = np.nan
        frames.append(pd.DataFrame({"p": score, PERIOD: pd.Timestamp(d)}))
    con = duckdb.connect()
    con.register("frame", pd.concat(frames, ignore_index=True))
    con.execute(f'CREATE TABLE cur AS SELECT p, CAST("{PERIOD}" AS DATE) AS "{PERIOD}" FROM frame')
    keys = list(sizes)
    groups = Groups("cur", PERIOD, tuple(keys), tuple(sizes.values()))
    counting = CountingConnection(con)
    together = grouped_estimates(counting, groups, "p", ref_score, ref_y, 0.5, positive_label=1)
    few = CountingConnection(con)
    grouped_estimates(few, Groups("cur", PERIOD, tuple(keys[:1]), (sizes[keys[0]],)), "p", ref_score, ref_y, 0.5,
                      positive_label=1)
    assert counting.statements == few.statements
    for j, d in enumerate(keys):
        rows = f"(SELECT * FROM cur WHERE \"{PERIOD}\" = DATE '{d.isoformat()}')"
        alone = estimate_performance_sql(con, rows, "p", ref_score, ref_y, 0.5, positive_label=1)
        assert [m.metric for m in together[j]] == [m.metric for m in alone]
        for got, want in zip(together[j], alone):
            for a, b in ((got.value, want.value), (got.lower, want.lower), (got.upper, want.upper)):
                assert (a is None and b is None) or a == pytest.approx(b, rel=1e-12, abs=1e-15), (d, got.metric)
    assert together[0][0].lower is not None and together[0][0].lower < together[0][0].value


def test_first_round_cells_are_split_by_the_column_in_their_key() -> None:
    stride = grouped_module.COLUMN_STRIDE
    k = np.array([2 * stride + 5.0, 0 * stride - 3.0, 2 * stride - 1.0, 0 * stride + 7.0])
    parts = grouped_module._by_column({"k": k, "c": np.array([1, 2, 3, 4])}, 3)
    assert len(parts) == 3
    assert sorted(parts[0]["k"]) == [-3.0, 7.0] and sorted(parts[0]["c"]) == [2, 4]
    assert len(parts[1]["k"]) == 0
    assert sorted(parts[2]["k"]) == [2 * stride - 1.0, 2 * stride + 5.0] and sorted(parts[2]["c"]) == [1, 3]
    assert grouped_module._by_column({"k": np.empty(0)}, 2)[1]["k"].size == 0


def test_groups_beyond_the_cell_budget_are_compared_in_runs_with_the_same_values(data, monkeypatch) -> None:
    monkeypatch.setattr(values_module, "IN_MEMORY_VALUES", 0)  # runs are of cells, never of values read whole
    con, periods, _ = data
    keys = list(periods)
    recording = RecordingConnection(con)
    together = GroupedDrift(recording, "ref", _groups(periods, keys))
    expected = [_values(together.for_group(j)(recording, "ref", f"period_{j}", NUMERIC, CATEGORICAL, extra=SCORE))
                for j in range(len(keys))]
    # One run: its first round counts the reference's cells with the groups', no scan apart.
    assert len([q for q in recording.sql if q.startswith("SELECT x.g AS g, x.k AS k")]) == 1
    assert all(expected[j][("ks_statistic", c)] is not None for j in (0, 1) for c in NUMERIC)
    monkeypatch.setattr(grouped_module, "MAX_CELLS", 1)  # one group per run
    recording = RecordingConnection(con)
    apart = GroupedDrift(recording, "ref", _groups(periods, keys))
    for j in range(len(keys)):
        got = _values(apart.for_group(j)(recording, "ref", f"period_{j}", NUMERIC, CATEGORICAL, extra=SCORE))
        assert got == expected[j]
    first_rounds = [q for q in recording.sql if q.startswith("SELECT x.g AS g, x.k AS k")]
    assert len(first_rounds) == len(keys) + 1  # one per run, and the reference's cells once for all
    assert sum("FROM ref AS t" in q for q in first_rounds) == 1
