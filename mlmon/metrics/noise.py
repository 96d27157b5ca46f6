"""How likely an effect size is under no change: the p-values that keep small samples quiet.

The `drifted` rule's effect sizes (PSI, the shares of the data-quality rules) are biased upward
in small samples: with 30 rows a side PSI averages about 0.6 between two halves of one
population, and two values in 90 fall outside the range of 90 reference values by chance alone
(2 / (n_ref + 1) of them are expected to). Measured on seeded random splits, the rule flagged
72% of features at 30 rows a side and 35% at 100. Each effect size therefore counts only when
it is also unlikely under no change; at a million rows these p-values are tiny whenever the
effect is above its threshold, so large samples are judged as before.

Each p-value treats the two samples as exchangeable (both drawn from one population):
- PSI: the chi-square test of homogeneity over PSI's own bins;
- out-of-range share: exact, the chance that at least k current values fall outside the range
  of the reference's (continuous values; ties only make it smaller, the test conservative);
- new-category share: the chance that categories absent from the reference hold at least u
  current values, each category absent when all of its pooled rows fall on the current side
  (categories taken as independent: exact convolution, or a normal tail for large counts);
- missing-share change: Fisher's exact test of the two missing counts.
"""

from __future__ import annotations

import math
from typing import Mapping, Sequence

import numpy as np
from scipy import special

__all__ = ["homogeneity_pvalue", "out_of_range_pvalue", "new_category_pvalue", "missing_change_pvalue"]

_NEGLIGIBLE = 1e-12  # a category absent from the reference with less chance than this adds nothing
_MAX_CONVOLUTION = 20_000_000  # categories x counts convolved exactly; beyond, a normal tail


def homogeneity_pvalue(ref_counts: Sequence[int], cur_counts: Sequence[int]) -> float | None:
    """Chi-square test that both samples share the bins' proportions (bins empty on both sides
    dropped); None without two bins or with an empty side."""
    ref = np.asarray(ref_counts, dtype=np.float64)
    cur = np.asarray(cur_counts, dtype=np.float64)
    kept = (ref + cur) > 0
    ref, cur = ref[kept], cur[kept]
    n_ref, n_cur = ref.sum(), cur.sum()
    if len(ref) < 2 or n_ref == 0 or n_cur == 0:
        return None
    total = ref + cur
    n = n_ref + n_cur
    expected_ref, expected_cur = total * n_ref / n, total * n_cur / n
    statistic = float(((ref - expected_ref) ** 2 / expected_ref).sum() + ((cur - expected_cur) ** 2 / expected_cur).sum())
    return float(special.chdtrc(len(ref) - 1, statistic))


def _log_choose(n: np.ndarray | float, k: np.ndarray | float) -> np.ndarray:
    return special.gammaln(np.add(n, 1)) - special.gammaln(np.add(k, 1)) - special.gammaln(np.subtract(n, k) + 1)


def out_of_range_pvalue(outside: int, n_ref: int, n_cur: int) -> float | None:
    """P(at least `outside` of `n_cur` current values fall outside the [min, max] of `n_ref`
    reference values) when all come from one continuous distribution; None below 2 reference
    values. With N = n_ref + n_cur, P(exactly j outside) = (j + 1) C(N - j - 2, n_cur - j) / C(N, n_cur):
    the j current values are the lowest a and highest j - a of all, each next one a reference value."""
    if n_ref < 2 or n_cur < 1:
        return None
    n = n_ref + n_cur

    def chance(j: np.ndarray) -> float:
        return float(np.exp(np.log(j + 1) + _log_choose(n - j - 2, n_cur - j) - _log_choose(n, n_cur)).sum())

    # The fewer terms: the counts below `outside` (the usual few), or those from it on.
    if outside <= n_cur + 1 - outside:
        return float(min(1.0, max(0.0, 1.0 - chance(np.arange(0, outside, dtype=np.float64)))))
    return float(min(1.0, chance(np.arange(outside, n_cur + 1, dtype=np.float64))))


def new_category_pvalue(ref_counts: Mapping[str, int], cur_counts: Mapping[str, int]) -> float | None:
    """P(current values in categories absent from the reference >= the observed count) when the
    reference is a random part of the pooled rows; None with an empty side."""
    n_ref, n_cur = sum(ref_counts.values()), sum(cur_counts.values())
    if n_ref == 0 or n_cur == 0:
        return None
    observed = sum(n for k, n in cur_counts.items() if not ref_counts.get(k))
    if observed == 0:
        return 1.0
    pooled = np.array([ref_counts.get(k, 0) + cur_counts.get(k, 0) for k in {*ref_counts, *cur_counts}], dtype=np.int64)
    n = n_ref + n_cur
    # A category is absent from the reference when all its m pooled rows are current rows.
    absent = np.exp(_log_choose(n - pooled, n_ref) - _log_choose(n, n_ref))
    weights, chances = pooled[absent >= _NEGLIGIBLE], absent[absent >= _NEGLIGIBLE]
    if len(weights) == 0:
        return 0.0
    if len(weights) * observed <= _MAX_CONVOLUTION:
        return _at_least(observed, weights, chances)
    # Every chance is below 1 (the reference holds a row), so the spread is never 0.
    mean = float((weights * chances).sum())
    sd = math.sqrt(float((weights ** 2 * chances * (1 - chances)).sum()))
    return float(special.ndtr((mean - observed + 0.5) / sd))


def _at_least(observed: int, weights: np.ndarray, chances: np.ndarray) -> float:
    """P(sum of weight_i * Bernoulli(chance_i) >= observed), independent terms, by convolution
    over the sums below `observed` (what reaches it is counted at once)."""
    below = np.zeros(observed)  # P(the sum so far is s), s < observed
    below[0] = 1.0
    reached = 0.0  # P(the sum so far is at least observed)
    for weight, chance in zip(weights.tolist(), chances.tolist()):
        reached += chance * float(below[max(0, observed - weight):].sum())
        shifted = np.zeros(observed)
        if weight < observed:
            shifted[weight:] = below[:observed - weight]
        below = below * (1 - chance) + shifted * chance
    return float(min(1.0, max(0.0, reached)))


def missing_change_pvalue(missing_cur: int, rows_cur: int, missing_ref: int, rows_ref: int) -> float | None:
    """Fisher's exact two-sided test that both samples miss values at one rate."""
    if rows_cur <= 0 or rows_ref <= 0:
        return None
    from scipy.stats import fisher_exact  # imported with the drift metrics already

    table = [[missing_cur, rows_cur - missing_cur], [missing_ref, rows_ref - missing_ref]]
    return float(fisher_exact(table).pvalue)
