"""Univariate drift computed in DuckDB, checked against scipy/numpy and hand-worked examples."""

from __future__ import annotations

import itertools
import json
import math
from collections import Counter

import duckdb
import numpy as np
import pyarrow as pa
import pytest
import sqlglot
from scipy import stats

from mlmon.metrics import univariate as uv
from mlmon.metrics import values
from mlmon.metrics.sqlstats import counts_sql, moments_sql
from mlmon.metrics.twosample import SampleColumn, two_sample_statistics
from mlmon.metrics.types import MetricValue
from mlmon.metrics.univariate import (
    ReferenceProfile,
    classify_columns,
    ks_2samp_from_statistic,
    profile_reference,
    univariate_drift,
)

DECILES = np.arange(1, 10) / 10


@pytest.fixture
def con():
    c = duckdb.connect()
    yield c
    c.close()


def load(con, name: str, columns: dict) -> str:
    """A DuckDB table from Python lists (None is NULL, float('nan') stays NaN)."""
    con.register("__load", pa.table({k: pa.array(v) for k, v in columns.items()}))
    con.execute(f'CREATE OR REPLACE TABLE "{name}" AS SELECT * FROM __load')
    con.unregister("__load")
    return f'"{name}"'


def by_key(metrics: list[MetricValue]) -> dict:
    return {(m.metric, m.feature): m.value for m in metrics}


def approx(x):
    return pytest.approx(x, rel=1e-9, abs=1e-12)


def present(values) -> np.ndarray:
    a = np.array([np.nan if v is None else v for v in values], dtype=float)
    return a[~np.isnan(a)]


def decile_counts(r: np.ndarray, c: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    edges = np.unique(np.quantile(r, DECILES))
    nb = len(edges) + 1
    return (np.bincount(np.searchsorted(edges, r, side="left"), minlength=nb),  # edges strictly below
            np.bincount(np.searchsorted(edges, c, side="left"), minlength=nb))


def numpy_psi(r: np.ndarray, c: np.ndarray) -> float:
    rc, cc = decile_counts(r, c)
    rs, cs = np.maximum(rc / len(r), 0.001), np.maximum(cc / len(c), 0.001)
    return float(np.sum((cs - rs) * np.log(cs / rs)))


def judged(out: dict, chance: dict) -> dict:
    """SPEC §4's `drifted` with the default `drift:` settings, written out independently; an
    effect size counts only with its `chance` p-value (None: unknown) at or below 0.05 / 4."""
    def real(name: str) -> bool:
        return chance.get(name) is None or chance[name] <= 0.05 / 4

    p = out.get("ks_pvalue", out.get("chi2_pvalue"))
    psi_ = out.get("psi")
    hit = psi_ is not None and ((psi_ > 0.2 and real("psi")) or (p is not None and p <= 0.05 and psi_ > 0.1))
    if out.get("missing_share") is not None and out.get("missing_share_reference") is not None:
        change = abs(out["missing_share"] - out["missing_share_reference"])
        empty = 1.0 in (out["missing_share"], out["missing_share_reference"])
        hit = hit or (change > 0.1 and (real("missing_share") or empty))
    hit = hit or any((out.get(name) or 0) > 0.01 and real(name) for name in ("new_category_share", "out_of_range_share"))
    return {**out, "feature_missing": 0.0, "type_changed": 0.0, "drifted": float(hit)}


def homogeneity(ref_counts, cur_counts) -> float | None:
    table = np.array([ref_counts, cur_counts], dtype=float)
    table = table[:, table.sum(axis=0) > 0]
    if table.shape[1] < 2 or not table[0].sum() or not table[1].sum():
        return None
    return float(stats.chi2_contingency(table, correction=False).pvalue)


def missing_chance(ref, cur, n_ref: int, n_cur: int) -> float | None:
    if not len(ref) or not len(cur):
        return None
    return float(stats.fisher_exact([[len(cur) - n_cur, n_cur], [len(ref) - n_ref, n_ref]]).pvalue)


def outside_chance(r: np.ndarray, c: np.ndarray) -> float | None:
    """P(at least k of the current values outside the reference's range), exchangeable rows: the
    closed form summed in plain Python over the fewer terms (tests/metrics/test_noise.py checks
    it against every ranking)."""
    if len(r) < 2 or not len(c):
        return None
    k = int(np.sum((c < r.min()) | (c > r.max())))
    n, m = len(r) + len(c), len(c)

    def log_choose(a: int, b: int) -> float:
        return math.lgamma(a + 1) - math.lgamma(b + 1) - math.lgamma(a - b + 1)

    def term(j: int) -> float:
        return math.exp(math.log(j + 1) + log_choose(n - j - 2, m - j) - log_choose(n, m))

    if k <= m + 1 - k:
        return max(0.0, 1.0 - math.fsum(term(j) for j in range(k)))
    return math.fsum(term(j) for j in range(k, m + 1))


def unseen_chance(r_counts: dict, c_counts: dict) -> float | None:
    """P(at least the observed current values in categories absent from the reference), each
    category absent when all its pooled rows are current ones, categories independent: every
    set of absent categories enumerated."""
    n_ref, n_cur = sum(r_counts.values()), sum(c_counts.values())
    if not n_ref or not n_cur:
        return None
    observed = sum(v for k, v in c_counts.items() if k not in r_counts)
    pooled = [r_counts.get(k, 0) + c_counts.get(k, 0) for k in {*r_counts, *c_counts}]
    chance = [math.comb(n_ref + n_cur - m, n_ref) / math.comb(n_ref + n_cur, n_ref) for m in pooled]
    total = 0.0
    for absent in itertools.product((0, 1), repeat=len(pooled)):
        if sum(m for m, a in zip(pooled, absent) if a) >= observed:
            total += math.prod(q if a else 1 - q for q, a in zip(chance, absent))
    return total


def expected_numeric(ref, cur) -> dict:
    r, c = present(ref), present(cur)
    out = {"missing_share": (len(cur) - len(c)) / len(cur) if len(cur) else None,
           "missing_share_reference": (len(ref) - len(r)) / len(ref) if len(ref) else None}
    chance = {"missing_share": missing_chance(ref, cur, len(r), len(c))}
    if len(r) and len(c):
        ks = stats.ks_2samp(r, c)
        out.update(ks_statistic=float(ks.statistic), ks_pvalue=float(ks.pvalue), psi=numpy_psi(r, c),
                   wasserstein=float(stats.wasserstein_distance(r, c)),
                   out_of_range_share=float(np.mean((c < r.min()) | (c > r.max()))))
        chance.update(psi=homogeneity(*decile_counts(r, c)), out_of_range_share=outside_chance(r, c))
    else:
        out.update(ks_statistic=None, ks_pvalue=None, psi=None, wasserstein=None,
                   out_of_range_share=None if not len(r) or not len(cur) else 0.0)
    return judged(out, chance)


def check(got: dict, feature: str, want: dict) -> None:
    for metric, value in want.items():
        if value is None:
            assert got[(metric, feature)] is None, metric
        else:
            assert got[(metric, feature)] == approx(value), metric


SAMPLES = {
    "normal": lambda rng, n: rng.normal(size=n),
    "shifted": lambda rng, n: rng.normal(0.3, 1.2, size=n),
    "negative": lambda rng, n: -rng.exponential(3.0, size=n),
    "integers": lambda rng, n: rng.integers(-4, 5, size=n).astype(float),  # heavy ties
    "rounded": lambda rng, n: np.round(rng.normal(size=n), 1),
    "lognormal": lambda rng, n: rng.lognormal(0, 2, size=n),
}

CASES = [  # (seed, reference kind, current kind, n_ref, n_cur)
    (seed, ref_kind, cur_kind, n_ref, n_cur)
    for seed, (ref_kind, cur_kind), (n_ref, n_cur) in zip(
        range(100),
        [("normal", "normal"), ("normal", "shifted"), ("negative", "negative"), ("integers", "integers"),
         ("rounded", "rounded"), ("lognormal", "lognormal"), ("integers", "rounded"), ("negative", "normal")] * 4,
        [(30, 20), (500, 500), (2000, 1500), (7, 3), (1000, 999), (250, 4000), (2500, 10000), (64, 64),
         (1, 5), (5, 1), (300, 700), (12000, 9000), (11000, 15000), (40, 40), (20000, 20000), (3000, 10001),
         (2, 2), (150, 151), (800, 1200), (10000, 10000), (17, 4000), (5000, 12), (600, 600), (25000, 18000),
         (1200, 1300), (33, 77), (4096, 4096), (1, 1), (900, 100), (100, 900), (7000, 7000), (13000, 2000)],
    )
]


@pytest.mark.parametrize("seed,ref_kind,cur_kind,n_ref,n_cur", CASES)
def test_numeric_metrics_equal_scipy(con, seed, ref_kind, cur_kind, n_ref, n_cur):
    rng = np.random.default_rng(seed)
    ref, cur = SAMPLES[ref_kind](rng, n_ref), SAMPLES[cur_kind](rng, n_cur)
    load(con, "ref", {"x": ref.tolist()})
    load(con, "cur", {"x": cur.tolist()})
    got = by_key(univariate_drift(con, "ref", "cur", ["x"], []))
    check(got, "x", expected_numeric(ref.tolist(), cur.tolist()))


def test_exact_and_asymptotic_ks_paths_are_both_covered():
    # scipy's method='auto' is exact up to 10,000 rows per side; the cases above straddle it.
    sizes = [(n1, n2) for _, _, _, n1, n2 in CASES]
    assert any(max(s) <= 10_000 and s[0] != s[1] for s in sizes)
    assert any(max(s) <= 10_000 and s[0] == s[1] for s in sizes)
    assert any(max(s) > 10_000 for s in sizes)


def test_psi_worked_by_hand(con):
    # Reference 1..10: numpy/DuckDB deciles are 1.9, 2.8, ..., 9.1, so each value sits alone
    # in its bin (bin = number of edges strictly below it): every reference share is 0.1.
    # Current [1,1,1,1,1,2,2,3,10,10]: bins 0,0,0,0,0,1,1,2,9,9 -> shares
    # 0.5, 0.2, 0.1, 0, 0, 0, 0, 0, 0, 0.2; the six empty bins are floored to 0.001.
    load(con, "ref", {"v": [float(i) for i in range(1, 11)]})
    load(con, "cur", {"v": [1.0, 1, 1, 1, 1, 2, 2, 3, 10, 10]})
    by_hand = (
        (0.5 - 0.1) * math.log(0.5 / 0.1)  # bin 0:  0.4 * ln 5      = 0.643775
        + (0.2 - 0.1) * math.log(0.2 / 0.1)  # bin 1: 0.1 * ln 2      = 0.069315
        + (0.1 - 0.1) * math.log(0.1 / 0.1)  # bin 2: 0
        + 6 * (0.001 - 0.1) * math.log(0.001 / 0.1)  # bins 3-8: 6 * 0.099 * ln 100 = 2.735471
        + (0.2 - 0.1) * math.log(0.2 / 0.1)  # bin 9: 0.069315
    )
    assert by_hand == pytest.approx(3.517876, abs=1e-6)
    profile = profile_reference(con, "ref", ["v"], [])
    assert profile.numeric["v"].edges == approx([1.9, 2.8, 3.7, 4.6, 5.5, 6.4, 7.3, 8.2, 9.1])
    assert profile.numeric["v"].bins == [1] * 10
    got = by_key(univariate_drift(con, "ref", "cur", ["v"], [], profile))
    assert got[("psi", "v")] == approx(by_hand)
    # Ten rows a side: a PSI this large is what chance gives often enough (the chi-square test
    # over the bins: p = 0.41; KS: p = 0.17), so it is not drift on its own.
    assert got[("drifted", "v")] == 0.0
    # The same shares over ten times the rows are far beyond chance.
    load(con, "ref10", {"v": [float(i) for i in range(1, 11)] * 10})
    load(con, "cur10", {"v": [1.0, 1, 1, 1, 1, 2, 2, 3, 10, 10] * 10})
    got = by_key(univariate_drift(con, "ref10", "cur10", ["v"], [], profile_reference(con, "ref10", ["v"], [])))
    assert got[("psi", "v")] == approx(by_hand)
    assert got[("drifted", "v")] == 1.0


def test_categorical_psi_and_chi2_worked_by_hand(con):
    # Reference a:50 b:30 c:20. Current a:40 b:30 c:20 plus 10 rows of unseen d.
    load(con, "ref", {"c": ["a"] * 50 + ["b"] * 30 + ["c"] * 20})
    load(con, "cur", {"c": ["a"] * 40 + ["b"] * 30 + ["c"] * 20 + ["d"] * 10})
    got = by_key(univariate_drift(con, "ref", "cur", [], ["c"]))
    # PSI over a, b, c and one bin for unseen categories (reference share 0 -> 0.001):
    psi = (0.4 - 0.5) * math.log(0.4 / 0.5) + 0 + 0 + (0.1 - 0.001) * math.log(0.1 / 0.001)
    assert psi == pytest.approx(0.0223144 + 0.4559118, abs=1e-6)
    assert got[("psi", "c")] == approx(psi)
    # The two-sample test leaves d out: table [[50, 30, 20], [40, 30, 20]], 190 rows. Column
    # totals 90, 60, 40; expected row 1: 100/190 * (90, 60, 40), row 2: 90/190 * (90, 60, 40).
    # Deviations +-2.632, 1.579, 1.053: statistic 0.30864 + 0.16667 + 0.11111 = 0.586420 (= 47.5/81);
    # on 2 degrees of freedom (no Yates correction there) p = exp(-statistic / 2).
    table = np.array([[50, 30, 20], [40, 30, 20]], dtype=float)
    expected = table.sum(1, keepdims=True) * table.sum(0, keepdims=True) / table.sum()
    statistic = float(((table - expected) ** 2 / expected).sum())
    assert statistic == pytest.approx(47.5 / 81, rel=1e-12)
    assert got[("chi2_pvalue", "c")] == approx(math.exp(-statistic / 2))
    assert got[("new_category_share", "c")] == approx(0.1)
    assert got[("missing_share", "c")] == 0.0
    assert got[("drifted", "c")] == 1.0  # psi 0.478 > 0.2 (and 10% unseen > 1%)


def expected_categorical(ref: list, cur: list) -> dict:
    r = [str(v).lower() if isinstance(v, bool) else str(v) for v in ref if v is not None]
    c = [str(v).lower() if isinstance(v, bool) else str(v) for v in cur if v is not None]
    cats = sorted(set(r))
    r_counts = np.array([r.count(k) for k in cats], dtype=float)
    f_obs = np.array([c.count(k) for k in cats], dtype=float)
    unseen = sum(1 for v in c if v not in cats)
    out = {"missing_share": (len(cur) - len(c)) / len(cur) if cur else None,
           "missing_share_reference": (len(ref) - len(r)) / len(ref) if ref else None,
           "new_category_share": unseen / len(c) if c else None}
    if len(cats) >= 2 and f_obs.sum() > 0:
        out["chi2_pvalue"] = float(stats.chi2_contingency([r_counts, f_obs]).pvalue)
    else:
        out["chi2_pvalue"] = None
    if cats and c:
        rs = np.maximum(np.append(r_counts / len(r), 0), 0.001)
        cs = np.maximum(np.append(f_obs, unseen) / len(c), 0.001)
        out["psi"] = float(np.sum((cs - rs) * np.log(cs / rs)))
    else:
        out["psi"] = None
    chance = {"missing_share": missing_chance(ref, cur, len(r), len(c)),
              "psi": homogeneity(np.append(r_counts, 0), np.append(f_obs, unseen)) if cats and c else None,
              "new_category_share": unseen_chance(Counter(r), Counter(c))}
    return judged(out, chance)


@pytest.mark.parametrize("seed", range(12))
def test_categorical_metrics_equal_scipy(con, seed):
    rng = np.random.default_rng(seed)
    k = int(rng.integers(2, 12))
    labels = [f"cat {i}" for i in range(k + 2)]  # the last two only ever appear in the current
    p_ref = rng.dirichlet(np.ones(k))
    p_cur = rng.dirichlet(np.ones(k + 2)) if seed % 3 == 0 else np.append(p_ref, [0, 0])
    n_ref, n_cur = int(rng.integers(50, 3000)), int(rng.integers(1, 3000))
    ref = list(rng.choice(labels[:k], size=n_ref, p=p_ref))
    cur = list(rng.choice(labels, size=n_cur, p=p_cur / p_cur.sum()))
    cur = [None if rng.random() < 0.05 else v for v in cur]
    load(con, "ref", {"c": ref})
    load(con, "cur", {"c": cur})
    check(by_key(univariate_drift(con, "ref", "cur", [], ["c"])), "c", expected_categorical(ref, cur))


def test_booleans_are_categorical(con):
    load(con, "ref", {"flag": [True] * 70 + [False] * 30, "n": list(range(100))})
    load(con, "cur", {"flag": [True] * 40 + [False] * 55 + [None] * 5, "n": list(range(100))})
    numeric, categorical = classify_columns(con, "ref", ["flag", "n"])
    assert (numeric, categorical) == (["n"], ["flag"])
    got = by_key(univariate_drift(con, "ref", "cur", numeric, categorical))
    want = expected_categorical([True] * 70 + [False] * 30, [True] * 40 + [False] * 55 + [None] * 5)
    check(got, "flag", want)


def test_classify_columns_by_type_and_override(con):
    con.execute(
        "CREATE TABLE t AS SELECT 1::TINYINT AS a, 2.5::DECIMAL(10, 2) AS b, 1.0::FLOAT AS c, 3::HUGEINT AS d, "
        "'x' AS e, true AS f, DATE '2024-01-01' AS g, 7 AS \"zip code\""
    )
    cols = ["a", "b", "c", "d", "e", "f", "g", "zip code"]
    assert classify_columns(con, "t", cols) == (["a", "b", "c", "d", "zip code"], ["e", "f", "g"])
    assert classify_columns(con, "t", cols, ["zip code"]) == (["a", "b", "c", "d"], ["e", "f", "g", "zip code"])


def test_nan_and_null_are_missing_and_dropped(con):
    rng = np.random.default_rng(3)
    ref = [None if i % 7 == 0 else (math.nan if i % 11 == 0 else float(v)) for i, v in enumerate(rng.normal(size=400))]
    cur = [None if i % 5 == 0 else (math.nan if i % 3 == 0 else float(v)) for i, v in enumerate(rng.normal(0.2, 1, 300))]
    load(con, "ref", {"x": ref})
    load(con, "cur", {"x": cur})
    got = by_key(univariate_drift(con, "ref", "cur", ["x"], []))
    want = expected_numeric(ref, cur)
    assert want["missing_share"] == pytest.approx((60 + 80) / 300)  # i % 5 NULL, else i % 3 NaN
    check(got, "x", want)


def test_numeric_column_listed_as_categorical_treats_nan_as_missing(con):
    load(con, "ref", {"k": [1.0, 2.0, 2.0, math.nan, None, 3.0]})
    load(con, "cur", {"k": [1.0, 1.0, math.nan, 4.0]})
    got = by_key(univariate_drift(con, "ref", "cur", [], ["k"]))
    assert got[("missing_share", "k")] == 0.25
    assert got[("new_category_share", "k")] == approx(1 / 3)  # 4.0 among 1.0, 1.0, 4.0
    check(got, "k", expected_categorical(["1.0", "2.0", "2.0", None, None, "3.0"], ["1.0", "1.0", None, "4.0"]))


@pytest.mark.parametrize("side", ["ref", "cur", "both"])
def test_all_missing_column_gives_null_metrics(con, side):
    values = [1.0, 2.0, 3.0, 4.0]
    load(con, "ref", {"x": [math.nan, None] * 2 if side in ("ref", "both") else values,
                      "c": [None] * 4 if side in ("ref", "both") else ["a", "b", "a", "a"]})
    load(con, "cur", {"x": [math.nan] * 4 if side in ("cur", "both") else values,
                      "c": [None] * 4 if side in ("cur", "both") else ["a", "b", "b", "b"]})
    got = by_key(univariate_drift(con, "ref", "cur", ["x"], ["c"]))
    for metric in ("ks_statistic", "ks_pvalue", "psi", "wasserstein"):
        assert got[(metric, "x")] is None
    for metric in ("chi2_pvalue", "psi"):
        assert got[(metric, "c")] is None
    # A column that empties on one side is a data-quality drift (missing share moved by 1.0).
    flag = 0.0 if side == "both" else 1.0
    assert got[("drifted", "x")] == got[("drifted", "c")] == flag
    expected_missing = 1.0 if side in ("cur", "both") else 0.0
    assert got[("missing_share", "x")] == got[("missing_share", "c")] == expected_missing
    assert got[("drifted_features_share", None)] == flag
    assert got[("n_features_drifted", None)] == 2 * flag


def test_constant_columns(con):
    load(con, "ref", {"x": [5.0] * 50, "y": [5.0] * 50})
    load(con, "cur", {"x": [5.0] * 30, "y": [4.0] * 10 + [5.0] * 10 + [6.0] * 10})
    profile = profile_reference(con, "ref", ["x", "y"], [])
    assert profile.numeric["x"].edges == [5.0]  # nine equal deciles deduplicated to one edge
    assert profile.numeric["x"].bins == [50, 0]
    got = by_key(univariate_drift(con, "ref", "cur", ["x", "y"], [], profile))
    check(got, "x", expected_numeric([5.0] * 50, [5.0] * 30))
    assert got[("ks_statistic", "x")] == 0.0 and got[("wasserstein", "x")] == 0.0 and got[("psi", "x")] == 0.0
    check(got, "y", expected_numeric([5.0] * 50, [4.0] * 10 + [5.0] * 10 + [6.0] * 10))


def test_one_row_and_empty_current(con):
    rng = np.random.default_rng(8)
    ref = rng.normal(size=200).tolist()
    load(con, "ref", {"x": ref, "c": ["a", "b"] * 100})
    load(con, "one", {"x": [0.25], "c": ["b"]})
    got = by_key(univariate_drift(con, "ref", "one", ["x"], ["c"]))
    check(got, "x", expected_numeric(ref, [0.25]))
    check(got, "c", expected_categorical(["a", "b"] * 100, ["b"]))

    con.execute("CREATE TABLE empty AS SELECT * FROM ref LIMIT 0")
    got = by_key(univariate_drift(con, "ref", "empty", ["x"], ["c"]))
    about_reference = ("missing_share_reference", "feature_missing", "type_changed")
    flags = ("drifted", "drifted_features_share", "n_features_drifted")
    assert all(v is None for (m, f), v in got.items() if m not in (*flags, *about_reference))
    assert got[("missing_share_reference", "x")] == 0.0 and got[("n_features_drifted", None)] == 0.0
    assert got[("drifted", "x")] == got[("drifted", "c")] == got[("drifted_features_share", None)] == 0.0


def test_identical_samples(con):
    x = np.random.default_rng(4).normal(size=3000).tolist()
    load(con, "ref", {"x": x})
    got = by_key(univariate_drift(con, "ref", "(SELECT * FROM ref ORDER BY x DESC)", ["x"], []))
    assert got[("ks_statistic", "x")] == 0.0
    assert got[("ks_pvalue", "x")] == 1.0
    assert got[("wasserstein", "x")] == 0.0
    assert got[("psi", "x")] == 0.0


def test_awkward_column_names_and_subquery_relations(con):
    rng = np.random.default_rng(5)
    names = ["amount (€)", 'say "hi"', "it's", "select", "a b"]
    ref = {n: rng.normal(i, 1, 300).tolist() for i, n in enumerate(names[:3])}
    ref.update({names[3]: list(rng.choice(["x", "y"], 300)), names[4]: list(rng.choice(["p", "q", "r"], 300))})
    cur = {n: rng.normal(i + 0.1, 1, 200).tolist() for i, n in enumerate(names[:3])}
    cur.update({names[3]: list(rng.choice(["x", "y", "z"], 200)), names[4]: list(rng.choice(["p", "q"], 200))})
    load(con, "ref table", ref)
    load(con, "cur", cur)
    numeric, categorical = classify_columns(con, '"ref table"', names)
    assert numeric == names[:3]
    got = by_key(univariate_drift(con, '"ref table"', "(SELECT * FROM cur WHERE true)", numeric, categorical))
    for n in names[:3]:
        check(got, n, expected_numeric(ref[n], cur[n]))
    for n in names[3:]:
        check(got, n, expected_categorical(ref[n], cur[n]))


def test_globals_and_metric_layout(con):
    rng = np.random.default_rng(6)
    load(con, "ref", {"a": rng.normal(size=500).tolist(), "b": rng.normal(size=500).tolist(),
                      "c": list(rng.choice(["x", "y"], 500))})
    load(con, "cur", {"a": rng.normal(size=400).tolist(), "b": rng.normal(2, 1, 400).tolist(),
                      "c": list(rng.choice(["x", "y"], 400))})
    metrics = univariate_drift(con, "ref", "cur", ["a", "b"], ["c"])
    assert [m.metric for m in metrics if m.feature == "a"] == [
        "ks_statistic", "ks_pvalue", "psi", "wasserstein", "missing_share", "missing_share_reference",
        "out_of_range_share", "feature_missing", "type_changed", "drifted"]
    assert [m.metric for m in metrics if m.feature == "c"] == [
        "chi2_pvalue", "psi", "new_category_share", "missing_share", "missing_share_reference", "feature_missing",
        "type_changed", "drifted"]
    got = by_key(metrics)
    flags = [got[("drifted", f)] for f in ("a", "b", "c")]
    assert got[("drifted", "b")] == 1.0
    assert got[("drifted_features_share", None)] == approx(sum(flags) / 3)
    assert got[("max_psi", None)] == max(got[("psi", f)] for f in ("a", "b", "c"))
    assert got[("n_features_drifted", None)] == sum(flags)
    assert [m.metric for m in metrics[-3:]] == ["drifted_features_share", "n_features_drifted", "max_psi"]


def test_profile_round_trips_through_json(con):
    rng = np.random.default_rng(7)
    ref = {"x": (rng.normal(size=999) / 3).tolist(), "k": [1.5, math.nan, 2.5] * 333, "c": list(rng.choice(["u", "v"], 999))}
    cur = {"x": rng.normal(size=500).tolist(), "k": [1.5, 3.5] * 250, "c": list(rng.choice(["u", "w"], 500))}
    load(con, "ref", ref)
    load(con, "cur", cur)
    profile = profile_reference(con, "ref", ["x"], ["k", "c"])
    restored = ReferenceProfile.from_dict(json.loads(json.dumps(profile.to_dict())))
    assert restored == profile  # edges included, bit for bit
    assert restored.numeric["x"].edges == approx(list(np.quantile(present(ref["x"]), DECILES)))
    assert restored.categorical["k"].is_float and restored.categorical["k"].count == 666
    # The same metrics whether the profile is given or found on the way; the cells differ, so
    # the Wasserstein integral may differ in its last bits.
    given = univariate_drift(con, "ref", "cur", ["x"], ["k", "c"], restored)
    found = univariate_drift(con, "ref", "cur", ["x"], ["k", "c"])
    assert [(m.metric, m.feature) for m in given] == [(m.metric, m.feature) for m in found]
    for a, b in zip(given, found):
        assert a.value == (b.value if b.value is None else pytest.approx(b.value, rel=1e-13, abs=0)), a


def truth(x: np.ndarray, y: np.ndarray) -> tuple[int, float]:
    """max |c_x * n_y - c_y * n_x| and its integral, straight from sorted arrays."""
    pooled = np.sort(np.concatenate([x, y]))
    s = (np.searchsorted(np.sort(x), pooled, "right") * len(y) - np.searchsorted(np.sort(y), pooled, "right") * len(x))
    return int(np.abs(s).max()), float(np.sum(np.abs(s[:-1]) * np.diff(pooled)))


@pytest.mark.parametrize("kind", ["normal", "shifted", "integers", "lognormal", "identical", "near_identical", "outliers"])
def test_engine_is_exact_whatever_its_settings(con, kind):
    rng = np.random.default_rng(len(kind))
    x = rng.normal(size=1500)
    y = {"normal": rng.normal(size=1200), "shifted": rng.normal(0.2, 1, 1200), "identical": x[::-1].copy(),
         "near_identical": np.where(rng.random(1500) < 0.03, x + 0.01, x), "integers": None, "lognormal": None,
         "outliers": np.r_[rng.normal(size=1000), [1e9, -1e12, 3e15]]}[kind]
    if kind == "integers":
        x, y = rng.integers(0, 40, 1500).astype(float), rng.integers(0, 45, 1100).astype(float)
    if kind == "lognormal":
        x, y = rng.lognormal(0, 3, 1500), rng.lognormal(0.1, 3, 1300)
    load(con, "a", {"v": x.tolist()})
    load(con, "b", {"v": y.tolist()})
    edges = [float(e) for e in np.unique(np.quantile(x, DECILES))]
    ref_bins = tuple(int(n) for n in np.bincount(np.searchsorted(edges, x), minlength=len(edges) + 1))
    cur_bins = tuple(int(n) for n in np.bincount(np.searchsorted(edges, y), minlength=len(edges) + 1))
    col = SampleColumn("v", tuple(edges), ref_bins, len(y), float(min(x.min(), y.min())), float(max(x.max(), y.max())))
    want = truth(x, y)
    settings = [{}, dict(window_rows=0), dict(rows_per_cell=2, max_split=4, window_rows=0, crossing_share=2.0),
                dict(rows_per_cell=1, max_split=2, window_rows=100, crossing_share=2.0, max_depth=3),
                dict(window_rows=10**9, window_batch=40), dict(rows_per_cell=4096, window_batch=1)]
    for kw in settings:
        got = two_sample_statistics(con, "a", "b", [col], **kw)["v"]
        assert got.ks_numerator == want[0], kw
        assert got.wasserstein_numerator == pytest.approx(want[1], rel=1e-11, abs=1e-9), kw
        assert got.cur_bins == cur_bins


def test_infinite_values_do_not_break_ks(con):
    x = [1.0, 2.0, math.inf, -math.inf, 3.0, 0.5]
    y = [0.0, math.inf, 2.5, 4.0]
    load(con, "ref", {"x": x})
    load(con, "cur", {"x": y})
    got = by_key(univariate_drift(con, "ref", "cur", ["x"], []))
    ks = stats.ks_2samp(x, y)
    assert got[("ks_statistic", "x")] == approx(ks.statistic)
    assert got[("ks_pvalue", "x")] == approx(ks.pvalue)


def test_asymptotic_pvalue_matches_scipy_where_scipy_is_slow():
    # kstwo.sf goes through scipy.special.smirnov for 2.2 <= n*d^2 < 370: reproduced in bulk.
    rng = np.random.default_rng(11)
    for _ in range(30):
        n = int(rng.integers(141, 25_000))
        d = math.sqrt(rng.uniform(2.2, 370) / n)
        assert uv._kstwo_sf(n, d) == pytest.approx(float(stats.kstwo.sf(d, n)), rel=1e-9, abs=1e-300)
    for n, d in ((200, 0.01), (1000, 0.001), (5000, 0.3), (150, 0.6), (90, 0.2)):  # other branches: scipy itself
        assert uv._kstwo_sf(n, d) == float(stats.kstwo.sf(d, n))


def test_exact_pvalue_kernels_match_scipy():
    from scipy.stats._stats_pythran import _compute_outer_prob_inside_method as kernel

    for m, n in ((7, 5), (30, 12), (100, 77), (45, 45)):
        g = math.gcd(m, n)
        for h in range(1, (m // g) * n, max(1, (m // g) * n // 17)):
            assert uv._prob_outside_inside_method(m, n, g, h) == pytest.approx(kernel(m, n, g, h), rel=1e-12, abs=1e-300)
    # the statistic/p-value pair from the counts numerator, on both sides of the exact limit
    rng = np.random.default_rng(12)
    for n1, n2 in ((10, 10), (8, 12), (9_999, 10_000), (10_000, 10_001), (20_000, 30_000)):
        ks = stats.ks_2samp(rng.normal(size=n1), rng.normal(0.05, 1, n2))
        stat, p = ks_2samp_from_statistic(round(ks.statistic * n1 * n2), n1, n2)
        assert stat == approx(ks.statistic) and p == approx(ks.pvalue)


def test_sql_builders_render_for_spark():
    sqls = [
        moments_sql("`db`.`t`", ["a b", "c"], quantiles=True, dialect="spark"),
        counts_sql("`db`.`t`", [("a b", [0.5, 1.5])], ["flag"], dialect="spark"),
    ]
    for sql in sqls:
        assert "`a b`" in sql and '"' not in sql
        sqlglot.parse_one(sql, read="spark")
    assert "PERCENTILE(" in sqls[0] and " LOG(" not in sqls[0]


class _Recorder:
    """A connection that keeps every SQL text it runs."""

    def __init__(self, con):
        self.con, self.sql = con, []

    def execute(self, sql, params=None):
        self.sql.append(sql)
        return self.con.execute(sql) if params is None else self.con.execute(sql, params)

    def register(self, name, data):
        return self.con.register(name, data)

    def unregister(self, name):
        return self.con.unregister(name)


@pytest.mark.parametrize("seed", range(4))
def test_profile_found_on_the_way_equals_profile_reference(con, seed):
    rng = np.random.default_rng(seed)
    n1, n2 = int(rng.integers(1, 4000)), int(rng.integers(1, 4000))
    kinds = ["normal", "integers", "rounded", "lognormal", "negative"]
    ref = {k: SAMPLES[k](rng, n1).tolist() for k in kinds}
    cur = {k: (SAMPLES[k](rng, n2) + 0.05).tolist() for k in kinds}
    ref["normal"][: n1 // 10] = [math.nan] * (n1 // 10)
    ref["c"], cur["c"] = list(rng.choice(["a", "b"], n1)), list(rng.choice(["a", "b", "z"], n2))
    load(con, "ref", ref)
    load(con, "cur", cur)
    found = uv.drift_and_profile(con, "ref", "cur", kinds, ["c"])
    assert found.profile == profile_reference(con, "ref", kinds, ["c"])  # deciles bit for bit
    assert found.metrics == univariate_drift(con, "ref", "cur", kinds, ["c"])


def test_engine_sql_transpiles_to_spark(con):
    rng = np.random.default_rng(9)
    load(con, "ref", {"x": rng.normal(size=3000).tolist(), "c": list(rng.choice(["a", "b"], 3000))})
    load(con, "cur", {"x": rng.normal(0.01, 1, 3000).tolist(), "c": list(rng.choice(["a", "b"], 3000))})
    recorder = _Recorder(con)
    uv.drift_and_profile(recorder, "ref", "cur", ["x"], ["c"], extra={"s": 'GREATEST("x", 0.5)'})
    two_sample_statistics(recorder, "ref", "cur", [SampleColumn("x", (0.0,), (1500, 1500), 3000, -5.0, 5.0)],
                          window_rows=0, rows_per_cell=2, max_split=4, crossing_share=2.0)
    assert len(recorder.sql) > 5
    for sql in recorder.sql:
        for statement in sqlglot.parse(sql, read="duckdb"):
            statement.sql("spark", unsupported_level=sqlglot.ErrorLevel.RAISE)


class _Statements:
    """A connection that keeps the text of every statement it runs."""

    def __init__(self, con: duckdb.DuckDBPyConnection) -> None:
        self.con, self.texts = con, []

    def execute(self, text: str, *args):
        self.texts.append(text)
        return self.con.execute(text, *args)


def test_a_small_reference_finds_its_deciles_in_two_scans_a_large_one_in_one_per_column(con, monkeypatch):
    """The first scan counts the rows; the columns left whose values fit in memory together
    share the next. Beyond memory, one column per scan. The profile is the same either way."""
    rng = np.random.default_rng(3)
    load(con, "ref", {name: rng.normal(size=400).round(2) for name in ("a", "b", "c", "d")})
    names = ["a", "b", "c", "d"]

    def deciles_scans(limit: int):
        monkeypatch.setattr(values, "IN_MEMORY_VALUES", limit)
        counting = _Statements(con)
        profile = profile_reference(counting, "ref", names, [])
        return profile, sum("quantile" in text.lower() for text in counting.texts)

    together, scans = deciles_scans(1_200)  # 400 rows x 3 columns left after the first
    assert scans == 2
    assert deciles_scans(1_199)[1] == 3  # then 2 columns left: 800 values
    apart, scans = deciles_scans(799)
    assert scans == 4
    assert together == apart
    assert together.numeric["c"].edges == pytest.approx(
        np.quantile(con.execute("SELECT c FROM ref").fetchnumpy()["c"], np.arange(1, 10) / 10), rel=1e-12)
