"""Time NannyML's univariate drift on the benchmark files; print one JSON line.

    NML_DISABLE_USAGE_LOGGING=1 bench/.venv-nannyml/bin/python bench/run_nannyml.py --data DIR

Runs in its own environment. The timed work: read both parquet files into pandas, fit
`UnivariateDriftCalculator` on the reference (Kolmogorov-Smirnov and Wasserstein on the 10
numeric columns, chi-square on the 5 categorical ones) and calculate it on the current rows as
a single chunk, so that NannyML, like the other tools, compares the two periods whole.

NannyML's own defaults are kept: from 10,000 reference rows up it estimates KS and Wasserstein
from a 10,000-bin histogram of the reference instead of the exact two-sample statistics.
"""

from __future__ import annotations

import argparse
import os
import resource
import time
from pathlib import Path
from typing import Any

from data import CATEGORICAL, FEATURES, NUMERIC, emit

__all__ = ["main"]

_CONTINUOUS = ["kolmogorov_smirnov", "wasserstein"]
_CATEGORICAL = ["chi2"]
_KEYS = {"kolmogorov_smirnov": "ks_statistic", "wasserstein": "wasserstein", "chi2": "chi2_statistic"}


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _values(result: Any) -> dict[str, dict[str, float]]:
    frame = result.filter(period="analysis").to_df()
    per_column: dict[str, dict[str, float]] = {}
    for key in frame.columns:
        if len(key) == 3 and key[0] in FEATURES and key[2] == "value":
            per_column.setdefault(key[0], {})[_KEYS.get(key[1], key[1])] = float(frame[key].iloc[0])
    return per_column


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, required=True)
    args = parser.parse_args(argv)
    os.environ.setdefault("NML_DISABLE_USAGE_LOGGING", "1")

    started = time.perf_counter()
    import nannyml as nml
    import pandas as pd

    import_s = time.perf_counter() - started

    cpu0, started = _cpu_seconds(), time.perf_counter()
    reference = pd.read_parquet(args.data / "reference.parquet", columns=FEATURES)
    current = pd.read_parquet(args.data / "current.parquet", columns=FEATURES)
    load_s = time.perf_counter() - started
    calculator = nml.UnivariateDriftCalculator(
        column_names=list(FEATURES),
        treat_as_numerical=list(NUMERIC),
        treat_as_categorical=list(CATEGORICAL),
        continuous_methods=_CONTINUOUS,
        categorical_methods=_CATEGORICAL,
        chunk_number=1,
    )
    calculator.fit(reference)
    result = calculator.calculate(current)
    per_column = _values(result)
    wall_s = time.perf_counter() - started
    cpu_s = _cpu_seconds() - cpu0

    from importlib.metadata import version

    emit({
        "tool": "nannyml",
        "versions": {p: version(p) for p in ("nannyml", "pandas", "numpy", "scipy", "scikit-learn")},
        "rows": len(current),
        "wall_s": wall_s,
        "cpu_s": cpu_s,
        "load_s": load_s,
        "import_s": import_s,
        "columns": per_column,
        "globals": {},
    })


if __name__ == "__main__":
    main()
