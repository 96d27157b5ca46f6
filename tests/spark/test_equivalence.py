"""Dialect equivalence: every statistic query mlmon generates gives the same answer on DuckDB
and on Spark local mode over the same rows, to 1e-9 (counts exactly).

The SQL is written once in DuckDB's dialect; `SparkConnection` translates it. The data are
built to reach the corners where the engines differ: NaN next to NULL, heavy ties, a constant
column, values of 1e-300 and 1e300, infinities, integers, unseen categories and a float-typed
categorical. Each test is parametrized by column or statistic so that a failure names it.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from scipy import stats

from mlmon.metrics.estimation_sql import calibration_rows, estimate_performance_sql
from mlmon.metrics.performance import classification_metrics, regression_metrics
from mlmon.metrics.prediction import class_counts, prediction_drift
from mlmon.metrics.sqlstats import bin_index_sql, counts_sql, double_literal, moments_sql
from mlmon.metrics.twosample import SampleColumn, two_sample_statistics
from mlmon.metrics.univariate import ReferenceProfile, profile_reference, univariate_drift
from mlmon.warehouse.spark_dialect import SparkTranslationError
from mlmon.warehouse.sql import file_scan, json_label

N_REF, N_CUR = 8_000, 6_000
TOL = 1e-9

NUMERIC = ["normal", "ties", "const", "negative", "extreme", "tiny", "infinite", "ints", "skewed", "balanced", "gone"]
CATEGORICAL = ["cat", "cat_float", "cat_int", "cat_bool"]
FLOAT_CATEGORICAL = ["cat_float"]
# Two-sample settings that force rounds of splitting (registered lookup tables, chained joins)
# before the windows; the defaults settle these sizes in one windowed round.
SPLIT_SETTINGS = {"window_rows": 1_000, "rows_per_cell": 8, "max_split": 16}


# --- data --------------------------------------------------------------------------------------


def _column(values: Sequence[Any], rng: np.random.Generator, dtype: pa.DataType,
            nan: float = 0.0, null: float = 0.0) -> pa.Array:
    """`values` with a share `nan` of NaN and `null` of NULL at random rows (NaN != NULL)."""
    out = np.array(values, dtype=object)
    draw = rng.random(len(out))
    out[draw < nan] = math.nan
    out[(draw >= nan) & (draw < nan + null)] = None
    return pa.array(out, type=dtype, from_pandas=False)


def _features(n: int, shift: float, current: bool, rng: np.random.Generator) -> pa.Table:
    f64, i64 = pa.float64(), pa.int64()
    extreme_values = np.array([1e-300, -1e-300, 1e300, -1e300, 0.0, 1.0, -2.5, 5e-324])
    categories = ["a", "b", "c", "d", "e"] + (["f", "g"] if current else [])  # f, g are unseen
    weights = np.arange(len(categories), 0, -1, dtype=float)
    float_levels = np.array([1.0, 2.0, 2.5, 0.1, 1e-5, 123456789.0, -0.0, 1e22])
    columns = {
        "normal": _column(rng.normal(shift, 1.0, n), rng, f64, nan=0.03, null=0.03),
        "ties": _column(rng.integers(0, 10, n).astype(float), rng, f64, null=0.05),
        "const": _column(np.full(n, 3.5), rng, f64, null=0.01),
        "negative": _column(-np.exp(rng.normal(shift, 1.0, n)) * 100.0, rng, f64, nan=0.02),
        "extreme": _column(rng.choice(extreme_values, n) * rng.choice([1.0, 3.0], n), rng, f64, nan=0.01, null=0.01),
        "tiny": _column(rng.normal(shift, 1.0, n) * 1e-300, rng, f64, null=0.02),
        "infinite": _column(np.where(rng.random(n) < 0.02, rng.choice([-np.inf, np.inf], n), rng.normal(shift, 1.0, n)),
                            rng, f64, nan=0.01),
        "ints": _column(rng.poisson(3.0 + shift, n), rng, i64, null=0.04),
        "skewed": _column(rng.lognormal(shift, 2.0, n), rng, f64, nan=0.01, null=0.01),
        # Equal shares of the same values on both sides: every weight cancels (KS = 0).
        "balanced": _column(rng.permutation(np.repeat(np.arange(8.0), n // 8)), rng, f64),
        # Present in the reference only: no two-sample statistic, missing_share 1.
        "gone": _column(np.full(n, None) if current else rng.normal(size=n), rng, f64),
        "cat": _column(rng.choice(categories, n, p=weights / weights.sum()), rng, pa.string(), null=0.05),
        "cat_float": _column(rng.choice(float_levels, n), rng, f64, nan=0.03, null=0.03),
        "cat_int": _column(rng.integers(-3, 4 + int(current), n), rng, i64, null=0.02),
        "cat_bool": _column(rng.random(n) < 0.3 + 0.1 * shift, rng, pa.bool_(), null=0.02),
    }
    return pa.table(columns)


def _scored(n: int, shift: float, rng: np.random.Generator) -> pa.Table:
    """Model outputs: binary probabilities (rounded, so many tie and some sit on the threshold),
    a multiclass model's class probabilities and prediction, a regressor's prediction."""
    f64 = pa.float64()
    p1 = np.round(rng.beta(2.0 + shift, 3.0, n), 2)
    target = (rng.random(n) < p1 ** 0.8).astype(np.int64)
    k = rng.dirichlet([2.0 + shift, 2.0, 1.0], n)
    return pa.table({
        "target": _column(target, rng, pa.int64(), null=0.05),
        "proba_0": _column(1.0 - p1, rng, f64),
        "proba_1": _column(p1, rng, f64, nan=0.01, null=0.01),
        "prediction": _column((p1 >= 0.5).astype(np.int64), rng, pa.int64()),
        "proba_a": _column(k[:, 0], rng, f64, null=0.02),
        "proba_b": _column(k[:, 1], rng, f64),
        "proba_c": _column(k[:, 2], rng, f64),
        "label_mc": _column(np.array(["a", "b", "c"])[k.argmax(axis=1)], rng, pa.string()),
        "pred_mc": _column(np.array(["a", "b", "c"])[k.argmax(axis=1)], rng, pa.string(), null=0.01),
        "y_reg": _column(rng.normal(10.0 * shift, 3.0, n), rng, f64, null=0.05),
        "pred_reg": _column(rng.normal(10.0 * shift, 3.0, n).round(1), rng, f64, nan=0.01),
    })


@pytest.fixture(scope="module")
def frames() -> dict[str, pa.Table]:
    rng = np.random.default_rng(20240611)
    tables = {
        "eq_ref": _features(N_REF, 0.0, False, rng),
        "eq_cur": _features(N_CUR, 0.3, True, rng),
        "eq_scored_ref": _scored(N_REF, 0.0, rng),
        "eq_scored_cur": _scored(N_CUR, 0.5, rng),
    }
    tables["eq_scored_cur_reversed"] = tables["eq_scored_cur"].take(np.arange(N_CUR)[::-1])
    return tables


@pytest.fixture(scope="module")
def rel(frames: dict[str, pa.Table], load_table: Callable[[str, pa.Table], str]) -> dict[str, str]:
    """Relation SQL by table name; every table is loaded into both engines once."""
    return {name: load_table(name, table) for name, table in frames.items()}


# --- comparison --------------------------------------------------------------------------------


def _same(a: Any, b: Any, rel_tol: float = TOL, abs_tol: float = 0.0) -> bool:
    """Equal values: ints and text exactly, floats to the tolerance, NaN equal to NaN."""
    if a is None or b is None:
        return a is None and b is None
    if isinstance(a, (bool, np.bool_, str)) or isinstance(b, (bool, np.bool_, str)):
        return a == b
    if isinstance(a, (int, np.integer)) and isinstance(b, (int, np.integer)):
        return int(a) == int(b)
    a, b = float(a), float(b)
    if math.isnan(a) or math.isnan(b):
        return math.isnan(a) and math.isnan(b)
    if math.isinf(a) or math.isinf(b):
        return a == b
    return math.isclose(a, b, rel_tol=rel_tol, abs_tol=abs_tol)


def _assert_same(duck: Any, spark: Any, what: str, rel_tol: float = TOL, abs_tol: float = 0.0) -> None:
    if isinstance(duck, (list, tuple)) or isinstance(spark, (list, tuple)):
        assert isinstance(duck, (list, tuple)) and isinstance(spark, (list, tuple)) and len(duck) == len(spark), \
            f"{what}: DuckDB {duck!r} != Spark {spark!r}"
        for i, (d, s) in enumerate(zip(duck, spark)):
            _assert_same(d, s, f"{what}[{i}]", rel_tol, abs_tol)
        return
    assert _same(duck, spark, rel_tol, abs_tol), f"{what}: DuckDB {duck!r} != Spark {spark!r}"


def _both(engines: dict[str, Any], compute: Callable[[Any], Any]) -> tuple[Any, Any]:
    return compute(engines["duckdb"]), compute(engines["spark"])


def _metric_map(values: Sequence[Any]) -> dict[tuple[str, str | None], Any]:
    return {(m.metric, m.feature): m for m in values}


def _assert_metrics(duck: Sequence[Any], spark: Sequence[Any], what: str,
                    parts: Sequence[str] = ("value", "lower", "upper")) -> None:
    """Same (metric, feature) keys, and every value (and band) within 1e-9."""
    d, s = _metric_map(duck), _metric_map(spark)
    assert list(d) == list(s), f"{what}: DuckDB returns {list(d)}, Spark {list(s)}"
    wrong = [f"{metric}[{feature}]{part}: DuckDB {getattr(d[metric, feature], part)!r} != "
             f"Spark {getattr(s[metric, feature], part)!r}"
             for metric, feature in d for part in parts
             if not _same(getattr(d[metric, feature], part), getattr(s[metric, feature], part), TOL, TOL)]
    assert not wrong, f"{what}: " + "; ".join(wrong)


# --- moments, quantiles, counts ----------------------------------------------------------------
# Each statistic query runs once per side and engine over every column (module fixtures); the
# tests, one per column, compare their part of the answer.

SIDES = ["eq_ref", "eq_cur"]
Answers = dict[str, dict[str, Any]]  # side -> engine -> answer


@pytest.fixture(scope="module")
def moments(engines: dict[str, Any], rel: dict[str, str]) -> Answers:
    """Row count, then per column: present count, min, max and the nine deciles."""
    return {side: {name: con.execute(moments_sql(rel[side], NUMERIC, quantiles=True)).fetchone()
                   for name, con in engines.items()} for side in SIDES}


@pytest.mark.parametrize("side", SIDES)
@pytest.mark.parametrize("column", NUMERIC)
def test_moments_and_deciles(moments: Answers, column: str, side: str) -> None:
    """Counts and extremes exactly; deciles (linear interpolation, as numpy.quantile) to 1e-9."""
    duck, spark = moments[side]["duckdb"], moments[side]["spark"]
    i = 1 + 4 * NUMERIC.index(column)
    _assert_same([duck[0], *duck[i:i + 3]], [spark[0], *spark[i:i + 3]], f"{column} counts, min, max", rel_tol=0.0)
    _assert_same(duck[i + 3], spark[i + 3], f"{column} deciles")


@pytest.fixture(scope="module")
def profiles(engines: dict[str, Any], rel: dict[str, str]) -> dict[str, ReferenceProfile]:
    """Each engine's reference profile (a decile scan per column, then one counting scan)."""
    return {name: profile_reference(con, rel["eq_ref"], NUMERIC, CATEGORICAL) for name, con in engines.items()}


@pytest.fixture(scope="module")
def reference_profile(profiles: dict[str, ReferenceProfile]) -> ReferenceProfile:
    """DuckDB's reference profile: the edges both engines are then given."""
    return profiles["duckdb"]


def _sorted_rows(rows: list[tuple]) -> list[tuple]:
    return sorted(rows, key=lambda row: tuple((v is None, str(type(v)), v if v is not None else 0) for v in row))


@pytest.fixture(scope="module")
def counts(engines: dict[str, Any], rel: dict[str, str], reference_profile: ReferenceProfile) -> Answers:
    """The grouping-sets scan profile_reference runs: every column's bins at the reference
    deciles (exact DOUBLE literals) and every categorical's counts at once."""
    binned = [(c, reference_profile.numeric[c].edges) for c in NUMERIC]
    sql = {side: counts_sql(rel[side], binned, CATEGORICAL, float_categorical=FLOAT_CATEGORICAL) for side in SIDES}
    return {side: {name: con.execute(sql[side]).fetchall() for name, con in engines.items()} for side in SIDES}


def _counts_of(rows: list[tuple], column: str, as_double: bool = False) -> list[tuple]:
    """(key, count) rows of one column's grouping set; a NULL key counts its missing values."""
    k = len(NUMERIC) + len(CATEGORICAL)
    i = [*NUMERIC, *CATEGORICAL].index(column)
    out = [(row[k + i], row[-1]) for row in rows if row[i] == 0]
    if as_double:
        out = [(None if key is None else float(key), n) for key, n in out]
    return _sorted_rows(out)


@pytest.mark.parametrize("side", SIDES)
@pytest.mark.parametrize("column", NUMERIC)
def test_bin_counts_at_reference_deciles(counts: Answers, column: str, side: str) -> None:
    duck, spark = (_counts_of(counts[side][name], column) for name in ("duckdb", "spark"))
    assert duck == spark


EDGE_VALUES = [1e-300, -1e-300, 5e-324, 1e300, 0.1 + 0.2, 2.0 ** 53 + 2, -0.0]


def test_bin_edges_are_exact_doubles(engines: dict[str, Any]) -> None:
    """A value equal to an edge is not above it, its neighbours are: no literal is rounded."""
    probes, expected = [], []
    for value in EDGE_VALUES:
        edges = [np.nextafter(value, -np.inf), value, np.nextafter(value, np.inf)]
        probes += [(value, edges, v) for v in edges]
        expected += [0, 1, 2]
    union = " UNION ALL ".join(f"SELECT {i} AS i, {bin_index_sql(double_literal(v), edges)} AS bin"
                               for i, (_, edges, v) in enumerate(probes))
    sql = f"SELECT i, bin FROM ({union}) AS p ORDER BY i"
    duck, spark = _both(engines, lambda con: [row[1] for row in con.execute(sql).fetchall()])
    for (value, _, probe), d, s, want in zip(probes, duck, spark, expected):
        assert d == s == want, f"{probe!r} among the edges around {value!r}: DuckDB bin {d}, Spark bin {s}"


# A float-typed categorical is keyed by CAST(double AS VARCHAR), and the engines write doubles
# differently: DuckDB as Python's repr ('1e-05', '123456789.0'), Spark as Java's
# Double.toString ('1.0E-5', '1.23456789E8'; on Java 17 not even always the shortest digits).
# Either text reads back as the same double and the drift metrics only compare keys within one
# engine, so the counts are compared by the double each key denotes; the text itself is
# checked by test_float_category_text, which fails until the key no longer depends on it.


@pytest.mark.parametrize("side", SIDES)
@pytest.mark.parametrize("column", CATEGORICAL)
def test_category_counts(counts: Answers, column: str, side: str) -> None:
    """Counts per category; a NULL key counts the missing values (NaN too, for floats)."""
    floats = column in FLOAT_CATEGORICAL
    duck, spark = (_counts_of(counts[side][name], column, as_double=floats) for name in ("duckdb", "spark"))
    assert duck == spark


@pytest.mark.xfail(strict=True, reason="known: Spark writes a double as Java's Double.toString, DuckDB as "
                   "Python's repr; the category keys of a float-typed categorical differ in text (not in value)")
def test_float_category_text(counts: Answers) -> None:
    duck, spark = (_counts_of(counts["eq_ref"][name], "cat_float") for name in ("duckdb", "spark"))
    assert duck == spark


def test_reference_profile(profiles: dict[str, ReferenceProfile]) -> None:
    """Sizes, decile edges, bin counts, category counts as a model version would keep them."""
    duck, spark_dict = asdict(profiles["duckdb"]), asdict(profiles["spark"])
    for column in NUMERIC:
        d, s = duck["numeric"][column], spark_dict["numeric"][column]
        _assert_same(d.pop("edges"), s.pop("edges"), f"{column} edges")
        assert d == s, column
    for column in FLOAT_CATEGORICAL:  # keyed by the double's text (see test_category_counts)
        for profile in (duck, spark_dict):
            cats = profile["categorical"][column]["categories"]
            profile["categorical"][column]["categories"] = {float(k): n for k, n in cats.items()}
    assert duck["categorical"] == spark_dict["categorical"]
    assert duck["n_rows"] == spark_dict["n_rows"] == N_REF


# --- two-sample statistics ---------------------------------------------------------------------


class _Counting:
    """A connection that counts the lookup tables registered through it."""

    def __init__(self, con: Any) -> None:
        self.con, self.registered = con, 0

    def register(self, name: str, data: Any) -> None:
        self.registered += 1
        self.con.register(name, data)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.con, name)


@pytest.fixture(scope="module")
def two_sample(engines: dict[str, Any], rel: dict[str, str], reference_profile: ReferenceProfile,
               moments: Answers) -> dict[str, tuple[dict[str, Any], int]]:
    """two_sample_statistics of every column as univariate_drift hands them over (profile
    known), by engine, with settings that split cells over several rounds (lookup tables,
    chained joins) before the windows; and the number of lookup tables registered. (With the
    default settings these sizes take one windowed round: univariate_drift runs that path.)"""
    row = moments["eq_cur"]["duckdb"]
    columns = []
    for i, column in enumerate(NUMERIC):
        p = reference_profile.numeric[column]
        present, lo, hi = row[1 + 4 * i: 4 + 4 * i]
        if p.count and present:
            columns.append(SampleColumn(column, tuple(p.edges), tuple(p.bins), present, min(p.min, lo), max(p.max, hi)))
    out = {}
    for name, con in engines.items():
        counting = _Counting(con)
        found = two_sample_statistics(counting, rel["eq_ref"], rel["eq_cur"], columns, **SPLIT_SETTINGS)
        out[name] = (found, counting.registered)
    return out


def test_two_sample_statistics_went_through_splitting_rounds(two_sample: dict[str, tuple[dict[str, Any], int]]) -> None:
    assert two_sample["spark"][1] >= 3  # one lookup table per round


@pytest.mark.parametrize("column", [c for c in NUMERIC if c != "gone"])
def test_two_sample_statistics(two_sample: dict[str, tuple[dict[str, Any], int]], column: str) -> None:
    """Exact KS numerator max|S|, current PSI bins, and the Wasserstein integral of |S|."""
    duck, spark = (two_sample[name][0][column] for name in ("duckdb", "spark"))
    assert spark.ks_numerator == duck.ks_numerator, "KS numerator"
    assert spark.cur_bins == duck.cur_bins, "current PSI bins"
    _assert_same(duck.wasserstein_numerator, spark.wasserstein_numerator, "Wasserstein integral")


# --- univariate drift: every metric of every feature ---------------------------------------------


DRIFT_MODES = ["cold", "warm"]  # without a reference profile (found on the way), with one


@pytest.fixture(scope="module")
def drift(engines: dict[str, Any], rel: dict[str, str],
          profiles: dict[str, ReferenceProfile]) -> dict[tuple[str, str], dict[tuple[str, str | None], Any]]:
    """univariate_drift end to end on each engine, by (engine, mode); a warm run is given the
    reference profile its own engine computed, as an evaluation reads it from its cache."""
    out = {}
    for name, con in engines.items():
        for mode in DRIFT_MODES:
            profile = profiles[name] if mode == "warm" else None
            found = univariate_drift(con, rel["eq_ref"], rel["eq_cur"], NUMERIC, CATEGORICAL, profile)
            out[name, mode] = _metric_map(found)
    return out


@pytest.mark.parametrize("mode", DRIFT_MODES)
def test_univariate_drift_returns_the_same_metrics(drift: dict[tuple[str, str], Any], mode: str) -> None:
    assert list(drift["duckdb", mode]) == list(drift["spark", mode])


@pytest.mark.parametrize("mode", DRIFT_MODES)
@pytest.mark.parametrize("feature", [*NUMERIC, *CATEGORICAL, None])
def test_univariate_drift(drift: dict[tuple[str, str], Any], feature: str | None, mode: str) -> None:
    """Per feature: KS statistic and p-value, PSI, Wasserstein, chi-square p-value, new
    category share, missing share, the drift flag; feature None: the global metrics."""
    duck, spark = drift["duckdb", mode], drift["spark", mode]
    keys = [key for key in duck if key[1] == feature]
    assert keys and all(k in spark for k in keys), f"feature {feature}: Spark lacks {[k for k in keys if k not in spark]}"
    _assert_metrics([duck[k] for k in keys], [spark[k] for k in keys], f"feature {feature}")


def _present(table: pa.Table, column: str) -> np.ndarray:
    values = table.column(column).to_numpy(zero_copy_only=False).astype(float)  # NULL -> NaN
    return values[~np.isnan(values)]


@pytest.mark.parametrize("engine", ["duckdb", "spark"])
@pytest.mark.parametrize("column", ["normal", "ties"])
def test_ks_and_wasserstein_match_scipy(drift: dict[tuple[str, str], Any], frames: dict[str, pa.Table],
                                        column: str, engine: str) -> None:
    """The anchor: both engines agree with scipy on the raw values, not merely with each other."""
    ref, cur = _present(frames["eq_ref"], column), _present(frames["eq_cur"], column)
    ks = stats.ks_2samp(ref, cur)
    values = {metric: m.value for (metric, feature), m in drift[engine, "cold"].items() if feature == column}
    assert values["ks_statistic"] == pytest.approx(ks.statistic, rel=TOL, abs=0)
    assert values["ks_pvalue"] == pytest.approx(ks.pvalue, rel=TOL, abs=TOL)
    assert values["wasserstein"] == pytest.approx(stats.wasserstein_distance(ref, cur), rel=TOL, abs=0)


# --- prediction drift, performance, CBPE ---------------------------------------------------------

PREDICTION_CASES: dict[str, dict[str, Any]] = {
    "binary": {"classes": [0, 1], "positive_class": 1, "threshold": 0.3, "proba_column": "proba_1"},
    "multiclass": {"classes": ["a", "b", "c"], "positive_class": None, "threshold": 0.5, "proba_column": None,
                   "prediction_column": "pred_mc"},
    "regression": {"classes": None, "positive_class": None, "threshold": 0.5, "proba_column": None,
                   "prediction_column": "pred_reg"},
}


@pytest.mark.parametrize("case", list(PREDICTION_CASES))
def test_prediction_drift(engines: dict[str, Any], rel: dict[str, str], case: str) -> None:
    """Class shares, chi-square on predicted classes, PSI and KS p-value of the score."""
    args = PREDICTION_CASES[case]
    duck, spark = _both(engines, lambda con: prediction_drift(con, rel["eq_scored_ref"], rel["eq_scored_cur"], **args))
    _assert_metrics(duck, spark, f"{case} prediction drift")


@pytest.mark.parametrize("column", ["prediction", "pred_mc"])
def test_class_counts(engines: dict[str, Any], rel: dict[str, str], column: str) -> None:
    duck, spark = _both(engines, lambda con: class_counts(con, rel["eq_scored_cur"], column))
    assert duck == spark


def _labelled(con: Any, relation: str, columns: Sequence[str], target: str) -> pd.DataFrame:
    """The labelled rows as the evaluation fetches them for performance (order not promised)."""
    quoted = ", ".join(f'"{c}"' for c in columns)
    frame = con.execute(f'SELECT {quoted} FROM {relation} WHERE "{target}" IS NOT NULL').df()
    return frame.sort_values(list(columns), kind="stable", ignore_index=True)


@pytest.mark.parametrize("task", ["binary", "multiclass", "regression"])
def test_performance_on_fetched_rows(engines: dict[str, Any], rel: dict[str, str], task: str) -> None:
    """Performance runs in sklearn on rows fetched by SQL: the fetched rows must not differ."""
    def run(con: Any) -> Any:
        if task == "binary":
            frame = _labelled(con, rel["eq_scored_cur"], ["target", "proba_0", "proba_1"], "target")
            return classification_metrics(frame["target"], frame[["proba_0", "proba_1"]].to_numpy(dtype=float), [0, 1], 0.3)
        if task == "multiclass":
            frame = _labelled(con, rel["eq_scored_cur"], ["label_mc", "proba_a", "proba_b", "proba_c"], "label_mc")
            return classification_metrics(frame["label_mc"], frame[["proba_a", "proba_b", "proba_c"]].to_numpy(dtype=float),
                                          ["a", "b", "c"])
        frame = _labelled(con, rel["eq_scored_cur"], ["y_reg", "pred_reg"], "y_reg")
        return regression_metrics(frame["y_reg"], frame["pred_reg"])

    duck, spark = _both(engines, run)
    _assert_metrics(duck, spark, f"{task} performance")


def test_cbpe_calibration_rows(engines: dict[str, Any], rel: dict[str, str]) -> None:
    """The labelled reference rows CBPE calibrates on (all of them: fewer than the cap)."""
    duck, spark = _both(engines, lambda con: calibration_rows(con, rel["eq_scored_ref"], "target", "proba_1")
                        .sort_values(["target", "proba_1"], ignore_index=True))
    pd.testing.assert_frame_equal(duck, spark, check_dtype=False)


def _cbpe(con: Any, rel: dict[str, str], current: str, threshold: float) -> list[Any]:
    """CBPE as the evaluation runs it: calibrated on the reference's labelled rows."""
    ref = calibration_rows(con, rel["eq_scored_ref"], "target", "proba_1")
    return estimate_performance_sql(con, rel[current], "proba_1", ref["proba_1"].to_numpy(dtype=float),
                                    ref["target"].to_numpy(dtype=float) == 1.0, threshold, positive_label=True)


# A relation has no row order, and Spark does not scan a table in DuckDB's order (the example
# project's CBPE bands differ between its two builds). Spark is given the current rows in
# reverse order so that any dependence on the order shows, whatever the files' layout.


@pytest.fixture(scope="module")
def cbpe(engines: dict[str, Any], rel: dict[str, str]) -> dict[float, tuple[list[Any], list[Any]]]:
    """(DuckDB, Spark) CBPE estimates by threshold; Spark reads the current rows reversed."""
    return {threshold: (_cbpe(engines["duckdb"], rel, "eq_scored_cur", threshold),
                        _cbpe(engines["spark"], rel, "eq_scored_cur_reversed", threshold)) for threshold in (0.3, 0.5)}


@pytest.mark.parametrize("threshold", [0.3, 0.5])
def test_cbpe_point_estimates(cbpe: dict[float, tuple[list[Any], list[Any]]], threshold: float) -> None:
    """Point estimates come from per-group counts in SQL: the order of rows cannot matter."""
    duck, spark = cbpe[threshold]
    _assert_metrics(duck, spark, f"CBPE at {threshold}", parts=("value",))


@pytest.mark.parametrize("threshold", [0.3, 0.5])
def test_cbpe_band(cbpe: dict[float, tuple[list[Any], list[Any]]], threshold: float) -> None:
    """The band simulates labels per position; the scores are sorted first, so the engines' scan
    orders (Spark is given the rows reversed) cannot matter."""
    duck, spark = cbpe[threshold]
    _assert_metrics(duck, spark, f"CBPE band at {threshold}", parts=("lower", "upper"))


# --- JSON labels -------------------------------------------------------------------------------

LABEL_KEYS = ["month", "a.b", "x'y", 'q"k', "back\\slash", "sp ace", "é"]


def _label_query(key: str) -> str:
    """The store view's label column: json_extract_string(labels, '$."<key>"')."""
    return f"SELECT {json_label('labels', key, 'out').sql('duckdb')} FROM (SELECT ? AS labels) AS t"


@pytest.mark.parametrize("key", LABEL_KEYS)
def test_json_label(engines: dict[str, Any], key: str) -> None:
    """Evaluation labels are read by key whatever characters it holds (dots, quotes, backslashes)."""
    document = json.dumps({k: f"value of {k}" for k in LABEL_KEYS})
    duck, spark = _both(engines, lambda con: con.execute(_label_query(key), [document]).fetchone()[0])
    assert duck == spark == f"value of {key}"


def test_json_label_spark_cannot_name_raises(engines: dict[str, Any]) -> None:
    """A key with a quote and a dot has no Spark JSON path: an error, not a silent NULL."""
    with pytest.raises(SparkTranslationError, match="JSON path"):
        engines["spark"].execute(_label_query("a.b'c"), ['{"a.b\'c": 1}'])


# --- file scans --------------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["parquet", "csv"])
def test_statistics_over_file_scans(engines: dict[str, Any], frames: dict[str, pa.Table],
                                    tmp_path_factory: pytest.TempPathFactory, fmt: str) -> None:
    """Datasets are files read by read_parquet / read_csv([...], union_by_name = true)."""
    import pyarrow.compute as pc
    import pyarrow.csv
    import pyarrow.parquet

    folder: Path = tmp_path_factory.mktemp(f"scan_{fmt}")
    rows = frames["eq_cur"].select(["normal", "ties", "ints", "cat"])
    # NaN has no spelling both CSV readers agree on: missing values only.
    rows = rows.set_column(0, "normal", pc.if_else(pc.is_nan(rows["normal"]), None, rows["normal"]))
    paths = [str(folder / f"part{i}.{fmt}") for i in range(2)]
    for i, path in enumerate(paths):  # two files: the scan is their union
        part = rows.slice(i * 3_000, 3_000)
        if fmt == "parquet":
            pyarrow.parquet.write_table(part, path)
        else:
            pyarrow.csv.write_csv(part, path)
    relation = file_scan(fmt, paths).sql("duckdb")
    sql = moments_sql(relation, ["normal", "ties", "ints"], quantiles=True)
    categories = counts_sql(relation, [], ["cat"])
    duck, spark = _both(engines, lambda con: (con.execute(sql).fetchone(),
                                              _sorted_rows(con.execute(categories).fetchall())))
    assert duck[0][0] == spark[0][0] == rows.num_rows
    _assert_same(list(duck[0]), list(spark[0]), f"{fmt} moments")
    assert duck[1] == spark[1], f"{fmt} category counts"


# --- samples -----------------------------------------------------------------------------------


@pytest.mark.parametrize("hashed", ["every column", "key"])
def test_samples_take_the_same_rows(engines: dict[str, Any], rel: dict[str, str], frames: dict[str, pa.Table],
                                    hashed: str) -> None:
    """A seeded sample is the same rows on both engines, over every kind of column (NaN, NULL,
    1e300, infinities, integers, text, booleans); Spark reads the rows in reverse order."""
    from mlmon.metrics.sqlsample import draw_hash_sample

    columns = [*NUMERIC, *CATEGORICAL]
    spark_rows = engines["spark"].dataframe(f"SELECT * FROM {rel['eq_ref']}").orderBy("normal", ascending=False)
    spark_rows.createOrReplaceTempView("eq_ref_reordered")
    keyed = ["ints", "cat"] if hashed == "key" else columns
    duck = draw_hash_sample(engines["duckdb"], rel["eq_ref"], columns, keyed, 700, 11)
    spark = draw_hash_sample(engines["spark"], "eq_ref_reordered", columns, keyed, 700, 11)
    assert len(duck) == 700
    pd.testing.assert_frame_equal(duck, spark, check_dtype=False)
    # Both read the rows whole and numbered them in numpy; the engines' own numbering agrees.
    from mlmon.metrics import values
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(values, "IN_MEMORY_VALUES", 0)
        for engine, relation in (("duckdb", rel["eq_ref"]), ("spark", "eq_ref_reordered")):
            by_engine = draw_hash_sample(engines[engine], relation, columns, keyed, 700, 11)
            pd.testing.assert_frame_equal(duck, by_engine, check_dtype=False)


@pytest.mark.parametrize("order", [["ties", "normal", "cat", "extreme", "ints"],
                                   ["extreme", "cat_float", "cat", "cat_bool", "normal"],
                                   ["cat", "cat_bool", "cat_int", "skewed"]])
def test_samples_ranked_on_a_prefix_first_take_the_rows_of_the_definition(engines: dict[str, Any],
                                                                          rel: dict[str, str], order: list[str]) -> None:
    """The cheaper query (ranked on one or two leading columns, then the rows tied with a drawn
    ordinal on the others) takes on Spark the rows of DuckDB's one-pass definition: ties, NULL,
    NaN, -0.0 beside 0.0 and text in the prefix; Spark reads the rows in reverse order."""
    from mlmon.metrics.sqlsample import canonical_order, portable_sample_sql

    types = dict((r[0], str(r[1])) for r in engines["duckdb"].execute(f"DESCRIBE SELECT * FROM {rel['eq_ref']}").fetchall())
    ordered = [(c, types[c]) for c in order]
    definition = portable_sample_sql(rel["eq_ref"], order, ordered, 700, 11)
    expected = canonical_order(engines["duckdb"].execute(definition).df())
    engines["spark"].dataframe(f"SELECT * FROM {rel['eq_ref']}").orderBy("normal", ascending=False) \
        .createOrReplaceTempView("eq_ref_reversed")
    for prefix in (1, 2):
        cheaper = portable_sample_sql("eq_ref_reversed", order, ordered, 700, 11, rows=N_REF, prefix=prefix)
        assert "__mlmon_ranked" in cheaper
        found = canonical_order(engines["spark"].execute(cheaper).df())
        pd.testing.assert_frame_equal(expected, found, check_dtype=False)
