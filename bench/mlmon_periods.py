"""mlmon's side of the period workload: a small project, its build command, its per-period outputs.

The project (written into a folder of its own) has two file datasets over the workload's
parquet files and one standalone evaluation, `monthly`: the logged outputs (`proba_1`,
`prediction`), `task: binary`, the outcome `target`, the reference dataset, the 15 features,
`period: {column: timestamp, every: month}` and `data_drift: false` (NannyML computes no domain
classifier there). One `mlmon build` process evaluates every month; `read_outputs` then reads
the per-period metrics from the warehouse (mlmon.metrics joined to mlmon.evaluations) into the
shape bench/run_nannyml_periods.py writes.
"""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path
from typing import Any

from data import CATEGORICAL, FEATURES, NUMERIC, PREDICTION, PROBA, TARGET
from period_data import TIMESTAMP

__all__ = ["STORE", "STATISTICS", "write_project", "build_argv", "clean_target", "read_outputs",
           "node_seconds", "all_but_last_month"]

STORE = "monthly"
# What is read back: per feature, and global (feature NULL, whole data).
STATISTICS = {"numeric": ("ks_statistic", "ks_pvalue", "wasserstein"), "categorical": ("chi2_pvalue",),
              "global": ("estimated_roc_auc", "estimated_accuracy", "roc_auc", "accuracy")}


def _quoted(path: Path) -> str:
    return json.dumps(str(path))  # a JSON string is a YAML string


def write_project(folder: Path, data: Path) -> Path:
    """Write the project into `folder` (made if absent) over the files in `data`; returns it."""
    files = {
        "mlmon_project.yml": "name: period_bench\n",
        "models/datasets.yml": (
            "datasets:\n"
            f"  - name: reference_rows\n    files: {_quoted(data / 'reference.parquet')}\n"
            # `--vars '{logged: <file>}'` reads other logged rows (the later-build figures)
            "  - name: logged_rows\n    files: "
            + _quoted("{{ var('logged', '" + str(data / "analysis.parquet") + "') }}") + "\n"),
        "monitors/evaluations.yml": (
            "evaluations:\n"
            f"  - name: {STORE}\n"
            "    data: logged_rows\n"
            "    reference: reference_rows\n"
            f"    predictions: {{proba: {PROBA}, prediction: {PREDICTION}}}\n"
            "    task: binary\n"
            f"    target: {TARGET}\n"
            f"    features: [{', '.join(FEATURES)}]\n"
            f"    period: {{column: {TIMESTAMP}, every: month}}\n"
            "    data_drift: false\n"),
    }
    for rel, text in files.items():
        path = folder / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return folder


def build_argv(logged: Path | None = None) -> list[str]:
    """The build command; over `logged` instead of the workload's analysis.parquet if given."""
    extra = ["--vars", json.dumps({"logged": str(logged)})] if logged is not None else []
    return [sys.executable, "-m", "mlmon", "build", "-s", STORE, *extra]


def all_but_last_month(data: Path) -> Path:
    """analysis.parquet without its last month (written next to it once): the logged rows a
    build saw a month before the workload's."""
    out = data / "analysis_all_but_last_month.parquet"
    if not out.exists():
        import duckdb

        source = str(data / "analysis.parquet").replace("'", "''")
        con = duckdb.connect()
        last = con.execute(f"SELECT max(date_trunc('month', {TIMESTAMP})) FROM read_parquet('{source}')").fetchone()[0]
        partial = out.with_suffix(".partial")
        con.execute(f"COPY (SELECT * FROM read_parquet('{source}') WHERE {TIMESTAMP} < ?) "
                    f"TO '{str(partial).replace(chr(39), chr(39) * 2)}' (FORMAT parquet)", [last])
        con.close()
        partial.rename(out)
    return out


def clean_target(project: Path) -> None:
    """An empty target/: every build evaluates every period, none is found already stored."""
    shutil.rmtree(project / "target", ignore_errors=True)


def node_seconds(project: Path) -> float | None:
    """The evaluation node's own execution time from target/run_results.json."""
    path = project / "target" / "run_results.json"
    if not path.exists():
        return None
    for result in json.loads(path.read_text()).get("results", []):
        if result.get("unique_id", "").endswith(f".{STORE}"):
            return float(result["execution_time"])
    return None


def read_outputs(project: Path) -> dict[str, dict[str, Any]]:
    """{period: {"n_rows", "columns": {feature: {statistic: value}}, global statistics}} of the
    newest evaluation of each period in the built warehouse."""
    import duckdb

    con = duckdb.connect(str(project / "target" / "warehouse.duckdb"), read_only=True)
    try:
        evaluations = con.execute(
            "SELECT evaluation_id, json_extract_string(labels, '$.period') AS period, n_evaluated "
            "FROM mlmon.evaluations WHERE store = ? ORDER BY created_at", [STORE]).fetchall()
        metrics = con.execute(
            "SELECT evaluation_id, metric, feature, value FROM mlmon.metrics WHERE store = ? AND segment IS NULL",
            [STORE]).fetchall()
    finally:
        con.close()
    period_of = {}
    periods: dict[str, dict[str, Any]] = {}
    for evaluation_id, period, n_evaluated in evaluations:  # later evaluations of a period replace earlier
        period_of[evaluation_id] = period
        periods[period] = {"n_rows": int(n_evaluated), "columns": {}}
    latest = {period: eid for eid, period in period_of.items()}
    wanted = {name: set(STATISTICS["numeric"]) for name in NUMERIC}
    wanted.update({name: set(STATISTICS["categorical"]) for name in CATEGORICAL})
    for evaluation_id, metric, feature, value in metrics:
        period = period_of.get(evaluation_id)
        if period is None or latest[period] != evaluation_id:
            continue
        if feature is None and metric in STATISTICS["global"]:
            periods[period][metric] = value
        elif feature in wanted and metric in wanted[feature]:
            periods[period]["columns"].setdefault(feature, {})[metric] = value
    return dict(sorted(periods.items()))
