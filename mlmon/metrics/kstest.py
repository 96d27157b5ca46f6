"""The two-sample Kolmogorov-Smirnov p-value of scipy.stats.ks_2samp from the statistic's
numerator and the sample sizes, so that no sample ever reaches Python (mlmon.metrics.univariate).

Exact (Hodges' inside method, as scipy) up to 10,000 rows per side; above, scipy's asymptotic
`kstwo` distribution, with its one slow branch (the Smirnov series) summed here in bulk.
"""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
from scipy import special, stats

__all__ = ["ks_2samp_from_statistic", "KS_MAX_EXACT_N"]

KS_MAX_EXACT_N = 10_000  # scipy's `method='auto'` switch from exact to asymptotic


def _prob_outside_square(n: int, h: int) -> float:
    # Pr(D_{n,n} >= h/n) by the same Horner-like recursion scipy uses.
    p = 0.0
    k = n // h
    while k >= 0:
        p1 = 1.0
        for j in range(h):
            p1 = (n - k * h - j) * p1 / (n + k * h + j + 1)
        p = p1 * (1.0 - p)
        k -= 1
    return 2 * p


def _prob_outside_inside_method(m: int, n: int, g: int, h: int) -> float:
    """1 - Pr(paths stay strictly inside |x/m - y/n| < h/lcm), Hodges' inside method as in scipy."""
    if m < n:
        m, n = n, m
    mg, ng = m // g, n // g
    minj, maxj = 0, min(math.ceil(h / mg), n + 1)
    curlen = maxj - minj
    a = np.ones(min(2 * maxj + 2, n + 1))
    a[minj:maxj] = 0.0
    for i in range(1, m + 1):
        lastminj, lastlen = minj, curlen
        minj = min(max(math.floor((ng * i - h) / mg) + 1, 0), n)
        maxj = min(math.ceil((ng * i + h) / mg), n + 1)
        if maxj <= minj:
            return 1.0
        val = 0.0 if minj == 0 else 1.0
        for jj in range(maxj - minj):
            j = jj + minj
            val = (a[jj + minj - lastminj] * i + val * j) / (i + j)
            a[jj] = val
        curlen = maxj - minj
        if lastlen > curlen:
            a[maxj - minj: maxj - minj + (lastlen - curlen)] = 1
    return float(a[maxj - minj - 1])


try:  # scipy's compiled kernel of the recursion above, when this scipy build ships it
    from scipy.stats._stats_pythran import _compute_outer_prob_inside_method as _inside_kernel
except ImportError:  # pragma: no cover - depends on the scipy build
    _inside_kernel = _prob_outside_inside_method


_LN_2PI = math.log(2 * math.pi)
_MINLOG = -7.08396418532264106224e2  # cephes: log(2**-1022)


def _stirlerr(k: np.ndarray) -> np.ndarray:
    """log(k!) - log(sqrt(2 pi k) (k/e)^k), accurate to a few ulps of the exponent it feeds."""
    out = np.empty_like(k)
    small = k <= 15
    ks = k[small]
    out[small] = special.gammaln(ks + 1) - (ks + 0.5) * np.log(ks) + ks - 0.5 * _LN_2PI
    kb = k[~small]
    k2 = 1.0 / (kb * kb)
    out[~small] = (1 / 12 - (1 / 360 - (1 / 1260 - (1 / 1680 - k2 / 1188) * k2) * k2) * k2) / kb
    return out


def _bd0(x: np.ndarray, m: np.ndarray) -> np.ndarray:
    """x log(x/m) + m - x without cancellation when x is close to m (Loader, 2000)."""
    d = x - m
    out = x * np.log(x / m) - d
    near = np.abs(d) < 0.1 * (x + m)
    if near.any():
        xs, ds = x[near], d[near]
        v = ds / (xs + m[near])
        total, term, v2 = ds * v, 2 * xs * v, v * v
        for j in range(1, 1000):
            term = term * v2
            nxt = total + term / (2 * j + 1)
            if np.array_equal(nxt, total):
                break
            total = nxt
        out[near] = total
    return out


def _smirnov_log_terms(n: int, x: float, v: np.ndarray) -> np.ndarray:
    """log of the Birnbaum-Tingey terms C(n,v) (x+v/n)^(v-1) (1-x-v/n)^(n-v) for v >= 1.

    Each is a binomial probability b(v; n, x + v/n) / (x + v/n); Loader's saddle-point form
    gives it to ~1e-15 relative and is smooth in v, which the summation below relies on.
    n*x is split exactly into integer and fraction (as scipy does) so that neither mean,
    n*x + v nor n - n*x - v, loses digits to cancellation.
    """
    nx = Fraction(x) * n
    whole = math.floor(nx)
    frac = float(nx - whole)
    mean, rest = (v + whole) + frac, n - v
    other = (rest - whole) - frac
    log_c = _stirlerr(np.array([float(n)]))[0] - _stirlerr(v) - _stirlerr(rest) - _bd0(v, mean) - _bd0(rest, other)
    return log_c - 0.5 * (_LN_2PI + np.log(v) + np.log1p(-v / n)) - np.log(mean / n)


def _sum_terms(n: int, x: float, lo: int, hi: int) -> float:
    """sum over v = lo..hi of exp(_smirnov_log_terms(v)).

    The terms are positive, unimodal and smooth. When both ends are negligible the trapezoid
    rule over a coarse integer step converges to the same sum super-exponentially in the
    step; halving it until two estimates agree to 1e-15 costs thousands of terms instead of up
    to a million. Otherwise, or if it does not converge, every term is summed.
    """
    def exact() -> float:
        return float(np.sum(np.exp(_smirnov_log_terms(n, x, np.arange(lo, hi + 1, dtype=float)))))

    step = 1 << max(0, int(math.log2(max(hi - lo, 1))) - 11)
    if step < 8:
        return exact()
    grid = np.arange(lo, hi + 1, step, dtype=float)
    logs = _smirnov_log_terms(n, x, grid)
    peak = float(logs.max())
    if logs[0] > peak - 60 or logs[-1] > peak - 60:
        return exact()
    estimate = step * float(np.sum(np.exp(logs - peak)))
    while step > 1:
        mids = grid + step / 2
        mids = mids[mids <= hi]
        refined = (estimate + step * float(np.sum(np.exp(_smirnov_log_terms(n, x, mids) - peak)))) / 2
        grid, step = np.sort(np.concatenate([grid, mids])), step // 2
        if abs(refined - estimate) <= 1e-15 * refined:
            return math.exp(peak) * refined
        estimate = refined
    return exact()


def _smirnov_sf(n: int, x: float) -> float:
    """scipy.special.smirnov(n, x) where ks_2samp's asymptotic p-value reaches it.

    scipy sums the same series term by term in double-double: about a second at n = 500,000.
    """
    if -2 * n * x * x < _MINLOG:
        return 0.0
    if n > 1_000_000:  # scipy's own approximation above this size
        logp = -math.pow(6.0 * n * x + 1, 2) / 18.0 / n
        return math.exp(logp) if logp < -math.log(2) else 1 - (-math.expm1(logp))
    last = n - math.floor(Fraction(x) * n) - 1  # the terms with x + v/n < 1
    first = math.exp(n * math.log1p(-x)) / x  # v = 0
    return min(max(x * (first + _sum_terms(n, x, 1, last)), 0.0), 1.0)


def _kstwo_sf(n: int, x: float) -> float:
    """scipy.stats.kstwo.sf(x, n), with the one slow branch of scipy's `_kolmogn` replaced."""
    t = n * x
    if n > 140 and 0 < x < 0.5 and 1 < t < n - 1 and 2.2 <= t * x < 370:
        return min(max(2 * _smirnov_sf(n, x), 0.0), 1.0)
    return float(stats.kstwo.sf(x, n))


def ks_2samp_from_statistic(d_num: int, n1: int, n2: int) -> tuple[float, float]:
    """(statistic, p-value) of scipy.stats.ks_2samp (two-sided, method='auto') given
    d_num = max |c1*n2 - c2*n1| over the pooled values and the two sample sizes."""
    g = math.gcd(n1, n2)
    lcm = (n1 // g) * n2
    d = d_num / (n1 * n2)
    if max(n1, n2) <= KS_MAX_EXACT_N:
        h = d_num // g  # d*lcm is an integer: scipy's round(d*lcm), without rounding error
        d = h / lcm
        if h == 0:
            return d, 1.0
        try:
            with np.errstate(invalid="raise", over="raise"):
                prob = _prob_outside_square(n1, h) if n1 == n2 else float(_inside_kernel(n1, n2, g, h))
        except (FloatingPointError, OverflowError):
            prob = math.nan
        if 0 <= prob <= 1:
            return d, prob
    m, n = sorted([float(n1), float(n2)], reverse=True)
    prob = _kstwo_sf(int(np.round(m * n / (m + n))), d)
    return d, min(max(prob, 0.0), 1.0)
