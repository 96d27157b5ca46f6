"""Learnt bounds as pure functions: mean ± k sample standard deviations of the history."""

from __future__ import annotations

import math
from datetime import datetime

import numpy as np
import pytest

from mlmon.checks.evaluate import Bounds, CheckStatus, worst_status
from mlmon.checks.learnt import History, Learnt, LearntBounds, bounds_problems, check_learnt, history_of, learn

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


def test_learnt_bounds_from_a_check_config():
    assert LearntBounds.from_config({}) is None
    assert LearntBounds.from_config({"bounds": None}) is None
    learnt = LearntBounds.from_config({"bounds": {"history": "12", "std": 2}})
    assert learnt == LearntBounds(12, 2.0)
    assert type(learnt.history) is int and type(learnt.std) is float


def test_bounds_problems_and_hints_in_full():
    assert bounds_problems("12") == [("`bounds` must be a mapping like {history: 12, std: 3}, got '12'", None)]
    assert bounds_problems({"history": 12, "std": 3, "hist": 4}) == [
        ("unknown key `hist` in `bounds`", "did you mean 'history'?")]
    assert bounds_problems({"history": 12, "std": 3, "colour": 4}) == [
        ("unknown key `colour` in `bounds`", "`bounds` takes history (evaluations) and std (standard deviations)")]
    assert bounds_problems({}) == [("`bounds` needs `history` and `std`", "e.g. bounds: {history: 12, std: 3}")]
    assert bounds_problems({"std": 3}) == [("`bounds` needs `history`", "e.g. bounds: {history: 12, std: 3}")]
    assert bounds_problems({"history": None, "std": 3}) == [
        ("`bounds` needs `history`", "e.g. bounds: {history: 12, std: 3}")]
    assert bounds_problems({"history": 2, "std": 0}) == [
        ("`bounds.history` must be a whole number of at least 3 evaluations, got 2",
         "fewer earlier values cannot give a standard deviation worth a bound"),
        ("`bounds.std` must be a number above 0, got 0", "e.g. std: 3"),
    ]


@pytest.mark.parametrize("history", [True, "12", 3.0, 0, -4])
def test_history_must_be_a_whole_number_of_at_least_three(history):
    problems = bounds_problems({"history": history, "std": 3})
    assert [p for p, _ in problems] == [
        f"`bounds.history` must be a whole number of at least 3 evaluations, got {history!r}"]


@pytest.mark.parametrize("std", [True, False, "3", 0.0, -0.5, float("nan")])
def test_std_must_be_a_number_above_zero(std):
    assert [p for p, _ in bounds_problems({"history": 12, "std": std})] == [
        f"`bounds.std` must be a number above 0, got {std!r}"]


@pytest.mark.parametrize("bounds", [{"history": 3, "std": 1}, {"history": 1000, "std": 1e-9}, {"history": 4, "std": 2.5}])
def test_smallest_and_odd_good_bounds(bounds):
    assert bounds_problems(bounds) == []


def test_learnt_dates_span_the_known_creation_times():
    created = (datetime(2026, 3, 1), None, datetime(2026, 1, 1), datetime(2026, 2, 1))
    learnt = learn(History((1.0, 2.0, 3.0, 4.0), created), 1)
    assert learnt is not None
    assert (learnt.first, learnt.last) == (datetime(2026, 1, 1), datetime(2026, 3, 1))
    # hand-computed: mean 2.5, sample variance (2.25 + 0.25 + 0.25 + 2.25) / 3 = 5 / 3
    assert learnt.mean == 2.5 and learnt.sd == pytest.approx(math.sqrt(5 / 3), rel=1e-15)
    assert (learnt.lower, learnt.upper, learnt.k, learnt.n) == (2.5 - learnt.sd, 2.5 + learnt.sd, 1, 4)
    undated = learn(History((1.0, 2.0, 3.0), (None, None, None)), 1)
    assert undated is not None and undated.first is None and undated.last is None
    assert learn(History((1.0, 2.0, 3.0)), 1).first is None


def test_the_description_shows_the_span_only_when_both_ends_are_known():
    def learnt(first, last):
        return Learnt(1.0, 3.0, 2.0, 0.5, 2.0, 5, first, last)

    plain = "learnt min 1 and max 3 = mean 2 ± 2 × sample std 0.5 of the 5 evaluations before this one"
    assert learnt(None, None).describe() == plain
    assert learnt(datetime(2026, 1, 1), None).describe() == plain
    assert learnt(None, datetime(2026, 1, 1)).describe() == plain
    assert learnt(datetime(2026, 1, 1, 8, 30), datetime(2026, 2, 1, 9, 45)).describe() == (
        plain + ", created 2026-01-01 08:30 to 2026-02-01 09:45")


def test_a_missing_value_with_enough_history_is_empty_without_the_learnt_bounds():
    verdict = check_learnt("m", None, LearntBounds(6, 3), History(HISTORY), Bounds())
    assert verdict.status is CheckStatus.EMPTY and verdict.message == "m has no value"
    nan = check_learnt("m", float("nan"), LearntBounds(6, 3), History(HISTORY), Bounds())
    assert nan.status is CheckStatus.EMPTY and nan.message == "m has no value"


def test_an_ok_value_names_the_learnt_bounds():
    verdict = check_learnt("m", 0.5, LearntBounds(12, 3), History((0.5, 0.52, 0.48)), Bounds())
    assert verdict.status is CheckStatus.OK
    assert verdict.message.startswith("m = 0.5 (within ")
    assert verdict.message.endswith("; learnt min 0.44 and max 0.56 = mean 0.5 ± 3 × sample std 0.02 "
                                    "of the 3 evaluations before this one")


def test_fixed_soft_min_combines_with_learnt_bounds():
    learnt = learn(History(HISTORY), 3)
    assert learnt is not None
    inside_but_low = (learnt.mean + learnt.lower) / 2
    verdict = check_learnt("m", inside_but_low, LearntBounds(6, 3), History(HISTORY), Bounds(soft_min=learnt.mean))
    assert verdict.status is CheckStatus.WARNING and "< soft_min" in verdict.message


def test_history_of_rows():
    day = datetime(2026, 1, 5)
    assert history_of([(1, day), (np.float64(0.5), None)]) == History((1.0, 0.5), (day, None))
    assert all(type(v) is float for v in history_of([(1, day), (2, day)]).values)
    assert history_of([]) == History((), ())
