"""The effect sizes' p-values under no change (mlmon.metrics.noise), against scipy, exact
enumeration and seeded permutations."""

from __future__ import annotations

import itertools
import math
from collections import Counter

import numpy as np
import pytest
from scipy import stats

from mlmon.metrics import noise
from mlmon.metrics.noise import homogeneity_pvalue, missing_change_pvalue, new_category_pvalue, out_of_range_pvalue


@pytest.mark.parametrize("seed", range(6))
def test_homogeneity_equals_scipys_chi_square_without_correction(seed):
    rng = np.random.default_rng(seed)
    k = int(rng.integers(2, 12))
    ref, cur = rng.integers(0, 40, k), rng.integers(0, 40, k)
    ref[0], cur[0] = 0, 0  # a bin empty on both sides is dropped
    ref[1] += 1
    expected = stats.chi2_contingency(np.array([ref, cur])[:, (ref + cur) > 0], correction=False).pvalue
    assert homogeneity_pvalue(ref.tolist(), cur.tolist()) == pytest.approx(expected, rel=1e-9)


def test_homogeneity_keeps_a_bin_of_one_row():
    ref, cur = [0, 1, 30, 12], [0, 0, 25, 20]
    expected = stats.chi2_contingency(np.array([ref, cur])[:, 1:], correction=False).pvalue
    assert homogeneity_pvalue(ref, cur) == pytest.approx(expected, rel=1e-9)


def test_homogeneity_needs_two_bins_and_both_sides():
    assert homogeneity_pvalue([5, 0], [3, 0]) is None
    assert homogeneity_pvalue([0, 0], [3, 4]) is None
    assert homogeneity_pvalue([3, 4], [0, 0]) is None
    assert homogeneity_pvalue([3, 4], [3, 4]) == pytest.approx(1.0)


def _outside_by_enumeration(k: int, n_ref: int, n_cur: int) -> float:
    """Every placement of the reference among the ranks of all values, equally likely."""
    n = n_ref + n_cur
    hits = total = 0
    for ranks in itertools.combinations(range(n), n_ref):
        low, high = ranks[0], ranks[-1]
        outside = low + (n - 1 - high)  # current values below the lowest and above the highest
        hits += outside >= k
        total += 1
    return hits / total


@pytest.mark.parametrize("n_ref,n_cur", [(2, 1), (2, 5), (3, 4), (5, 3), (6, 6)])
def test_out_of_range_equals_the_enumeration_of_every_ranking(n_ref, n_cur):
    for k in range(0, n_cur + 2):
        assert out_of_range_pvalue(k, n_ref, n_cur) == pytest.approx(_outside_by_enumeration(k, n_ref, n_cur), abs=1e-12)


def test_out_of_range_matches_seeded_samples_and_needs_two_reference_values():
    rng = np.random.default_rng(3)
    counts = []
    for _ in range(20_000):
        r, c = rng.random(90), rng.random(90)
        counts.append(int(((c < r.min()) | (c > r.max())).sum()))
    counts_ = np.array(counts)
    for k in (1, 2, 4, 6):
        p = out_of_range_pvalue(k, 90, 90)
        assert abs((counts_ >= k).mean() - p) < 4 * math.sqrt(p * (1 - p) / len(counts_)) + 1e-3
    assert out_of_range_pvalue(1, 1, 10) is None
    assert out_of_range_pvalue(1, 10, 0) is None
    assert out_of_range_pvalue(0, 10, 10) == 1.0
    # two values in ninety outside the range of ninety is what chance gives; thirty is not
    assert out_of_range_pvalue(2, 90, 90) > 0.3
    assert out_of_range_pvalue(30, 90, 90) < 1e-8


def _unseen_by_enumeration(ref: Counter, cur: Counter) -> float:
    n_ref, n_cur = sum(ref.values()), sum(cur.values())
    observed = sum(v for k, v in cur.items() if k not in ref)
    pooled = [ref[k] + cur[k] for k in {*ref, *cur}]
    chance = [math.comb(n_ref + n_cur - m, n_ref) / math.comb(n_ref + n_cur, n_ref) for m in pooled]
    return sum(math.prod(q if a else 1 - q for q, a in zip(chance, absent))
               for absent in itertools.product((0, 1), repeat=len(pooled))
               if sum(m for m, a in zip(pooled, absent) if a) >= observed)


@pytest.mark.parametrize("seed", range(5))
def test_new_categories_equal_the_enumeration_of_absent_sets(seed):
    rng = np.random.default_rng(seed)
    cats = [f"k{i}" for i in range(10)]
    shares = np.array([0.6 ** i for i in range(10)])
    pool = rng.choice(cats, 120, p=shares / shares.sum())
    ref, cur = Counter(pool[:50]), Counter(pool[50:])
    cur["new"] += int(rng.integers(0, 4))
    assert new_category_pvalue(ref, cur) == pytest.approx(_unseen_by_enumeration(ref, cur), rel=1e-9, abs=1e-12)


def test_new_categories_match_seeded_permutations():
    rng = np.random.default_rng(11)
    cats = [f"k{i}" for i in range(30)]
    shares = np.array([0.5 ** (i / 3) for i in range(30)])
    pool = rng.choice(cats, 140, p=shares / shares.sum())
    pooled = np.array(sorted(Counter(pool).values()))
    absent = np.array([math.comb(140 - m, 60) / math.comb(140, 60) for m in pooled])
    found = []
    for _ in range(20_000):
        perm = rng.permutation(pool)
        seen = set(perm[:60])
        found.append(sum(1 for v in perm[60:] if v not in seen))
    found_ = np.array(found)
    for observed in (1, 3, 5, 8, 12):
        p = noise._at_least(observed, pooled, absent)
        assert abs((found_ >= observed).mean() - p) < 0.02, observed


def test_new_categories_edges_and_the_normal_tail():
    assert new_category_pvalue({}, {"a": 3}) is None
    assert new_category_pvalue({"a": 3}, {}) is None
    assert new_category_pvalue({"a": 3, "b": 2}, {"a": 1, "b": 4}) == 1.0
    # a category holding a thousand current rows and no reference row is no accident of sampling
    assert new_category_pvalue({"a": 1000, "b": 1000}, {"a": 500, "b": 500, "new": 1000}) == 0.0
    # many rare categories: the normal tail, close to the exact convolution
    pooled = np.ones(5000, dtype=np.int64)
    absent = np.full(5000, 0.5)
    exact = noise._at_least(2600, pooled, absent)
    assert exact == pytest.approx(stats.binom.sf(2599, 5000, 0.5), rel=1e-6)
    ref = {f"r{i}": 1 for i in range(5000)}
    cur = {f"c{i}": 1 for i in range(5000)}
    # 10,000 singletons, each current with chance 1/2: 5,000 unseen values is just what chance gives
    assert new_category_pvalue(ref, cur) == pytest.approx(stats.norm.sf((5000 - 0.5 - 5000) / math.sqrt(2500)),
                                                          rel=1e-9)


def test_one_category_that_chance_can_leave_out_is_enough_for_a_pvalue():
    # 'a' is in the reference for sure; 'b', one row of 1,001, lands on the current side by chance 1/1001
    assert new_category_pvalue({"a": 1000}, {"b": 1}) == pytest.approx(1 / 1001, rel=1e-9)
    assert new_category_pvalue({"a": 1000}, {"a": 3, "b": 1}) == pytest.approx(4 / 1004, rel=1e-9)


def test_the_convolution_and_its_normal_tail_at_their_boundary(monkeypatch):
    # 300 categories of 2 rows: 90 wholly in the reference, 90 wholly current (180 unseen
    # values), 120 split; by chance about 150 current values would be unseen, with a spread of 15.
    ref = {**{f"r{i}": 2 for i in range(90)}, **{f"s{i}": 1 for i in range(120)}}
    cur = {**{f"c{i}": 2 for i in range(90)}, **{f"s{i}": 1 for i in range(120)}}
    exact = new_category_pvalue(ref, cur)
    assert 0.01 < exact < 0.05
    monkeypatch.setattr(noise, "_MAX_CONVOLUTION", 300 * 180)  # still convolved
    assert new_category_pvalue(ref, cur) == exact
    monkeypatch.setattr(noise, "_MAX_CONVOLUTION", 300 * 180 - 1)  # now the normal tail
    tail = new_category_pvalue(ref, cur)
    assert tail != exact and tail == pytest.approx(exact, abs=0.01)


def test_missing_change_is_fishers_exact_test():
    assert missing_change_pvalue(30, 100, 10, 100) == pytest.approx(
        stats.fisher_exact([[30, 70], [10, 90]]).pvalue, rel=1e-12)
    assert missing_change_pvalue(1, 1, 0, 10) == pytest.approx(stats.fisher_exact([[1, 0], [0, 10]]).pvalue)
    assert missing_change_pvalue(0, 10, 1, 1) == pytest.approx(stats.fisher_exact([[0, 10], [1, 0]]).pvalue)
    assert missing_change_pvalue(0, 0, 1, 10) is None
    assert missing_change_pvalue(1, 10, 0, 0) is None
