"""Time one evaluation of N current rows against N reference rows x 15 features.

    python bench/bench_evaluation.py --rows 1000000 [--profile evaluation.prof]

Builds, in a DuckDB warehouse file via SQL, the reference table of a binary model version
(`mlmon.ref_bench_model_v1`: 10 numeric and 5 categorical features, the target, `proba_0`,
`proba_1`, `prediction`) and a current table with a mild shift. Then runs the library function
an evaluation node runs (`mlmon.evaluation.run.run_evaluation`: sampling into a scratch table,
performance, univariate, domain-classifier and prediction drift, CBPE, diagnostics, the atomic
append) twice: cold (reference profile not cached yet) and warm (the profile read back from
`mlmon.reference_profiles`, as every later month of a store is). There is no fitted model here,
so model importance is skipped. Prints seconds per family and the peak RSS.
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import resource
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # imported late at run time: `--help` should not load the statistics stack
    from mlmon.ml.registry import ModelVersion
    from mlmon.warehouse.duckdb import Warehouse

NUMERIC = [f"num_{i}" for i in range(10)]
CATEGORICAL = [f"cat_{i}" for i in range(5)]
LEVELS = (3, 5, 8, 12, 20)
STORE = "bench_store"


def _uniform(column: int, seed: int) -> str:
    # 53 bits of a seeded hash, kept off 0 so that ln() stays finite: the same data whatever
    # the number of threads.
    return f"((CAST(hash(i, {column}, {seed}) >> 11 AS DOUBLE) + 0.5) / 9007199254740992.0)"


def _normal(column: int, seed: int) -> str:
    return f"(sqrt(-2.0 * ln({_uniform(column, seed)})) * cos(2.0 * pi() * {_uniform(column + 500, seed)}))"


def side_sql(rows: int, seed: int, drift: float) -> str:
    """SELECT of one side: `drift` 0 for the reference, 1 for the (mildly shifted) current rows."""
    u, z, d = (lambda j: _uniform(j, seed)), (lambda j: _normal(j, seed)), float(drift)
    numeric = [
        f"{u(0)} * 10.0 + {0.3 * d}", f"{z(1)} + {0.05 * d}", f"exp(0.75 * {z(2)}) * {1 + 0.03 * d}",
        f"CAST(floor({u(3)} * 50.0 + {d}) AS INTEGER)", f"10.0 + 3.0 * {1 + 0.05 * d} * {z(4)}",
        f"-2.0 * ln({u(5)})", f"{u(6)} * 100.0",
        f"CASE WHEN {u(7)} < {0.3 + 0.02 * d} THEN 5.0 + {z(8)} ELSE {z(9)} END",
        f"CAST(floor(-3.0 * ln({u(10)}) * {1 + 0.04 * d}) AS INTEGER)", f"round({z(11)} * 2.0, 2)",
    ]
    categorical = [f"'c' || CAST(floor(pow({u(20 + k)}, {1 + 0.08 * d * (k + 1) / 5}) * {n}) AS INTEGER)"
                   for k, n in enumerate(LEVELS)]
    columns = [*(f"{e} AS {c}" for e, c in zip(numeric, NUMERIC)),
               *(f"{e} AS {c}" for e, c in zip(categorical, CATEGORICAL))]
    score = "(0.9 * num_1 + 0.25 * (num_4 - 10.0) - 0.6 * ln(num_2) + 0.02 * num_3 " \
            "+ CASE WHEN cat_0 = 'c0' THEN 0.5 ELSE 0.0 END - 1.2)"
    return f"""
        WITH f AS (SELECT i, {', '.join(columns)} FROM range({int(rows)}) AS r(i)),
        s AS (SELECT *, 1.0 / (1.0 + exp(-{score})) AS p,
                     1.0 / (1.0 + exp(-({score} + 0.8 * {_normal(40, seed)}))) AS p_true FROM f)
        SELECT {', '.join(NUMERIC + CATEGORICAL)}, CAST({_uniform(50, seed)} < p_true AS BIGINT) AS target,
               1.0 - p AS proba_0, p AS proba_1, CAST(p >= 0.5 AS BIGINT) AS prediction
        FROM s ORDER BY i"""


def build_tables(warehouse: "Warehouse", rows: int) -> None:
    con = warehouse.con
    con.execute(f"CREATE OR REPLACE TABLE mlmon.ref_bench_model_v1 AS {side_sql(rows, 1, 0.0)}")
    con.execute(f"CREATE OR REPLACE TABLE main.current AS {side_sql(rows, 2, 1.0)}")


def model_version(warehouse: "Warehouse") -> "ModelVersion":
    from mlmon.metrics.performance import classification_metrics
    from mlmon.ml.registry import ModelVersion

    ref = warehouse.con.execute("SELECT target, proba_0, proba_1 FROM mlmon.ref_bench_model_v1").df()
    metrics = classification_metrics(ref["target"], ref[["proba_0", "proba_1"]].to_numpy(), [0, 1], 0.5, 1)
    return ModelVersion(
        model="bench_model", version=1, trained_at=datetime.now(), training_dataset="bench", n_train=0,
        n_test=len(ref), active=True, artifact_path="", sha256="", metrics={m.metric: m.value for m in metrics},
        task="binary", target="target", features=NUMERIC + CATEGORICAL, classes=[0, 1], estimator="", params={},
        numeric=list(NUMERIC), categorical=list(CATEGORICAL), positive_class=1, threshold=0.5,
    )


def scan_floor(warehouse: "Warehouse") -> float:
    """Seconds DuckDB takes to read every column of both tables once: the machine's yardstick."""
    items = ", ".join(["count(*)", *(f"sum({c})" for c in NUMERIC), *(f"sum(length({c}))" for c in CATEGORICAL),
                       "sum(target)", "sum(proba_1)"])
    started = time.perf_counter()
    for table in ("mlmon.ref_bench_model_v1", "main.current"):
        warehouse.con.execute(f"SELECT {items} FROM {table}").fetchall()
    return time.perf_counter() - started


def peak_rss_mb() -> float:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 1024 / 1024 if sys.platform == "darwin" else peak / 1024


FAMILIES = ("sampling", "reference", "performance", "profile", "data_drift", "model_importance", "univariate",
            "prediction", "estimation", "diagnostics", "append")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000, help="rows per side")
    parser.add_argument("--dir", type=Path, default=None, help="folder for the warehouse (default: a temp folder)")
    parser.add_argument("--profile", type=Path, default=None, help="write a cProfile of the warm run here")
    args = parser.parse_args(argv)

    temporary = None if args.dir else tempfile.TemporaryDirectory(prefix="mlmon_bench_")
    folder = args.dir or Path(temporary.name)
    folder.mkdir(parents=True, exist_ok=True)
    try:
        runs, floor = _run(folder, args.rows, args.profile)
    finally:
        if temporary is not None:
            temporary.cleanup()

    print(f"\nevaluation of {args.rows:,} current vs {args.rows:,} reference rows x 15 features (seconds)")
    print(f"{'family':<18}" + "".join(f"{label:>10}" for label, _, _ in runs))
    for family in FAMILIES:
        print(f"{family:<18}" + "".join(f"{timings.get(family, 0.0):>10.2f}" for _, _, timings in runs))
    print(f"{'total':<18}" + "".join(f"{total:>10.2f}" for _, total, _ in runs))
    print(f"plain scan of both tables: {floor:.2f}s; peak RSS: {peak_rss_mb():,.0f} MB")


def _run(folder: Path, rows: int, profile: Path | None) -> tuple[list[tuple[str, float, dict[str, float]]], float]:
    """Build the tables, then evaluate cold and warm: [(label, seconds, timings)], scan floor."""
    from mlmon.evaluation.run import EvaluationRequest, run_evaluation
    from mlmon.warehouse.duckdb import Warehouse

    with Warehouse(folder / "bench.duckdb") as warehouse:
        started = time.perf_counter()
        build_tables(warehouse, rows)
        version = model_version(warehouse)
        print(f"data: {rows:,} + {rows:,} rows x 15 features in {time.perf_counter() - started:.1f}s "
              f"({folder / 'bench.duckdb'})", file=sys.stderr)
        floor = scan_floor(warehouse)
        request = EvaluationRequest(store=STORE, dataset="current", source_sql='"main"."current"', invocation_id="bench")
        runs = []
        for label in ("cold", "warm"):
            profiler = cProfile.Profile() if profile and label == "warm" else None
            started = time.perf_counter()
            if profiler:
                profiler.enable()
            stored = run_evaluation(warehouse, request, version, load_pipeline=None)
            if profiler:
                profiler.disable()
                profiler.dump_stats(str(profile))
                pstats.Stats(profiler, stream=sys.stderr).sort_stats("cumulative").print_stats(25)
            runs.append((label, time.perf_counter() - started, stored.result.timings))

    return runs, floor


if __name__ == "__main__":
    main()
