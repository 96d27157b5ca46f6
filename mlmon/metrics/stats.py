"""Small closed-form statistics shared by the metrics: binomial intervals and tests."""

from __future__ import annotations

import math
from statistics import NormalDist

from scipy.special import betainc

__all__ = ["wilson_interval", "binomial_pvalue_greater"]


def _check_counts(successes: int, n: int) -> None:
    if n <= 0:
        raise ValueError(f"n must be positive, got {n}")
    if not 0 <= successes <= n:
        raise ValueError(f"successes must lie in [0, {n}], got {successes}")


def wilson_interval(successes: int, n: int, confidence: float = 0.95) -> tuple[float, float]:
    """Two-sided Wilson score interval for a binomial proportion (no continuity correction).

    Chosen over the normal (Wald) interval because it stays inside [0, 1] and keeps its coverage
    near 0 and 1, where a domain classifier's accuracy often sits.
    """
    _check_counts(successes, n)
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must lie in (0, 1), got {confidence}")
    z = NormalDist().inv_cdf(0.5 + confidence / 2.0)
    z2 = z * z
    p = successes / n
    denom = 1.0 + z2 / n
    center = (p + z2 / (2.0 * n)) / denom
    half = (z / denom) * math.sqrt(p * (1.0 - p) / n + z2 / (4.0 * n * n))
    # At k = 0 or k = n the bound is exactly the support's edge; floating point only nearly
    # agrees, and a lower bound of 3e-17 would read as "not zero" in a report.
    lower = 0.0 if successes == 0 else max(0.0, center - half)
    upper = 1.0 if successes == n else min(1.0, center + half)
    return lower, upper


def binomial_pvalue_greater(successes: int, n: int, p: float = 0.5) -> float:
    """One-sided exact binomial test: P(X >= successes) for X ~ Binomial(n, p).

    Uses the identity P(X >= k) = I_p(k, n - k + 1) (regularised incomplete beta), which stays
    accurate deep in the tail where summing the probability mass would lose every digit.
    """
    _check_counts(successes, n)
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"p must lie in [0, 1], got {p}")
    if successes == 0:
        return 1.0
    return float(min(1.0, betainc(successes, n - successes + 1, p)))
