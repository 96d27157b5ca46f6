"""Time mlmon's evaluation of current.parquet against reference.parquet; print one JSON line.

    python bench/run_mlmon.py --data bench/.data/n1000000_seed20240917 [--profile out.txt]

The product's own code path: `mlmon.evaluation.evaluate` on a DuckDB connection whose
reference and current relations are views over the parquet files, so no full column ever
reaches pandas. It computes univariate drift of the 15 features, the domain-classifier data
drift, prediction drift and CBPE; the per-family seconds come from the evaluation's own
timings. Performance metrics are skipped (the peers compute none). The floor is DuckDB's
plain scan of every column of both files, timed in the same process.
"""

from __future__ import annotations

import argparse
import resource
import sys
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from data import CATEGORICAL, FEATURES, NUMERIC, PREDICTION, PROBA, TARGET, emit

__all__ = ["main", "evaluate_files", "evaluate_metrics", "floor_scan"]

_STORE = "bench"
_REFERENCE_VIEW = "bench_reference"
_CURRENT_VIEW = "bench_current"
_OUTPUTS = ["proba_0", PROBA, PREDICTION]


def _source_digest() -> str:
    """Which mlmon source this process imported: the checkout may change between runs."""
    import hashlib

    import mlmon

    root = Path(mlmon.__file__).resolve().parent
    digest = hashlib.sha256()
    for path in sorted(root.rglob("*.py")):
        digest.update(path.relative_to(root.parent).as_posix().encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:12]


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _connect(folder: Path, threads: int | None) -> Any:
    import duckdb

    from mlmon.warehouse.tables import create_statements

    con = duckdb.connect()
    con.execute("SET enable_progress_bar = false")
    if threads:
        con.execute(f"SET threads = {int(threads)}")
    for statement in create_statements():  # the evaluation's cache reads mlmon.reference_profiles
        con.execute(statement)
    for view, name in ((_REFERENCE_VIEW, "reference"), (_CURRENT_VIEW, "current")):
        path = str(folder / f"{name}.parquet").replace("'", "''")
        con.execute(f"CREATE VIEW {view} AS SELECT * FROM read_parquet('{path}')")
    return con


def floor_scan(con: Any) -> float:
    """Seconds for DuckDB to read and aggregate every column of both files once."""
    items = ["COUNT(*)"]
    items += [f"SUM({c})" for c in (*NUMERIC, TARGET, *_OUTPUTS)]
    items += [f"SUM(LENGTH({c}))" for c in CATEGORICAL]
    started = time.perf_counter()
    for view in (_REFERENCE_VIEW, _CURRENT_VIEW):
        con.execute(f"SELECT {', '.join(items)} FROM {view}").fetchall()
    return time.perf_counter() - started


def _version() -> Any:
    from mlmon.ml.registry import ModelVersion

    return ModelVersion(
        model="bench_model", version=1, trained_at=datetime.now(timezone.utc), training_dataset="reference",
        n_train=0, n_test=0, active=True, artifact_path="", sha256="", metrics={}, task="binary", target=TARGET,
        features=list(FEATURES), classes=[0, 1], estimator="", params={}, numeric=list(NUMERIC),
        categorical=list(CATEGORICAL), positive_class=1, threshold=0.5,
    )


def evaluate_files(con: Any) -> Any:
    """One evaluation of the current view against the reference view, as a build would run it."""
    from mlmon.evaluation.evaluate import EvaluationPlan, evaluate
    from mlmon.evaluation.reference import Reference, ReferenceCache

    version = _version()
    reference = Reference(kind="training", sql=_REFERENCE_VIEW, source="training",
                          labelled_sql=_REFERENCE_VIEW, performance={})
    plan = EvaluationPlan(
        store=_STORE, task="binary", target=TARGET, classes=(0, 1), positive_class=1, threshold=0.5,
        numeric=tuple(NUMERIC), categorical=tuple(CATEGORICAL), skip_performance=True,
    )
    return evaluate(con, _CURRENT_VIEW, reference, plan, ReferenceCache(con, version))


@dataclass
class _Result:
    metrics: list[Any]
    timings: dict[str, float]
    warnings: list[str]
    n_evaluated: int


def evaluate_metrics(con: Any) -> _Result:
    """The same families through the metric modules, for a checkout whose evaluation package
    cannot be imported: profile, univariate, domain classifier on seeded samples drawn in SQL,
    prediction drift when its module exists, CBPE."""
    import numpy as np

    from mlmon.metrics.domain import data_drift
    from mlmon.metrics.estimation import estimate_performance
    from mlmon.metrics.univariate import profile_reference, univariate_drift
    from mlmon.metrics.sqlsample import draw_hash_sample

    timings: dict[str, float] = {}
    metrics: list[Any] = []
    warnings: list[str] = []

    def timed(family: str, fn: Any) -> Any:
        started = time.perf_counter()
        out = fn()
        timings[family] = time.perf_counter() - started
        return out

    def sample(view: str) -> Any:
        return draw_hash_sample(con, view, FEATURES, FEATURES, 10_000, 1337)

    profile = timed("profile", lambda: profile_reference(con, _REFERENCE_VIEW, NUMERIC, CATEGORICAL))
    drift = timed("data_drift", lambda: data_drift(sample(_REFERENCE_VIEW), sample(_CURRENT_VIEW), NUMERIC, CATEGORICAL))
    metrics += drift.metrics()
    metrics += timed("univariate", lambda: univariate_drift(con, _REFERENCE_VIEW, _CURRENT_VIEW, NUMERIC, CATEGORICAL,
                                                            profile))
    try:
        from mlmon.metrics.prediction import prediction_drift
    except ImportError:
        warnings.append("mlmon.metrics.prediction is absent: prediction drift not timed")
    else:
        metrics += timed("prediction", lambda: prediction_drift(con, _REFERENCE_VIEW, _CURRENT_VIEW, [0, 1], 1, 0.5,
                                                                PROBA, prediction_column=PREDICTION))

    def cbpe() -> list[Any]:
        ref = con.execute(f"SELECT {TARGET}, {PROBA} FROM {_REFERENCE_VIEW}").fetchnumpy()
        cur = con.execute(f"SELECT {PROBA} FROM {_CURRENT_VIEW}").fetchnumpy()
        return estimate_performance(np.asarray(ref[PROBA]), np.asarray(ref[TARGET]), np.asarray(cur[PROBA]), 0.5,
                                    positive_label=1)

    metrics += timed("estimation", cbpe)
    n = int(con.execute(f"SELECT COUNT(*) FROM {_CURRENT_VIEW}").fetchall()[0][0])
    return _Result(metrics, timings, warnings, n)


def _columns(result: Any) -> tuple[dict[str, dict[str, float | None]], dict[str, float | None]]:
    per_column: dict[str, dict[str, float | None]] = {}
    globals_: dict[str, float | None] = {}
    for m in result.metrics:
        if m.feature is None:
            globals_[m.metric] = m.value
        elif m.feature in FEATURES and m.metric not in ("drift_importance", "model_importance"):
            per_column.setdefault(m.feature, {})[m.metric] = m.value
        else:
            globals_[f"{m.metric}[{m.feature}]"] = m.value
    return per_column, globals_


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, required=True, help="folder with reference.parquet and current.parquet")
    parser.add_argument("--threads", type=int, default=None, help="DuckDB threads (default: all cores)")
    parser.add_argument("--no-floor", action="store_true", help="skip the plain-scan floor")
    parser.add_argument("--profile", type=Path, default=None, help="write a pyinstrument profile of the evaluation here")
    args = parser.parse_args(argv)

    started = time.perf_counter()
    import duckdb
    import sklearn.ensemble  # noqa: F401  (import time is reported apart)

    import mlmon.metrics.univariate  # noqa: F401

    try:
        import mlmon.evaluation.evaluate  # noqa: F401
        run, path = evaluate_files, "mlmon.evaluation.evaluate"
    except ImportError as error:  # a checkout mid-change: time the metric modules themselves
        print(f"evaluation package not importable ({error}); timing the metric modules", file=sys.stderr)
        run, path = evaluate_metrics, "mlmon.metrics"
    import_s = time.perf_counter() - started
    source = _source_digest()
    con = _connect(args.data, args.threads)
    floor_s = None if args.no_floor else floor_scan(con)

    profiler = None
    if args.profile is not None:
        from pyinstrument import Profiler

        profiler = Profiler(interval=0.002)
        profiler.start()
    cpu0, started = _cpu_seconds(), time.perf_counter()
    result = run(con)
    wall_s = time.perf_counter() - started
    cpu_s = _cpu_seconds() - cpu0
    if profiler is not None:
        profiler.stop()
        args.profile.write_text(profiler.output_text(unicode=True, color=False, show_all=False))

    from importlib.metadata import version

    per_column, globals_ = _columns(result)
    emit({
        "tool": "mlmon",
        "path": path,
        "source": source,
        "versions": {"mlmon": version("mlmon"), "duckdb": duckdb.__version__},
        "rows": result.n_evaluated,
        "wall_s": wall_s,
        "cpu_s": cpu_s,
        "import_s": import_s,
        "floor_s": floor_s,
        "timings": result.timings,
        "warnings": result.warnings,
        "columns": per_column,
        "globals": globals_,
    })


if __name__ == "__main__":
    main()
