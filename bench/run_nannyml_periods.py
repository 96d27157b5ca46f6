"""NannyML's monthly monitoring of the period workload; writes its per-period outputs as JSON.

    NML_DISABLE_USAGE_LOGGING=1 bench/.venv-nannyml/bin/python bench/run_nannyml_periods.py --data DIR --out FILE

Runs in its own environment (bench/.venv-nannyml), as a whole process timed from outside by
bench/periods.py. It reads reference.parquet and analysis.parquet into pandas, and with
`chunk_period='M'` on `timestamp` fits on the reference and calculates on the analysis rows:

- `UnivariateDriftCalculator`: Kolmogorov-Smirnov and Wasserstein on the 10 numeric features,
  chi-square on the 5 categorical ones (NannyML's defaults kept: from 10,000 reference rows up,
  KS and Wasserstein are estimated from a 10,000-bin histogram of the reference);
- `CBPE`: estimated ROC AUC and accuracy;
- `PerformanceCalculator`: realised ROC AUC and accuracy.

The output: {"tool", "versions", "phases": seconds per step, "periods": {"YYYY-MM-01":
{"columns": {feature: {statistic: value}}, "estimated_roc_auc", "estimated_accuracy",
"roc_auc", "accuracy"}}}, the shape bench/periods.py reads mlmon's warehouse into.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path
from typing import Any

from data import CATEGORICAL, FEATURES, NUMERIC, PREDICTION, PROBA, TARGET
from period_data import TIMESTAMP

__all__ = ["main"]

_METHOD_KEYS = {"kolmogorov_smirnov": "ks_statistic", "wasserstein": "wasserstein", "chi2": "chi2_statistic"}
_METRICS = ["roc_auc", "accuracy"]


def _period(chunk_start: Any) -> str:
    return chunk_start.date().replace(day=1).isoformat()


def _drift(result: Any, periods: dict[str, dict[str, Any]]) -> None:
    frame = result.filter(period="analysis").to_df()
    starts = frame[("chunk", "chunk", "start_date")]
    for key in frame.columns:
        if len(key) == 3 and key[0] in FEATURES and key[2] == "value":
            for start, value in zip(starts, frame[key]):
                columns = periods.setdefault(_period(start), {}).setdefault("columns", {})
                columns.setdefault(key[0], {})[_METHOD_KEYS[key[1]]] = float(value)


def _performance(result: Any, periods: dict[str, dict[str, Any]], prefix: str) -> None:
    frame = result.filter(period="analysis").to_df()
    for i, start in enumerate(frame[("chunk", "start_date")]):
        period = periods.setdefault(_period(start), {})
        period["n_rows"] = int(frame[("chunk", "end_index")].iloc[i] - frame[("chunk", "start_index")].iloc[i] + 1)
        for metric in _METRICS:
            period[prefix + metric] = float(frame[(metric, "value")].iloc[i])


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, required=True, help="folder with reference.parquet and analysis.parquet")
    parser.add_argument("--out", type=Path, required=True, help="where to write the per-period outputs (JSON)")
    args = parser.parse_args(argv)
    os.environ.setdefault("NML_DISABLE_USAGE_LOGGING", "1")

    phases: dict[str, float] = {}
    started = time.perf_counter()

    def lap(name: str) -> None:
        nonlocal started
        phases[name] = time.perf_counter() - started
        started = time.perf_counter()

    import nannyml as nml
    import pandas as pd

    lap("import")
    columns = [TIMESTAMP, *FEATURES, TARGET, PROBA, PREDICTION]
    reference = pd.read_parquet(args.data / "reference.parquet", columns=columns)
    analysis = pd.read_parquet(args.data / "analysis.parquet", columns=columns)
    lap("read")
    chunking = {"timestamp_column_name": TIMESTAMP, "chunk_period": "M"}
    outputs = {"y_pred_proba": PROBA, "y_pred": PREDICTION, "y_true": TARGET,
               "problem_type": "classification_binary", "metrics": list(_METRICS)}
    drift = nml.UnivariateDriftCalculator(
        column_names=list(FEATURES), treat_as_numerical=list(NUMERIC), treat_as_categorical=list(CATEGORICAL),
        continuous_methods=["kolmogorov_smirnov", "wasserstein"], categorical_methods=["chi2"], **chunking)
    drift_result = drift.fit(reference).calculate(analysis)
    lap("univariate_drift")
    cbpe_result = nml.CBPE(**outputs, **chunking).fit(reference).estimate(analysis)
    lap("cbpe")
    realised_result = nml.PerformanceCalculator(**outputs, **chunking).fit(reference).calculate(analysis)
    lap("performance")

    periods: dict[str, dict[str, Any]] = {}
    _drift(drift_result, periods)
    _performance(cbpe_result, periods, "estimated_")
    _performance(realised_result, periods, "")
    from importlib.metadata import version

    args.out.write_text(json.dumps({
        "tool": "nannyml",
        "versions": {p: version(p) for p in ("nannyml", "pandas", "numpy", "scipy", "scikit-learn")},
        "phases": phases,
        "periods": dict(sorted(periods.items())),
    }, indent=1))


if __name__ == "__main__":
    main()
