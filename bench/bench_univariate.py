"""Time univariate drift on N reference + N current rows x 15 columns in an in-memory DuckDB.

    python bench/bench_univariate.py --rows 1000000

Ten numeric columns (uniform, normal, lognormal, integer-valued) and five categorical ones,
with a mild shift on the current side. Prints the seconds for profiling the reference, for
drift with a stored profile, and for drift from scratch: the best wall time of `--repeat`
runs, and the process CPU seconds (all threads) of that run, which other load on the machine
does not inflate.
"""

from __future__ import annotations

import argparse
import time

import duckdb

from mlmon.metrics.univariate import profile_reference, univariate_drift

NUMERIC = [f"num_{i}" for i in range(10)]
CATEGORICAL = [f"cat_{i}" for i in range(5)]


def _numeric_expr(i: int, shift: float) -> str:
    kind = i % 4
    if kind == 0:  # uniform
        return f"random() * {i + 1} + {shift}"
    if kind == 1:  # normal, Box-Muller
        return f"sqrt(-2 * ln(1 - random())) * cos(2 * pi() * random()) + {shift}"
    if kind == 2:  # heavy right tail
        return f"exp(1.5 * sqrt(-2 * ln(1 - random())) * cos(2 * pi() * random()) + {shift})"
    return f"floor(random() * 50 + {shift * 20})"  # integer-valued, many ties


def make_tables(con: duckdb.DuckDBPyConnection, rows: int, seed: float = 0.42) -> None:
    for name, shift, s in (("reference", 0.0, seed), ("current", 0.05, seed / 2)):
        con.execute(f"SELECT setseed({s})")
        nums = ", ".join(f"{_numeric_expr(i, shift)} AS {n}" for i, n in enumerate(NUMERIC))
        cats = ", ".join(
            f"'c' || CAST(floor(pow(random(), {1 + shift * 4}) * {3 + 4 * i}) AS INTEGER) AS {n}"
            for i, n in enumerate(CATEGORICAL)
        )
        con.execute(f"CREATE OR REPLACE TABLE {name} AS SELECT {nums}, {cats} FROM range({rows})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000, help="rows per side")
    parser.add_argument("--threads", type=int, default=None, help="DuckDB threads (default: all cores)")
    parser.add_argument("--repeat", type=int, default=3, help="runs per timing; the best is printed")
    args = parser.parse_args()

    con = duckdb.connect()
    if args.threads:
        con.execute(f"SET threads = {args.threads}")
    t0 = time.perf_counter()
    make_tables(con, args.rows)
    print(f"data: {args.rows:,} + {args.rows:,} rows x 15 columns in {time.perf_counter() - t0:.2f}s")

    def best(fn) -> tuple[tuple[float, float], object]:
        times, out = [], None
        for _ in range(args.repeat):
            t, c = time.perf_counter(), time.process_time()
            out = fn()
            times.append((time.perf_counter() - t, time.process_time() - c))
        return min(times), out

    t_prof, profile = best(lambda: profile_reference(con, "reference", NUMERIC, CATEGORICAL))
    t_drift, metrics = best(lambda: univariate_drift(con, "reference", "current", NUMERIC, CATEGORICAL, profile))
    t_full, _ = best(lambda: univariate_drift(con, "reference", "current", NUMERIC, CATEGORICAL))
    for name, (wall, cpu) in (("profile_reference", t_prof), ("univariate_drift (stored profile)", t_drift),
                              ("univariate_drift (from scratch)", t_full)):
        print(f"{name + ':':35s}{wall:6.2f}s  (cpu {cpu:.2f}s)")
    shown = {m.metric: m.value for m in metrics if m.feature == NUMERIC[0]}
    print(f"{NUMERIC[0]}: " + ", ".join(f"{k}={v:.4g}" for k, v in shown.items() if v is not None))
    glob = {m.metric: m.value for m in metrics if m.feature is None}
    print("globals: " + ", ".join(f"{k}={v:.4g}" for k, v in glob.items() if v is not None))


if __name__ == "__main__":
    main()
