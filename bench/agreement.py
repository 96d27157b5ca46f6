"""Do the tools' numbers agree where their definitions match? Absolute differences per column.

The yardstick is computed here, from the same parquet files, with scipy and numpy:
`scipy.stats.ks_2samp` (statistic and p-value), `scipy.stats.wasserstein_distance`, PSI as
SPEC §4 defines it (reference deciles, shares floored at 0.001), and
`scipy.stats.chi2_contingency` on the reference's and current counts as SPEC §4 uses it. Each tool's value is compared with the yardstick of the same definition:

- mlmon: KS statistic and p-value, Wasserstein, PSI, chi-square p-value. KS and Wasserstein
  must agree with scipy to `TOLERANCE`.
- Evidently: the K-S p-value (it calls scipy's ks_2samp); its Wasserstein is divided by the
  reference's standard deviation, so it is multiplied back before comparing; its PSI on
  categories has mlmon's definition up to the floor of empty shares, while on numbers it bins
  the pooled data into Sturges equal-width bins (or one bin per value up to 20 values), so
  it is compared both with mlmon's PSI and with a numpy PSI on Evidently's own bins.
- NannyML: KS statistic and Wasserstein, which from 10,000 reference rows up it estimates
  from a 10,000-bin histogram of the reference. Its chi-square statistic is not compared (mlmon
  records the p-value).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Callable, Iterable

import numpy as np
from scipy import stats

from data import CATEGORICAL, NUMERIC

__all__ = ["TOLERANCE", "yardstick", "compare", "summary_rows", "abs_diff", "spec_psi_numeric", "spec_psi_categorical"]

TOLERANCE = 1e-9
_FLOOR = 0.001
_DECILES = np.linspace(0.1, 0.9, 9)


def _psi(ref_share: np.ndarray, cur_share: np.ndarray) -> float:
    return float(np.sum((cur_share - ref_share) * np.log(cur_share / ref_share)))


def spec_psi_numeric(ref: np.ndarray, cur: np.ndarray) -> float:
    """SPEC §4 numeric PSI: edges = reference deciles (linear), bin = edges strictly below."""
    edges = np.unique(np.quantile(ref, _DECILES))
    n_bins = len(edges) + 1
    r = np.bincount(np.searchsorted(edges, ref, side="left"), minlength=n_bins) / len(ref)
    c = np.bincount(np.searchsorted(edges, cur, side="left"), minlength=n_bins) / len(cur)
    return _psi(np.maximum(r, _FLOOR), np.maximum(c, _FLOOR))


def spec_psi_categorical(ref: np.ndarray, cur: np.ndarray) -> tuple[float, float]:
    """SPEC §4 categorical PSI (unseen categories as one bin) and the chi-square p-value."""
    levels, ref_counts = np.unique(ref, return_counts=True)
    cur_levels, cur_counts = np.unique(cur, return_counts=True)
    by_level = dict(zip(cur_levels.tolist(), cur_counts.tolist()))
    f_obs = np.array([by_level.get(k, 0) for k in levels.tolist()], dtype=float)
    unseen = len(cur) - f_obs.sum()
    r = np.append(ref_counts / len(ref), 0.0)
    c = np.append(f_obs / len(cur), unseen / len(cur))
    # The two-sample test of homogeneity over the reference's categories (unseen ones left out).
    pvalue = float(stats.chi2_contingency([ref_counts, f_obs]).pvalue) if f_obs.sum() else float("nan")
    return _psi(np.maximum(r, _FLOOR), np.maximum(c, _FLOOR)), pvalue


def _evidently_psi(ref: np.ndarray, cur: np.ndarray, numeric: bool) -> float:
    """PSI on Evidently's bins, as its psi stat test builds them (for explaining differences)."""
    if numeric and len(np.unique(ref)) > 20:
        bins = np.histogram_bin_edges(np.concatenate([ref, cur]), bins="sturges")
        r = np.histogram(ref, bins)[0] / len(ref)
        c = np.histogram(cur, bins)[0] / len(cur)
    else:
        keys = np.union1d(np.unique(ref), np.unique(cur))
        r = np.array([np.sum(ref == k) for k in keys]) / len(ref)
        c = np.array([np.sum(cur == k) for k in keys]) / len(cur)

    def fill(share: np.ndarray) -> np.ndarray:
        low = share[share != 0].min()
        return np.where(share == 0, low / 1e6 if low <= 0.0001 else 0.0001, share)

    r, c = fill(r), fill(c)
    return float(np.sum((r - c) * np.log(r / c)))


def _columns(folder: Path, name: str, columns: Iterable[str]) -> dict[str, np.ndarray]:
    import duckdb

    path = str(folder / f"{name}.parquet").replace("'", "''")
    con = duckdb.connect()
    try:
        cols = ", ".join(columns)
        return {k: np.asarray(v) for k, v in con.execute(f"SELECT {cols} FROM read_parquet('{path}')").fetchnumpy().items()}
    finally:
        con.close()


def yardstick(folder: Path, with_evidently: bool = True) -> dict[str, dict[str, float]]:
    """scipy / numpy values per column, by the definitions listed in the module docstring."""
    out: dict[str, dict[str, float]] = {}
    for column in NUMERIC:
        ref = _columns(folder, "reference", [column])[column].astype(np.float64)
        cur = _columns(folder, "current", [column])[column].astype(np.float64)
        ks = stats.ks_2samp(ref, cur)
        out[column] = {
            "ks_statistic": float(ks.statistic),
            "ks_pvalue": float(ks.pvalue),
            "wasserstein": float(stats.wasserstein_distance(ref, cur)),
            "psi": spec_psi_numeric(ref, cur),
            "reference_std": max(float(np.std(ref)), 0.001),  # Evidently's normaliser
        }
        if with_evidently:
            out[column]["psi_evidently_bins"] = _evidently_psi(ref, cur, numeric=True)
    for column in CATEGORICAL:
        ref = _columns(folder, "reference", [column])[column].astype(str)
        cur = _columns(folder, "current", [column])[column].astype(str)
        psi, pvalue = spec_psi_categorical(ref, cur)
        out[column] = {"psi": psi, "chi2_pvalue": pvalue}
        if with_evidently:
            out[column]["psi_evidently_bins"] = _evidently_psi(ref, cur, numeric=False)
    return out


def abs_diff(a: Any, b: Any) -> float | None:
    if a is None or b is None:
        return None
    a, b = float(a), float(b)
    if math.isnan(a) or math.isnan(b):
        return None
    return abs(a - b)


def compare(
    truth: dict[str, dict[str, float]], tools: dict[str, dict[str, dict[str, Any]]]
) -> list[dict[str, Any]]:
    """One row per (tool, statistic, yardstick, column): the two values and their difference.

    `tools` maps a tool name to its per-column statistics as its runner printed them.
    """
    rows: list[dict[str, Any]] = []

    def add(tool: str, statistic: str, against: str, column: str, value: Any, expected: Any) -> None:
        if statistic == "psi":  # numeric and categorical PSI agree to different degrees: keep them apart
            statistic = f"psi ({'numeric' if column in NUMERIC else 'categorical'})"
        rows.append({"tool": tool, "statistic": statistic, "against": against, "column": column,
                     "value": value, "expected": expected, "abs_diff": abs_diff(value, expected)})

    mlmon = tools.get("mlmon", {})
    for column, want in truth.items():
        got = mlmon.get(column, {})
        for key in ("ks_statistic", "ks_pvalue", "wasserstein", "psi", "chi2_pvalue"):
            if key in want and key in got:
                add("mlmon", key, "scipy" if key != "psi" else "numpy (SPEC §4)", column, got[key], want[key])

    evidently = tools.get("evidently", {})
    for column, want in truth.items():
        got = evidently.get(column, {})
        if "ks_pvalue" in got:
            add("evidently", "ks_pvalue", "scipy", column, got["ks_pvalue"], want.get("ks_pvalue"))
        if "wasserstein_normed" in got:
            add("evidently", "wasserstein", "scipy", column, got["wasserstein_normed"] * want["reference_std"],
                want.get("wasserstein"))
        if "psi" in got:
            add("evidently", "psi", "mlmon", column, got["psi"], mlmon.get(column, {}).get("psi"))
            if "psi_evidently_bins" in want:
                add("evidently", "psi", "numpy (Evidently's bins)", column, got["psi"], want["psi_evidently_bins"])

    nannyml = tools.get("nannyml", {})
    for column, want in truth.items():
        got = nannyml.get(column, {})
        for key in ("ks_statistic", "wasserstein"):
            if key in got:
                add("nannyml", key, "scipy", column, got[key], want.get(key))
    return rows


def summary_rows(rows: list[dict[str, Any]],
                 where: Callable[[dict[str, Any]], str] = lambda row: row["column"]) -> list[dict[str, Any]]:
    """Per (tool, statistic, yardstick): values compared (`columns`), the largest absolute
    difference and where it is (`worst_column`: by default the row's column)."""
    groups: dict[tuple[str, str, str], list[dict[str, Any]]] = {}
    for row in rows:
        groups.setdefault((row["tool"], row["statistic"], row["against"]), []).append(row)
    out = []
    for (tool, statistic, against), items in groups.items():
        diffs = [r["abs_diff"] for r in items if r["abs_diff"] is not None]
        worst = max(items, key=lambda r: -1.0 if r["abs_diff"] is None else r["abs_diff"])
        out.append({"tool": tool, "statistic": statistic, "against": against, "columns": len(diffs),
                     "max_abs_diff": max(diffs) if diffs else None, "worst_column": where(worst)})
    return out
