"""The benchmark's data: one definition of the rows every tool reads, and how a runner reports.

Reference and current sides hold N rows each: 10 numeric features (uniform, normal, skewed,
integer-valued with many ties), 5 categorical ones (3 to 20 levels), a binary `target`, and a
model's outputs `proba_0`, `proba_1`, `prediction`. The current side drifts mildly: small
location and scale changes on some features, a shift in category shares, and so a shift in
the predicted probabilities.

Rows come from DuckDB SQL where every random draw is `hash(row, column, seed)`, so the files are
the same whatever the number of threads; they are written once per (N, seed) as parquet and
every tool reads those files. The generator runs only in the main environment; runners in the
peers' environments import this module for the column lists and `peak_rss_bytes` alone.
"""

from __future__ import annotations

import json
import os
import resource
import sys
import time
from pathlib import Path
from typing import Any, Sequence

__all__ = [
    "NUMERIC",
    "CATEGORICAL",
    "FEATURES",
    "TARGET",
    "PROBA",
    "PREDICTION",
    "SEED",
    "DATA_ROOT",
    "data_dir",
    "side_sql",
    "ensure_data",
    "write_once",
    "peak_rss_bytes",
    "emit",
]

NUMERIC: list[str] = [f"num_{i}" for i in range(10)]
CATEGORICAL: list[str] = [f"cat_{i}" for i in range(5)]
FEATURES: list[str] = NUMERIC + CATEGORICAL
TARGET = "target"
PROBA = "proba_1"
PREDICTION = "prediction"
SEED = 20240917
DATA_ROOT = Path(__file__).resolve().parent / ".data"
# Bumped whenever the SQL below changes, so stale files are regenerated, never reused.
_GENERATOR_VERSION = 1
_LEVELS = (3, 5, 8, 12, 20)


def _uniform(column: int, seed: int) -> str:
    # 53 random bits of a 64-bit hash, shifted off zero so that ln() is always finite.
    return f"((CAST(hash(i, {column}, {seed}) >> 11 AS DOUBLE) + 0.5) / 9007199254740992.0)"


def _normal(column: int, seed: int) -> str:
    u1, u2 = _uniform(column, seed), _uniform(column + 1000, seed)
    return f"(sqrt(-2.0 * ln({u1})) * cos(2.0 * pi() * {u2}))"


def side_sql(rows: int, seed: int, drift: float, leading: Sequence[str] = ()) -> str:
    """The SELECT of one side; `drift` is 0 for the reference and 1 for the current rows.
    `leading` are extra select items put first, which may use the row number `i`."""
    d = float(drift)
    u, z = (lambda j: _uniform(j, seed)), (lambda j: _normal(j, seed))
    numeric = [
        f"{u(0)} * 10.0 + {0.3 * d}",  # uniform, shifted
        f"{z(1)} + {0.05 * d}",  # standard normal, shifted
        f"exp(0.75 * {z(2)}) * {1 + 0.03 * d}",  # log-normal, rescaled
        f"CAST(floor({u(3)} * 50.0 + {1.0 * d}) AS INTEGER)",  # integers 0..50: many ties
        f"10.0 + 3.0 * {1 + 0.05 * d} * {z(4)}",  # normal, wider
        f"-2.0 * ln({u(5)})",  # exponential, no drift
        f"{u(6)} * 100.0",  # uniform, no drift
        f"CASE WHEN {u(7)} < {0.3 + 0.02 * d} THEN 5.0 + {z(8)} ELSE {z(9)} END",  # bimodal mixture
        f"CAST(floor(-3.0 * ln({u(10)}) * {1 + 0.04 * d}) AS INTEGER)",  # skewed counts: ties
        f"round({z(11)} * 2.0, 2)",  # rounded to cents: ties
    ]
    categorical = [
        f"'c' || CAST(floor(pow({u(20 + k)}, {1 + 0.08 * d * (k + 1) / 5}) * {n}) AS INTEGER)"
        for k, n in enumerate(_LEVELS)
    ]
    # The "model": a fixed logistic score of a few features; the target is drawn from a slightly
    # different score so that the model is good but not perfect.
    score = "(0.9 * num_1 + 0.25 * (num_4 - 10.0) - 0.6 * ln(num_2) + 0.02 * num_3 " \
            "+ CASE WHEN cat_0 = 'c0' THEN 0.5 ELSE 0.0 END - 1.2)"
    features = ",\n  ".join([*(f"{e} AS {c}" for e, c in zip(numeric, NUMERIC)),
                             *(f"{e} AS {c}" for e, c in zip(categorical, CATEGORICAL))])
    return f"""
WITH f AS (
  SELECT i, {features}
  FROM range({int(rows)}) AS r(i)
), s AS (
  SELECT *, 1.0 / (1.0 + exp(-{score})) AS p,
         1.0 / (1.0 + exp(-({score} + 0.8 * {_normal(40, seed)}))) AS p_true
  FROM f
)
SELECT {"".join(f"{item}, " for item in leading)}{", ".join(FEATURES)},
       CAST({_uniform(50, seed)} < p_true AS INTEGER) AS {TARGET},
       1.0 - p AS proba_0, p AS {PROBA},
       CAST(p >= 0.5 AS INTEGER) AS {PREDICTION}
FROM s
"""


def data_dir(rows: int, seed: int = SEED, root: Path = DATA_ROOT) -> Path:
    return root / f"n{rows}_seed{seed}"


def ensure_data(rows: int, seed: int = SEED, root: Path = DATA_ROOT, *, threads: int | None = None) -> Path:
    """The folder with reference.parquet and current.parquet for N = `rows`, written if absent."""
    # Each side gets its own seed stream: the same draws on both sides would make the
    # no-drift columns identical, not merely identically distributed.
    files = {name: side_sql(rows, side_seed, drift)
             for name, side_seed, drift in (("reference", seed, 0.0), ("current", seed + 1, 1.0))}
    return write_once(data_dir(rows, seed, root), root, files,
                      {"rows": rows, "seed": seed, "generator": _GENERATOR_VERSION}, threads=threads)


def write_once(folder: Path, root: Path, files: dict[str, str], meta: dict[str, Any], *,
               threads: int | None = None) -> Path:
    """`folder` with one `<name>.parquet` per SELECT of `files`, written with DuckDB unless
    folder/meta.json already names the same `meta["generator"]` version."""
    import duckdb

    marker = folder / "meta.json"
    if marker.exists() and json.loads(marker.read_text()).get("generator") == meta["generator"]:
        return folder
    folder.mkdir(parents=True, exist_ok=True)
    # The data root is a cache: kept out of version control whatever the checkout ignores.
    ignore = root / ".gitignore"
    if not ignore.exists():
        ignore.write_text("*\n")
    started = time.perf_counter()
    con = duckdb.connect()
    con.execute("SET enable_progress_bar = false")
    # COPY keeps the order of range(): row i of a file is the same row on every machine.
    con.execute("SET preserve_insertion_order = true")
    if threads:
        con.execute(f"SET threads = {int(threads)}")
    for name, sql in files.items():
        tmp = folder / f"{name}.parquet.tmp"
        con.execute(f"COPY ({sql}) TO '{tmp}' (FORMAT parquet, COMPRESSION zstd)")
        os.replace(tmp, folder / f"{name}.parquet")
    con.close()
    marker.write_text(json.dumps({**meta, "seconds": round(time.perf_counter() - started, 2)}))
    return folder


def peak_rss_bytes() -> int:
    """This process's peak resident set size.

    VmHWM belongs to the address space created at exec, so it is this interpreter's own peak;
    ru_maxrss may also carry the forking parent's peak across exec on Linux.
    """
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak if sys.platform == "darwin" else peak * 1024


def emit(payload: dict[str, Any]) -> None:
    """The one JSON line a runner prints on stdout; everything else goes to stderr."""
    payload.setdefault("peak_rss_bytes", peak_rss_bytes())
    sys.stdout.write(json.dumps(payload, default=_jsonable) + "\n")
    sys.stdout.flush()


def _jsonable(value: Any) -> Any:
    # numpy scalars and arrays from the peers' results
    if hasattr(value, "tolist"):
        return value.tolist()
    return str(value)
