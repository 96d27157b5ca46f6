"""Do mlmon's and NannyML's per-period outputs agree, with each other and with scipy / scikit-learn?

The yardstick is computed here, per month, from the same parquet files: `scipy.stats.ks_2samp`
(statistic and p-value) and `scipy.stats.wasserstein_distance` of the month's rows against the
whole reference, `scipy.stats.chi2_contingency([reference_counts, month_counts])` (statistic,
p-value, degrees of freedom) over the reference's categories, and scikit-learn's `roc_auc_score`
(on `proba_1`) and `accuracy_score` (on `prediction`) on the month's outcomes. Where the
definitions differ, the largest difference is reported, not hidden:

- KS and Wasserstein: mlmon's are the exact two-sample statistics (to 1e-9); NannyML, from
  10,000 reference rows up, estimates both from a 10,000-bin equal-width histogram of the
  reference, so its values differ by the binning.
- chi-square: mlmon stores the p-value, NannyML the statistic (over the union of the
  reference's and the month's categories; with no unseen category, as here, the same table as
  scipy's). NannyML's p-value is derived from its statistic with the yardstick's degrees of
  freedom to compare the two tools.
- realised ROC AUC and accuracy: the same definitions in both tools.
- CBPE: both calibrate the reference's probabilities and sum expected confusion counts, with
  different calibrators (mlmon: isotonic on at most 1,000,000 reference rows; NannyML: its own
  calibration choice), so estimates differ between the tools; each is also compared with the
  month's realised value (the estimate's own error).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from scipy import stats

from agreement import abs_diff, summary_rows as agreement_summary
from data import CATEGORICAL, NUMERIC, PREDICTION, PROBA, TARGET
from period_data import TIMESTAMP, month_starts

__all__ = ["yardstick", "compare", "summary_rows"]

_PERFORMANCE = ("roc_auc", "accuracy")


def _read(con: Any, path: Path, columns: list[str], where: str = "") -> dict[str, np.ndarray]:
    quoted = str(path).replace("'", "''")
    sql = f"SELECT {', '.join(columns)} FROM read_parquet('{quoted}') {where}"
    return {k: np.asarray(v) for k, v in con.execute(sql).fetchnumpy().items()}


def _chi2(reference: np.ndarray, current: np.ndarray) -> dict[str, float]:
    levels, ref_counts = np.unique(reference, return_counts=True)
    cur_levels, cur_counts = np.unique(current, return_counts=True)
    by_level = dict(zip(cur_levels.tolist(), cur_counts.tolist()))
    table = np.array([ref_counts, [by_level.get(k, 0) for k in levels.tolist()]], dtype=float)
    table = table[:, table.sum(axis=0) > 0]
    result = stats.chi2_contingency(table)
    return {"chi2_statistic": float(result.statistic), "chi2_pvalue": float(result.pvalue), "chi2_dof": int(result.dof)}


def yardstick(folder: Path, periods: int) -> dict[str, dict[str, Any]]:
    """{period: {"n_rows", "columns": {feature: {statistic: value}}, "roc_auc", "accuracy"}}."""
    import duckdb
    from sklearn.metrics import accuracy_score, roc_auc_score

    con = duckdb.connect()
    try:
        reference = _read(con, folder / "reference.parquet", [*NUMERIC, *CATEGORICAL])
        for name in NUMERIC:  # sorted once: scipy sorts again, and a sorted array sorts fast
            reference[name] = np.sort(reference[name].astype(np.float64))
        reference.update({name: reference[name].astype(str) for name in CATEGORICAL})
        starts = month_starts(periods)
        out: dict[str, dict[str, Any]] = {}
        for start, end in zip(starts, starts[1:]):
            where = f"WHERE {TIMESTAMP} >= TIMESTAMP '{start}' AND {TIMESTAMP} < TIMESTAMP '{end}'"
            month = _read(con, folder / "analysis.parquet", [*NUMERIC, *CATEGORICAL, TARGET, PROBA, PREDICTION], where)
            out[start.isoformat()] = _period_truth(reference, month, accuracy_score, roc_auc_score)
    finally:
        con.close()
    return out


def _period_truth(reference: dict[str, np.ndarray], month: dict[str, np.ndarray], accuracy_score: Any,
                  roc_auc_score: Any) -> dict[str, Any]:
    columns: dict[str, dict[str, float]] = {}
    for name in NUMERIC:
        current = month[name].astype(np.float64)
        ks = stats.ks_2samp(reference[name], current)
        columns[name] = {"ks_statistic": float(ks.statistic), "ks_pvalue": float(ks.pvalue),
                         "wasserstein": float(stats.wasserstein_distance(reference[name], current))}
    for name in CATEGORICAL:
        columns[name] = _chi2(reference[name], month[name].astype(str))
    return {"n_rows": int(len(month[TARGET])), "columns": columns,
            "roc_auc": float(roc_auc_score(month[TARGET], month[PROBA])),
            "accuracy": float(accuracy_score(month[TARGET], month[PREDICTION]))}


def compare(truth: dict[str, dict[str, Any]], tools: dict[str, dict[str, dict[str, Any]]]) -> list[dict[str, Any]]:
    """One row per (tool, statistic, yardstick, period, column): the two values and their difference.

    `tools` maps "mlmon" and "nannyml" to their per-period outputs; a row's `tool` is
    "mlmon − nannyml" when the two tools are compared with each other.
    """
    rows: list[dict[str, Any]] = []

    def add(tool: str, statistic: str, against: str, period: str, column: str | None, value: Any,
            expected: Any) -> None:
        rows.append({"tool": tool, "statistic": statistic, "against": against, "period": period, "column": column,
                     "value": value, "expected": expected, "abs_diff": abs_diff(value, expected)})

    mlmon, nannyml = tools.get("mlmon", {}), tools.get("nannyml", {})
    for period, want in truth.items():
        for tool, outputs in (("mlmon", mlmon), ("nannyml", nannyml)):
            if not outputs:
                continue
            got = outputs.get(period, {})
            # The same rows in the month (a month missing counts none): a time zone or a period
            # boundary read differently shows here first.
            add(tool, "n_rows", "the files", period, None, got.get("n_rows", 0), want["n_rows"])
            for column, expected in want["columns"].items():
                for key in ("ks_statistic", "ks_pvalue", "wasserstein", "chi2_statistic", "chi2_pvalue"):
                    value = got.get("columns", {}).get(column, {}).get(key)
                    if value is not None:
                        add(tool, key, "scipy", period, column, value, expected[key])
            for key in _PERFORMANCE:
                if got.get(key) is not None:
                    add(tool, key, "scikit-learn", period, None, got[key], want[key])
                if got.get(f"estimated_{key}") is not None:
                    add(tool, f"estimated_{key}", f"realised {key} (scikit-learn)", period, None,
                        got[f"estimated_{key}"], want[key])
        ours, theirs = mlmon.get(period), nannyml.get(period)
        if ours is None or theirs is None:
            continue
        for column, expected in want["columns"].items():
            mine, peer = ours["columns"].get(column, {}), theirs["columns"].get(column, {})
            for key in ("ks_statistic", "wasserstein"):
                if key in mine and key in peer:
                    add("mlmon − nannyml", key, "each other", period, column, mine[key], peer[key])
            if "chi2_pvalue" in mine and "chi2_statistic" in peer:
                derived = float(stats.chi2.sf(peer["chi2_statistic"], expected["chi2_dof"]))
                add("mlmon − nannyml", "chi2_pvalue", "each other", period, column, mine["chi2_pvalue"], derived)
        for key in (*_PERFORMANCE, *(f"estimated_{k}" for k in _PERFORMANCE)):
            if ours.get(key) is not None and theirs.get(key) is not None:
                add("mlmon − nannyml", key, "each other", period, None, ours[key], theirs[key])
    return rows


def summary_rows(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per (tool, statistic, yardstick): values compared, the largest absolute difference and
    where (month and column)."""
    return agreement_summary(rows, where=lambda row: row["period"][:7] + (f" {row['column']}" if row["column"] else ""))
