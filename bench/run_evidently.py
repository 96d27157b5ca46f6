"""Time Evidently's DataDriftPreset on the benchmark files; print one JSON line.

    bench/.venv-evidently/bin/python bench/run_evidently.py --data DIR [--agreement]

Runs in its own environment (Evidently needs pandas < 3). The timed work is what a user of
Evidently does: read both parquet files into pandas, wrap them as Datasets with the 10 numeric
+ 5 categorical column mapping, and run `Report([DataDriftPreset()])`. With its defaults at
this size Evidently scores numeric columns by normalised Wasserstein distance and categorical
ones by Jensen-Shannon distance.

`--agreement` adds an untimed second report with the statistics that mlmon also computes
(KS p-value on numeric columns, PSI on all), for bench/agreement.py.
"""

from __future__ import annotations

import argparse
import re
import resource
import time
from pathlib import Path
from typing import Any

from data import CATEGORICAL, FEATURES, NUMERIC, emit, peak_rss_bytes

__all__ = ["main"]

# "ValueDrift(column=num_0,method=Wasserstein distance (normed),threshold=0.1)"
_VALUE_DRIFT = re.compile(r"ValueDrift\(column=(?P<column>[^,]+),method=(?P<method>.+?)(,threshold=[^)]*)?\)$")
# Default methods appear under their display names, requested ones under the name asked for.
_METHOD_KEYS = {
    "Wasserstein distance (normed)": "wasserstein_normed",
    "Jensen-Shannon distance": "jensen_shannon",
    "ks": "ks_pvalue",  # Evidently's K-S test reports the p-value, not the statistic
    "psi": "psi",
}


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _values(snapshot: Any) -> tuple[dict[str, dict[str, float]], dict[str, Any]]:
    per_column: dict[str, dict[str, float]] = {}
    globals_: dict[str, Any] = {}
    for item in snapshot.dict()["metrics"]:
        name, value = item["metric_name"] if "metric_name" in item else item.get("metric_id"), item["value"]
        match = _VALUE_DRIFT.match(str(name))
        if match:
            key = _METHOD_KEYS.get(match["method"], match["method"])
            per_column.setdefault(match["column"], {})[key] = float(value)
        elif str(name).startswith("DriftedColumnsCount"):
            globals_["drifted_columns_count"] = value.get("count") if isinstance(value, dict) else value
            globals_["drifted_columns_share"] = value.get("share") if isinstance(value, dict) else None
    return per_column, globals_


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--agreement", action="store_true", help="also compute KS and PSI (untimed)")
    args = parser.parse_args(argv)

    started = time.perf_counter()
    import pandas as pd
    from evidently import DataDefinition, Dataset, Report
    from evidently.presets import DataDriftPreset

    import_s = time.perf_counter() - started

    cpu0, started = _cpu_seconds(), time.perf_counter()
    columns = FEATURES
    reference = pd.read_parquet(args.data / "reference.parquet", columns=columns)
    current = pd.read_parquet(args.data / "current.parquet", columns=columns)
    definition = DataDefinition(numerical_columns=list(NUMERIC), categorical_columns=list(CATEGORICAL))
    ref_ds = Dataset.from_pandas(reference, data_definition=definition)
    cur_ds = Dataset.from_pandas(current, data_definition=definition)
    load_s = time.perf_counter() - started
    snapshot = Report([DataDriftPreset()]).run(cur_ds, ref_ds)
    per_column, globals_ = _values(snapshot)
    wall_s = time.perf_counter() - started
    cpu_s = _cpu_seconds() - cpu0
    peak = peak_rss_bytes()  # before the untimed extra report can raise it
    if args.agreement:
        from evidently.metrics import ValueDrift

        extra = [ValueDrift(column=c, method="ks") for c in NUMERIC] + [ValueDrift(column=c, method="psi") for c in columns]
        more, _ = _values(Report(extra).run(cur_ds, ref_ds))
        for column, values in more.items():
            per_column.setdefault(column, {}).update(values)

    from importlib.metadata import version

    emit({
        "tool": "evidently",
        "versions": {p: version(p) for p in ("evidently", "pandas", "numpy", "scipy", "scikit-learn")},
        "rows": len(current),
        "wall_s": wall_s,
        "cpu_s": cpu_s,
        "load_s": load_s,
        "import_s": import_s,
        "peak_rss_bytes": peak,
        "columns": per_column,
        "globals": globals_,
    })


if __name__ == "__main__":
    main()
