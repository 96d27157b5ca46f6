"""The period workload's data: a year of logged rows against one reference.

`analysis.parquet` holds `periods` calendar months (from January 2024) of `rows` logged rows
each, `reference.parquet` holds `reference_rows` rows spread over 2023. The columns are
bench/data.py's (10 numeric + 5 categorical features, the outcome `target`, known for every
row, and the model's `proba_0`, `proba_1`, `prediction`) after a `timestamp` that spreads each
side's rows evenly over its months. Each month has its own seed stream and a drift factor from
`DRIFT` (0: the reference's distribution; 1: bench/data.py's mild drift), so some months drift
and the others are same-distribution samples. Written once per (periods, rows, reference rows,
seed) with DuckDB SQL; every tool reads these files.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

from data import DATA_ROOT, SEED, side_sql, write_once

__all__ = ["TIMESTAMP", "DRIFT", "FIRST_MONTH", "period_dir", "month_starts", "drift_factors", "ensure_period_data"]

TIMESTAMP = "timestamp"
# Drift factor of each month, in order (repeated beyond twelve months).
DRIFT = (0.0, 0.0, 0.0, 0.5, 0.0, 1.0, 0.0, 0.0, 1.5, 0.0, 2.0, 1.0)
FIRST_MONTH = date(2024, 1, 1)
_REFERENCE_YEAR = (date(2023, 1, 1), date(2024, 1, 1))
# Bumped whenever the SQL changes, so stale files are regenerated, never reused.
_GENERATOR_VERSION = 2


def period_dir(periods: int, rows: int, reference_rows: int, seed: int = SEED, root: Path = DATA_ROOT) -> Path:
    return root / f"periods{periods}_n{rows}_ref{reference_rows}_seed{seed}"


def month_starts(periods: int) -> list[date]:
    """The first day of each analysed month, and of the month after the last one."""
    out = []
    for k in range(periods + 1):
        year, month = divmod(FIRST_MONTH.month - 1 + k, 12)
        out.append(date(FIRST_MONTH.year + year, month + 1, 1))
    return out


def _timestamp(start: date, end: date, rows: int) -> str:
    # Evenly spread over [start, end): row i at start + i * span / rows, to the microsecond.
    span_us = (end - start).days * 86_400_000_000
    offset = f"CAST(CAST(i AS HUGEINT) * {span_us} // {int(rows)} AS BIGINT)"  # i * span overflows BIGINT
    return f"(TIMESTAMP '{start.isoformat()}' + to_microseconds({offset})) AS {TIMESTAMP}"


def drift_factors(periods: int) -> list[float]:
    return [DRIFT[k % len(DRIFT)] for k in range(periods)]


def ensure_period_data(periods: int, rows: int, reference_rows: int, seed: int = SEED,
                       root: Path = DATA_ROOT) -> Path:
    """The folder with reference.parquet and analysis.parquet, written if absent."""
    starts = month_starts(periods)
    drift = drift_factors(periods)
    months = [side_sql(rows, seed + 101 + k, drift[k], [_timestamp(starts[k], starts[k + 1], rows)])
              for k in range(periods)]
    files = {"reference": side_sql(reference_rows, seed, 0.0, [_timestamp(*_REFERENCE_YEAR, reference_rows)]),
             "analysis": "\nUNION ALL\n".join(f"SELECT * FROM ({sql})" for sql in months)}
    meta = {"periods": periods, "rows": rows, "reference_rows": reference_rows, "seed": seed, "drift": drift,
            "generator": _GENERATOR_VERSION}
    return write_once(period_dir(periods, rows, reference_rows, seed, root), root, files, meta)
