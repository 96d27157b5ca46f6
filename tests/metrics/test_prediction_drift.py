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


def test_multiclass_uses_the_largest_probability_and_regression_the_prediction():
    rng = np.random.default_rng(3)
    p = rng.dirichlet([1, 1, 1], 500)
    frame = pd.DataFrame(p, columns=["proba_a", "proba_b", "proba_c"])
    frame["prediction"] = np.array(["a", "b", "c"])[p.argmax(axis=1)]
    con = duckdb.connect()
    con.register("ref", frame.iloc[:250])
    con.register("cur", frame.iloc[250:])
    got = {(m.metric, m.feature): m.value for m in prediction_drift(con, "ref", "cur", ["a", "b", "c"], None, 0.5, None)}
    top = frame[["proba_a", "proba_b", "proba_c"]].max(axis=1)
    assert got[("prediction_ks_pvalue", None)] == pytest.approx(stats.ks_2samp(top[:250], top[250:]).pvalue, rel=1e-9)
    assert sum(got[("predicted_class_share", k)] for k in "abc") == pytest.approx(1.0)

    regression = pd.DataFrame({"prediction": rng.normal(0, 1, 400)})
    con.register("ref", regression.iloc[:200])
    con.register("cur", regression.iloc[200:] + 1)
    got = {m.metric: m.value for m in prediction_drift(con, "ref", "cur", None, None, 0.5, None)}
    assert got["prediction_ks_pvalue"] == pytest.approx(
        stats.ks_2samp(regression["prediction"][:200], regression["prediction"][200:] + 1).pvalue, rel=1e-9)


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


@pytest.mark.parametrize("classes, proba_column", [([0, 1], "proba_1"), ([0, 1], None), (None, None)])
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
