"""Learnt bounds as pure functions: mean ± k sample standard deviations of the history."""

from __future__ import annotations

from datetime import datetime

import numpy as np
import pytest

from mlmon.checks.evaluate import Bounds, CheckStatus, worst_status
from mlmon.checks.learnt import History, LearntBounds, bounds_problems, check_learnt, learn

HISTORY = (0.512, 0.47, 0.5, 0.539, 0.481, 0.495)


def test_learn_is_mean_plus_minus_k_sample_std():
    learnt = learn(History(HISTORY), 2.5)
    mean, sd = np.mean(HISTORY), np.std(HISTORY, ddof=1)
    assert learnt is not None and learnt.n == 6
    assert learnt.mean == pytest.approx(mean, abs=1e-15) and learnt.sd == pytest.approx(sd, abs=1e-15)
    assert learnt.lower == pytest.approx(mean - 2.5 * sd, abs=1e-15)
    assert learnt.upper == pytest.approx(mean + 2.5 * sd, abs=1e-15)


def test_three_values_are_needed():
    assert learn(History((0.5, 0.6)), 3) is None
    assert learn(History((0.5, 0.6, 0.7)), 3) is not None
    verdict = check_learnt("data_drift", 0.5, LearntBounds(12, 3), History((0.5, 0.6)), Bounds())
    assert verdict.status is CheckStatus.EMPTY
    assert verdict.message == "learnt bounds need 3 earlier evaluations holding data_drift, found 2"


@pytest.mark.parametrize("k", [1.0, 2.0, 3.0])
def test_status_follows_the_learnt_interval(k):
    mean, sd = np.mean(HISTORY), np.std(HISTORY, ddof=1)
    for value in np.linspace(0.3, 0.7, 41):
        verdict = check_learnt("m", float(value), LearntBounds(6, k), History(HISTORY), Bounds())
        outside = value < mean - k * sd or value > mean + k * sd
        assert verdict.status is (CheckStatus.ERROR if outside else CheckStatus.OK), value


def test_fixed_soft_bounds_combine_with_learnt_ones():
    learnt = learn(History(HISTORY), 3)
    assert learnt is not None
    inside_but_high = (learnt.mean + learnt.upper) / 2
    verdict = check_learnt("m", inside_but_high, LearntBounds(6, 3), History(HISTORY), Bounds(soft_max=learnt.mean))
    assert verdict.status is CheckStatus.WARNING
    assert "> soft_max" in verdict.message and "learnt min" in verdict.message


def test_the_message_names_the_bound_and_the_history():
    created = tuple(datetime(2026, 1, d) for d in (6, 5, 4))
    verdict = check_learnt("m", 0.9, LearntBounds(12, 3), History((0.5, 0.52, 0.48), created), Bounds())
    assert verdict.status is CheckStatus.ERROR
    assert verdict.message == ("m = 0.9 > max 0.56 ; learnt min 0.44 and max 0.56 = mean 0.5 ± 3 × sample std 0.02 "
                               "of the 3 evaluations before this one, created 2026-01-04 00:00 to 2026-01-06 00:00"
                               ).replace(" ;", ";")


@pytest.mark.parametrize(("raw", "expected"), [
    ({"history": 2, "std": 3}, "`bounds.history` must be a whole number of at least 3 evaluations, got 2"),
    ({"history": 5.5, "std": 3}, "`bounds.history` must be a whole number"),
    ({"history": 12, "std": 0}, "`bounds.std` must be a number above 0, got 0"),
    ({"history": 12, "std": -1}, "`bounds.std` must be a number above 0, got -1"),
    ({"history": 12, "std": 3, "hist": 4}, "unknown key `hist` in `bounds`"),
    ({"history": 12}, "`bounds` needs `std`"),
    ([12, 3], "`bounds` must be a mapping"),
])
def test_bounds_problems(raw, expected):
    assert any(expected in problem for problem, _ in bounds_problems(raw))


def test_good_bounds_have_no_problem():
    assert bounds_problems({"history": 3, "std": 0.5}) == []


def test_worst_status():
    assert worst_status(["OK", "EMPTY", "OK"]) is CheckStatus.EMPTY
    assert worst_status(["OK", "WARNING", "EMPTY"]) is CheckStatus.WARNING
    assert worst_status(["WARNING", "ERROR", "OK"]) is CheckStatus.ERROR
    assert worst_status([]) is None
