"""Drift metrics from counts (SPEC §4): what `drift_and_profile` and the grouped engine
(mlmon.metrics.grouped) compute once a sample's counts and two-sample statistics are known:
PSI, the chi-square test, per-feature metrics judged drifted or not, and the globals.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Sequence

import numpy as np
from scipy import stats

from mlmon.metrics.judgement import DriftSettings, is_drifted
from mlmon.metrics.kstest import ks_2samp_from_statistic
from mlmon.metrics.noise import homogeneity_pvalue, missing_change_pvalue, new_category_pvalue, out_of_range_pvalue
from mlmon.metrics.twosample import ColumnStats
from mlmon.metrics.types import MetricValue

if TYPE_CHECKING:
    from mlmon.metrics.univariate import ReferenceProfile

__all__ = ["PSI_FLOOR", "FEATURE_GLOBALS", "psi", "chi2_pvalue", "DriftResult", "SampleCounts", "drift_result",
           "broken_feature_metrics", "feature_globals"]

PSI_FLOOR = 0.001
FEATURE_GLOBALS = ("drifted_features_share", "n_features_drifted", "max_psi")


# --- statistics from counts -------------------------------------------------------------------


def psi(ref_counts: Sequence[int], cur_counts: Sequence[int]) -> float | None:
    """PSI over matching bins; each side's shares floored at PSI_FLOOR, not renormalised."""
    r_total, c_total = sum(ref_counts), sum(cur_counts)
    if r_total == 0 or c_total == 0:
        return None
    total = 0.0
    for r, c in zip(ref_counts, cur_counts):
        rs, cs = max(r / r_total, PSI_FLOOR), max(c / c_total, PSI_FLOOR)
        total += (cs - rs) * math.log(cs / rs)
    return total


def _finite(x: float | None) -> float | None:
    return None if x is None or not math.isfinite(x) else float(x)


def chi2_pvalue(ref: dict[str, int], cur: dict[str, int]) -> float | None:
    """The two-sample test of homogeneity over the reference's categories (categories empty on
    both sides dropped): `scipy.stats.chi2_contingency([ref_counts, cur_counts]).pvalue` with
    scipy's defaults. Categories the reference never saw are left out (`new_category_share`
    reports them): one unseen value must not force p = 0. None when a side has no value or a
    single category is left (no test to make)."""
    keys = [k for k in ref if ref[k] or cur.get(k, 0)]
    table = np.array([[ref[k] for k in keys], [cur.get(k, 0) for k in keys]], dtype=np.int64)
    if len(keys) < 2 or table[0].sum() == 0 or table[1].sum() == 0:
        return None
    return _finite(float(stats.chi2_contingency(table).pvalue))

@dataclass
class DriftResult:
    metrics: list[MetricValue]  # per feature, then FEATURE_GLOBALS
    profile: ReferenceProfile  # the profile used: the one given, or the one found
    extra: dict[str, list[MetricValue]]  # per extra expression, its metrics (feature = its name)


def _share(part: int, whole: int) -> float | None:
    return part / whole if whole else None


def _judged(c: str, values: dict[str, float | None], settings: DriftSettings,
            chance: dict[str, float | None] | None = None) -> list[MetricValue]:
    """The feature's metrics in order, the data-quality flags, then `drifted` (`chance`: the
    effect sizes' p-values under no change, mlmon.metrics.noise)."""
    values = {**values, "feature_missing": values.get("feature_missing", 0.0),
              "type_changed": values.get("type_changed", 0.0)}
    flag = 1.0 if is_drifted(values, settings, chance) else 0.0
    return [MetricValue(name, value, c) for name, value in values.items()] + [MetricValue("drifted", flag, c)]


def _missing_chance(n_rows: int, present_: int, reference: tuple[int, int] | None) -> float | None:
    if reference is None:
        return None
    ref_rows, ref_present = reference
    return missing_change_pvalue(n_rows - present_, n_rows, ref_rows - ref_present, ref_rows)


def _numeric_metrics(c: str, stats_: ColumnStats, ref_bins: Sequence[int], n_rows: int,
                     reference: tuple[int, int] | None = None, out_of_range: int | None = None,
                     settings: DriftSettings = DriftSettings()) -> list[MetricValue]:
    """`reference`: the reference's (rows, present values) of the column, when known."""
    ks_stat = ks_p = wass = value = None
    n1, n2 = stats_.n_ref, stats_.n_cur
    chance: dict[str, float | None] = {}
    if stats_.ks_numerator is not None:
        ks_stat, ks_p = ks_2samp_from_statistic(stats_.ks_numerator, n1, n2)
        wass = _finite(stats_.wasserstein_numerator / (n1 * n2))
        value = psi(ref_bins, stats_.cur_bins)
        chance["psi"] = homogeneity_pvalue(ref_bins, stats_.cur_bins)
    if out_of_range is not None:
        chance["out_of_range_share"] = out_of_range_pvalue(out_of_range, n1, n2)
    chance["missing_share"] = _missing_chance(n_rows, n2, reference)
    return _judged(c, {
        "ks_statistic": ks_stat, "ks_pvalue": ks_p, "psi": value, "wasserstein": wass,
        "missing_share": _share(n_rows - n2, n_rows), "missing_share_reference": _reference_missing(reference),
        "out_of_range_share": None if out_of_range is None else _share(out_of_range, n2),
    }, settings, chance)


def _categorical_metrics(c: str, ref: dict[str, int], counts: dict[str, int], n_rows: int, present_: int,
                         reference: tuple[int, int] | None, settings: DriftSettings) -> list[MetricValue]:
    n_cur = sum(counts.values())
    unseen = sum(n for k, n in counts.items() if k not in ref)
    bins = ([*ref.values(), 0], [*(counts.get(k, 0) for k in ref), unseen])  # PSI's: unseen ones in one bin
    value = psi(*bins) if ref else None
    chance = {"psi": homogeneity_pvalue(*bins) if ref else None, "new_category_share": new_category_pvalue(ref, counts),
              "missing_share": _missing_chance(n_rows, present_, reference)}
    return _judged(c, {
        "chi2_pvalue": chi2_pvalue(ref, counts), "psi": value, "new_category_share": _share(unseen, n_cur),
        "missing_share": _share(n_rows - present_, n_rows), "missing_share_reference": _reference_missing(reference),
    }, settings, chance)


def broken_feature_metrics(c: str, *, feature_missing: bool, type_changed: bool, missing_share: float | None,
                           missing_share_reference: float | None,
                           settings: DriftSettings = DriftSettings()) -> list[MetricValue]:
    """A feature that cannot be compared (the data lacks it, or its type class changed): its
    data-quality metrics, and drifted = 1 — reported as drift, never skipped in silence."""
    return _judged(c, {"missing_share": missing_share, "missing_share_reference": missing_share_reference,
                       "feature_missing": float(feature_missing), "type_changed": float(type_changed)}, settings)


def feature_globals(per_feature: Sequence[MetricValue]) -> list[MetricValue]:
    """`drifted_features_share`, `n_features_drifted` and `max_psi` over per-feature metrics."""
    flags = [m.value for m in per_feature if m.metric == "drifted" and m.value is not None]
    known = [m.value for m in per_feature if m.metric == "psi" and m.value is not None]
    return [MetricValue("drifted_features_share", sum(flags) / len(flags) if flags else None),
            MetricValue("n_features_drifted", float(sum(flags)) if flags else None),
            MetricValue("max_psi", max(known) if known else None)]

def _reference_missing(reference: tuple[int, int] | None) -> float | None:
    return None if reference is None else _share(reference[0] - reference[1], reference[0])

@dataclass
class SampleCounts:
    """What the drift metrics of one current sample are computed from."""

    n_rows: int
    found: dict[str, ColumnStats]  # per numeric column and extra expression
    categories: dict[str, dict[str, int]]  # per categorical column, rows per category
    present: dict[str, int]  # per categorical column, its present values
    outside: dict[str, int]  # per numeric column, its values outside the reference's extent


def drift_result(numeric: Sequence[str], categorical: Sequence[str], extra: Sequence[str], profile: ReferenceProfile,
                 sample: SampleCounts, settings: DriftSettings = DriftSettings(),
                 broken: Sequence[MetricValue] = ()) -> DriftResult:
    """The per-feature metrics, then FEATURE_GLOBALS, and the extra expressions' metrics."""
    out: list[MetricValue] = []
    found, n_rows = sample.found, sample.n_rows
    for c in numeric:
        p = profile.numeric[c]
        out += _numeric_metrics(c, found[c], p.bins, n_rows, (profile.n_rows, p.count), sample.outside.get(c),
                                settings)
    for c in categorical:
        p = profile.categorical[c]
        out += _categorical_metrics(c, p.categories, sample.categories[c], n_rows, sample.present[c],
                                    (profile.n_rows, p.count), settings)
    out += broken
    out += feature_globals(out)
    others = {name: _numeric_metrics(name, found[name], found[name].ref_bins, n_rows) for name in extra}
    return DriftResult(out, profile, others)
