"""Prediction drift against independent computations (pandas counts, scipy)."""

from __future__ import annotations

import duckdb
import numpy as np
import pandas as pd
import pytest
from scipy import stats

from mlmon.metrics.prediction import prediction_drift


def _frames(seed: int, shift: float) -> tuple[pd.DataFrame, pd.DataFrame]:
    rng = np.random.default_rng(seed)

    def frame(a: float, n: int) -> pd.DataFrame:
        p = rng.beta(a, 5, n)
        return pd.DataFrame({"proba_0": 1 - p, "proba_1": p, "prediction": (p >= 0.4).astype(int)})

    return frame(2.0, 3000), frame(2.0 + shift, 1800)


def _metrics(con, classes, proba_column="proba_1") -> dict[tuple[str, str | None], float | None]:
    found = prediction_drift(con, "ref", "cur", classes, 1, 0.4, proba_column)
    return {(m.metric, m.feature): m.value for m in found}


@pytest.mark.parametrize("seed, shift", [(0, 0.0), (1, 0.5), (2, 2.0)])
def test_binary_prediction_drift_matches_scipy_and_pandas(seed, shift):
    ref, cur = _frames(seed, shift)
    con = duckdb.connect()
    con.register("ref", ref)
    con.register("cur", cur)
    got = _metrics(con, [0, 1])
    assert got[("predicted_class_share", "1")] == pytest.approx((cur["prediction"] == 1).mean(), abs=1e-12)
    assert got[("predicted_class_share_reference", "0")] == pytest.approx((ref["prediction"] == 0).mean(), abs=1e-12)
    assert got[("prediction_ks_pvalue", None)] == pytest.approx(stats.ks_2samp(ref["proba_1"], cur["proba_1"]).pvalue, rel=1e-9, abs=1e-300)
    # The two-sample test of homogeneity on predicted-class counts (Yates-corrected at 1 dof, as scipy).
    table = [[(side["prediction"] == c).sum() for c in (0, 1)] for side in (ref, cur)]
    want = stats.chi2_contingency(table).pvalue
    assert got[("prediction_chi2_pvalue", None)] == pytest.approx(want, rel=1e-9, abs=1e-300)
    assert got[("prediction_psi", None)] >= 0


def test_prediction_psi_by_hand():
    # reference scores 0.05..0.95 (deciles at 0.14..0.86), current all in the top bin
    ref = pd.DataFrame({"proba_1": np.linspace(0.05, 0.95, 11)})
    ref["prediction"] = (ref["proba_1"] >= 0.5).astype(int)
    cur = pd.DataFrame({"proba_1": [0.99] * 4, "prediction": [1] * 4})
    con = duckdb.connect()
    con.register("ref", ref)
    con.register("cur", cur)
    got = _metrics(con, [0, 1])
    ref_bins = np.histogram(np.searchsorted(np.quantile(ref["proba_1"], np.arange(1, 10) / 10), ref["proba_1"], side="left"),
                            bins=np.arange(11))[0] / 11
    cur_bins = np.maximum(np.array([0] * 9 + [1.0]), 0.001)
    ref_bins = np.maximum(ref_bins, 0.001)
    expected = float(np.sum((cur_bins - ref_bins) * np.log(cur_bins / ref_bins)))
    assert got[("prediction_psi", None)] == pytest.approx(expected, rel=1e-12)
    assert got[("predicted_class_share", "0")] == 0.0


def test_multiclass_compares_predicted_classes_with_the_two_sample_test():
    rng = np.random.default_rng(3)
    p = rng.dirichlet([1, 1, 1], 500)
    frame = pd.DataFrame(p, columns=["proba_a", "proba_b", "proba_c"])
    frame["prediction"] = np.array(["a", "b", "c"])[p.argmax(axis=1)]
    frame.loc[frame.index[250:], "prediction"] = frame["prediction"][250:].replace({"c": "a"}).to_numpy()
    con = duckdb.connect()
    con.register("ref", frame.iloc[:250])
    con.register("cur", frame.iloc[250:])
    found = prediction_drift(con, "ref", "cur", ["a", "b", "c"], None, 0.5, None)
    got = {(m.metric, m.feature): m.value for m in found}
    ref_counts = frame["prediction"][:250].value_counts()
    cur_counts = frame["prediction"][250:].value_counts()
    for k in "abc":
        assert got[("predicted_class_share", k)] == pytest.approx(cur_counts.get(k, 0) / 250, abs=1e-12)
        assert got[("predicted_class_share_reference", k)] == pytest.approx(ref_counts.get(k, 0) / 250, abs=1e-12)
    # Class c is never predicted now: the column empty on the current side still counts.
    table = [[ref_counts.get(k, 0) for k in "abc"], [cur_counts.get(k, 0) for k in "abc"]]
    assert got[("prediction_chi2_pvalue", None)] == pytest.approx(stats.chi2_contingency(table).pvalue, rel=1e-9)
    # No single score summarises k probabilities: no distribution metric is made up.
    assert {m.metric for m in found} == {"predicted_class_share", "predicted_class_share_reference",
                                         "prediction_chi2_pvalue"}


@pytest.mark.parametrize("shift", [0.0, 0.4])
def test_regression_compares_the_predicted_value_as_scipy_does(shift):
    rng = np.random.default_rng(5)
    regression = pd.DataFrame({"prediction": rng.normal(0, 1, 700)})
    ref, cur = regression["prediction"][:300].to_numpy(), regression["prediction"][300:].to_numpy() + shift
    cur[::37] = np.nan  # missing predictions are left out of every statistic
    con = duckdb.connect()
    con.register("ref", pd.DataFrame({"prediction": ref}))
    con.register("cur", pd.DataFrame({"prediction": cur}))
    found = prediction_drift(con, "ref", "cur", None, None, 0.5, None)
    got = {m.metric: m.value for m in found}
    assert [m.metric for m in found] == ["prediction_ks_statistic", "prediction_ks_pvalue", "prediction_psi",
                                         "prediction_wasserstein", "prediction_mean", "prediction_mean_reference"]
    present = cur[~np.isnan(cur)]
    ks = stats.ks_2samp(ref, present)
    assert got["prediction_ks_statistic"] == pytest.approx(ks.statistic, rel=1e-9)
    assert got["prediction_ks_pvalue"] == pytest.approx(ks.pvalue, rel=1e-9)
    assert got["prediction_wasserstein"] == pytest.approx(stats.wasserstein_distance(ref, present), rel=1e-9)
    assert got["prediction_mean"] == pytest.approx(present.mean(), rel=1e-9)
    assert got["prediction_mean_reference"] == pytest.approx(ref.mean(), rel=1e-9)
    edges = np.unique(np.quantile(ref, np.linspace(0.1, 0.9, 9)))
    shares = [np.maximum(np.bincount(np.searchsorted(edges, side, side="left"), minlength=len(edges) + 1)
                         / len(side), 0.001) for side in (ref, present)]
    assert got["prediction_psi"] == pytest.approx(float(np.sum((shares[1] - shares[0]) * np.log(shares[1] / shares[0]))),
                                                  rel=1e-9)


def test_empty_current_gives_none_not_a_crash():
    ref, cur = _frames(0, 0.0)
    con = duckdb.connect()
    con.register("ref", ref)
    con.register("cur", cur.iloc[:0])
    got = _metrics(con, [0, 1])
    assert got[("predicted_class_share", "1")] is None
    assert got[("prediction_ks_pvalue", None)] is None


def test_binary_shares_are_taken_at_the_given_threshold_on_both_sides():
    ref, cur = _frames(4, 1.0)  # their prediction columns were cut at 0.4
    con = duckdb.connect()
    con.register("ref", ref)
    con.register("cur", cur)
    found = {(m.metric, m.feature): m.value for m in prediction_drift(con, "ref", "cur", [0, 1], 1, 0.25, "proba_1")}
    assert found[("predicted_class_share", "1")] == pytest.approx((cur["proba_1"] >= 0.25).mean(), abs=1e-12)
    assert found[("predicted_class_share_reference", "1")] == pytest.approx((ref["proba_1"] >= 0.25).mean(), abs=1e-12)


@pytest.mark.parametrize("classes, proba_column", [([0, 1], "proba_1"), (None, None)])
def test_score_compared_in_the_univariate_scans_gives_the_same_metrics(classes, proba_column):
    from mlmon.metrics.prediction import score_expression
    from mlmon.metrics.univariate import drift_and_profile

    ref, cur = _frames(3, 0.7)
    con = duckdb.connect()
    con.register("ref", ref)
    con.register("cur", cur)
    alone = prediction_drift(con, "ref", "cur", classes, 1, 0.4, proba_column)
    found = drift_and_profile(con, "ref", "cur", [], [], extra={"s": score_expression(classes, proba_column)})
    together = prediction_drift(con, "ref", "cur", classes, 1, 0.4, proba_column, distribution=found.extra["s"])
    assert [(m.metric, m.feature) for m in together] == [(m.metric, m.feature) for m in alone]
    for a, b in zip(alone, together):
        assert b.value == pytest.approx(a.value, rel=1e-12, abs=0), a.metric


def _class_counts(rng: np.random.Generator, shares: list[float], n: int) -> dict[str, int]:
    drawn = rng.choice(len(shares), n, p=shares)
    return {str(c): int((drawn == c).sum()) for c in range(len(shares))}


def test_predicted_classes_null_rate_and_power():
    from mlmon.metrics.prediction import classes_chi2_pvalue

    rng = np.random.default_rng(11)
    shares = [0.6, 0.3, 0.1]
    null = [classes_chi2_pvalue(_class_counts(rng, shares, 2000), _class_counts(rng, shares, 800)) for _ in range(400)]
    # Same population: the test is calibrated, flagging 5% of the splits at the 5% level up to
    # the binomial noise of 400 draws (3 standard errors), and its p-values are uniform.
    assert np.mean(np.array(null) <= 0.05) <= 0.05 + 3 * np.sqrt(0.05 * 0.95 / 400)
    assert stats.kstest(null, "uniform").pvalue > 0.001
    shifted = [0.5, 0.35, 0.15]
    power = [classes_chi2_pvalue(_class_counts(rng, shares, 2000), _class_counts(rng, shifted, 800)) for _ in range(100)]
    assert np.mean(np.array(power) <= 0.05) >= 0.9


class _Recording:
    """A DuckDB connection that records the statements it runs."""

    def __init__(self, con: duckdb.DuckDBPyConnection):
        self.con, self.statements = con, []

    def execute(self, sql, *args):
        self.statements.append(sql)
        return self.con.execute(sql, *args)

    def __getattr__(self, name):
        return getattr(self.con, name)


@pytest.mark.parametrize("classes, positive, proba_column", [
    ([0, 1], 1, "proba_1"),  # binary: classes cut at the threshold
    ([0, 1], None, None),  # logged decisions: the prediction column's classes
    (None, None, None),  # regression: the mean prediction
])
def test_a_memo_reads_the_reference_once_for_every_period(classes, positive, proba_column):
    reference, current = _frames(4, 0.6)
    con = duckdb.connect()
    con.register("ref", reference)
    periods = [current.iloc[:600], current.iloc[600:1000], current.iloc[1000:]]
    for i, period in enumerate(periods):
        con.register(f"cur_{i}", period)
    recording, memo = _Recording(con), {}
    for i in range(len(periods)):
        # The score's distribution comes from an evaluation's univariate scans: none here.
        alone = prediction_drift(con, "ref", f"cur_{i}", classes, positive, 0.4, proba_column, distribution=[])
        found = prediction_drift(recording, "ref", f"cur_{i}", classes, positive, 0.4, proba_column,
                                 distribution=[], memo=memo)
        assert [(m.metric, m.feature, m.value) for m in found] == [(m.metric, m.feature, m.value) for m in alone]
    reading_the_reference = [s for s in recording.statements if "FROM ref" in s]
    assert len(reading_the_reference) == 1  # the first period's, not one a period
