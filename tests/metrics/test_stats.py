from __future__ import annotations

import pytest
from scipy.stats import binomtest

from mlmon.metrics.stats import binomial_pvalue_greater, wilson_interval

CASES = [(0, 1), (1, 1), (0, 10), (10, 10), (5, 10), (7, 13), (1, 3000), (1500, 3000), (1620, 3000), (2999, 3000)]


@pytest.mark.parametrize(("k", "n"), CASES)
@pytest.mark.parametrize("confidence", [0.9, 0.95, 0.99])
def test_wilson_matches_scipy(k: int, n: int, confidence: float) -> None:
    expected = binomtest(k, n).proportion_ci(confidence_level=confidence, method="wilson")
    lower, upper = wilson_interval(k, n, confidence)
    assert lower == pytest.approx(expected.low, abs=1e-12)
    assert upper == pytest.approx(expected.high, abs=1e-12)
    assert 0.0 <= lower <= k / n <= upper <= 1.0


def test_wilson_edges_are_exact() -> None:
    assert wilson_interval(0, 50)[0] == 0.0
    assert wilson_interval(50, 50)[1] == 1.0


@pytest.mark.parametrize(("k", "n"), CASES + [(0, 5), (3, 5), (1700, 3000)])
@pytest.mark.parametrize("p", [0.5, 0.1, 0.9])
def test_binomial_greater_matches_scipy(k: int, n: int, p: float) -> None:
    expected = binomtest(k, n, p, alternative="greater").pvalue
    assert binomial_pvalue_greater(k, n, p) == pytest.approx(expected, rel=1e-9, abs=1e-300)


def test_binomial_greater_deep_tail_keeps_precision() -> None:
    # 1,700 of 3,000 correct is a 7-sigma result; the p-value must be tiny but not rounded to 0.
    value = binomial_pvalue_greater(1700, 3000)
    assert 0.0 < value < 1e-12
    assert value == pytest.approx(binomtest(1700, 3000, alternative="greater").pvalue, rel=1e-9)


@pytest.mark.parametrize(("k", "n"), [(1, 0), (-1, 5), (6, 5)])
def test_invalid_counts_raise(k: int, n: int) -> None:
    with pytest.raises(ValueError):
        wilson_interval(k, n)
    with pytest.raises(ValueError):
        binomial_pvalue_greater(k, n)
