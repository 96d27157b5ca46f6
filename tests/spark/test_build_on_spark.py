"""The example project built on Spark local mode, compared with the same project on DuckDB.

One copy of the project is built twice, `mlmon build` (DuckDB) and `mlmon build --target lake`
(Spark, Hive metastore under `spark_home`); the evaluation stores must hold the same metrics.
"""

from __future__ import annotations

import math
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from mlmon.cli import cli
from tests.conftest import copy_example_project, query_rows

# Two builds of the example project, one on Spark: minutes on a busy machine.
pytestmark = [pytest.mark.slow, pytest.mark.timeout(3600)]

LATEST_METRICS = (
    "SELECT m.store, m.metric, m.feature, m.value, m.lower, m.upper FROM mlmon.metrics AS m "
    "JOIN mlmon.evaluations AS e ON e.evaluation_id = m.evaluation_id "
    "WHERE e.created_at = (SELECT max(created_at) FROM mlmon.evaluations AS l WHERE l.store = e.store)"
)


CATEGORICAL = ["item_category", "merchant_subsector_description", "card_reward_program"]


def duckdb_connection(project: Path):
    from mlmon.warehouse.duckdb import Warehouse

    return Warehouse(project / "target" / "warehouse.duckdb", read_only=True).con


SAMPLED_STORE = """
  - name: mes_for_a_sample
    description: A random sample of the scored rows, identical rows being distinct draws.
    model: fraud_model
    data: test_scored
    sampling: {method: random, size: 1000, seed: 7}
    labels: {month: "{{ var('month') }}"}
"""


def mlmon(root: Path, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, [*args, "--project-dir", str(root)], catch_exceptions=False)
    return result.exit_code, result.output


def mlmon_by_path(root: Path, *args: str) -> tuple[int, str]:
    """`<interpreter's bin>/mlmon ARGS` with no environment activated, as pipx or a scheduler
    runs it: neither that bin directory nor any other Python with mlmon's libraries on PATH."""
    script = Path(sys.executable).parent / "mlmon"
    command = [str(script)] if script.exists() else [sys.executable, "-m", "mlmon"]
    env = {k: v for k, v in os.environ.items() if k not in ("PYSPARK_PYTHON", "VIRTUAL_ENV", "PYENV_VERSION")}
    env["PATH"] = os.pathsep.join(p for p in ("/usr/bin", "/bin") if Path(p).is_dir())
    done = subprocess.run([*command, *args, "--project-dir", str(root)], env=env, capture_output=True, text=True,
                          timeout=1800)
    return done.returncode, done.stdout + done.stderr


@pytest.fixture(scope="module")
def project(tmp_path_factory, spark_home: Path) -> Path:
    root = copy_example_project(tmp_path_factory.mktemp("example_on_spark"))
    settings = root / "mlmon_project.yml"
    text, count = re.subn(r'lake: \{type: spark, master: "local\[2\]"\}',
                          f'lake: {{type: spark, master: "local[2]", warehouse_dir: "{spark_home}"}}',
                          settings.read_text())
    assert count == 1, "the example project's `lake` target changed; update this fixture"
    settings.write_text(text)
    stores = root / "monitors" / "evaluation_stores.yml"
    stores.write_text(stores.read_text() + SAMPLED_STORE)
    for target in ("local", "lake"):
        started = time.perf_counter()
        # The partner's twelve monthly periods cost minutes of small Spark jobs on local[2]; the
        # tutorial's nodes are what this suite compares.
        code, output = mlmon_by_path(root, "build", "--target", target, "--exclude", "zone:partner_monitoring")
        assert code == 0, output
        print(f"build --target {target}: {time.perf_counter() - started:.1f} s")
    return root


@pytest.fixture(scope="module")
def lake(project: Path):
    """The project's Spark warehouse, opened as mlmon opens it."""
    from mlmon.config import RunConfig
    from mlmon.project.compiler import compile_project

    with compile_project(RunConfig(project_dir=project, target="lake")).open_warehouse(read_only=True) as warehouse:
        yield warehouse


def _close(a: object, b: object) -> bool:
    if a is None or b is None:
        return a is b
    x, y = float(a), float(b)
    return (math.isnan(x) and math.isnan(y)) or abs(x - y) <= 1e-9 * max(1.0, abs(x))


def test_every_metric_equals_the_duckdb_build(project: Path, lake) -> None:
    """Every metric of every store, the domain classifier's and the sampled store's included:
    samples are drawn in an order both engines compute bit for bit."""
    duck = {tuple(r[:3]): r[3:] for r in query_rows(project, LATEST_METRICS)}
    spark = {tuple(r[:3]): r[3:] for r in lake.con.execute(LATEST_METRICS).fetchall()}
    assert set(spark) == set(duck) and len(duck) > 200
    assert {"mes_for_a_sample", "mes_for_ground_truth", "mes_for_input_drift"} <= {k[0] for k in duck}
    assert any(k[1] == "data_drift" and duck[k][0] is not None for k in duck)
    different = {k: (duck[k], spark[k]) for k in duck if not all(_close(a, b) for a, b in zip(duck[k], spark[k]))}
    assert different == {}


def test_the_sampled_store_evaluated_a_sample(lake) -> None:
    row = lake.con.execute('SELECT n_rows, n_evaluated FROM "main"."mes_for_a_sample"').fetchone()
    assert tuple(row) == (2500, 1000)


def test_the_domain_classifier_agrees_given_the_same_sample_and_seed(project: Path, lake) -> None:
    """Every row of both sides (so the same sample on both engines) and the same seed."""
    from mlmon.metrics.domain import data_drift
    from mlmon.metrics.sqlsample import draw_hash_sample

    reference = '"mlmon"."ref_fraud_model_v1"'
    features = [*CATEGORICAL, "purchase_amount", "card_fico_score", "card_age", "days_active", "card_latitude"]
    numeric = [f for f in features if f not in CATEGORICAL]
    results = []
    for con in (duckdb_connection(project), lake.con):
        ref = draw_hash_sample(con, reference, features, features, 10_000, seed=3)
        cur = draw_hash_sample(con, '"main"."test_scored"', features, features, 10_000, seed=3)
        assert (len(ref), len(cur)) == (1500, 2500)
        results.append(data_drift(ref, cur, numeric, CATEGORICAL, 10_000, seed=3))
    duck, spark = results
    assert (duck.value, duck.lower, duck.upper, duck.pvalue) == (spark.value, spark.lower, spark.upper, spark.pvalue)
    assert duck.importance == spark.importance


def test_nodes_record_the_target_they_ran_on(project: Path, lake) -> None:
    on_spark = lake.con.execute("SELECT DISTINCT target, status FROM mlmon.node_results").fetchall()
    assert on_spark == [("lake", "success")]
    assert {r[0] for r in query_rows(project, "SELECT DISTINCT target FROM mlmon.node_results")} == {"local"}


def test_the_builds_log_rows_are_all_written(project: Path, lake) -> None:
    """Spark writes node results, node builds and check results once per build, not per node:
    each node, build and check still has its rows, as on DuckDB."""
    for query in ("SELECT node, count(*) FROM mlmon.node_results GROUP BY node ORDER BY node",
                  "SELECT node, count(*) FROM mlmon.node_builds GROUP BY node ORDER BY node",
                  'SELECT "check", count(*) FROM mlmon.check_results GROUP BY "check" ORDER BY 1'):
        on_spark = [tuple(r) for r in lake.con.execute(query).fetchall()]
        assert on_spark and on_spark == [tuple(r) for r in query_rows(project, query)], query


def test_tables_live_in_the_spark_catalog_for_any_spark_client(lake) -> None:
    spark = lake.con.spark
    user = {t.name for t in spark.catalog.listTables("main")}
    system = {t.name for t in spark.catalog.listTables("mlmon")}
    assert {"recent_labeled", "test_scored", "mes_for_input_drift", "mes_for_input_drift_feature_drift"} <= user
    assert {"evaluations", "metrics", "model_versions", "node_results", "check_results"} <= system
    # A BI tool on the lake reads the store view with plain Spark SQL.
    row = spark.sql("SELECT data_drift, n_rows FROM main.mes_for_input_drift").collect()[0]
    assert 0.0 <= row.data_drift <= 1.0 and row.n_rows == 2500


def test_scored_rows_match_duckdb_scoring(project: Path, lake) -> None:
    query = 'SELECT transaction_id, proba_1, prediction FROM "main"."test_scored" ORDER BY transaction_id'
    duck = query_rows(project, query)
    spark = lake.con.execute(query).fetchall()
    assert len(spark) == len(duck) == 2500
    assert all(a[0] == b[0] and _close(a[1], b[1]) and a[2] == b[2] for a, b in zip(duck, spark))


def test_show_and_model_commands_work_on_the_target(project: Path) -> None:
    code, output = mlmon(project, "show", "mes_for_input_drift", "--target", "lake")
    assert code == 0 and "data_drift" in output
    code, output = mlmon(project, "model", "activate", "fraud_model", "1", "--target", "lake")
    assert code == 0, output
    code, output = mlmon(project, "model", "versions", "fraud_model", "--target", "lake", "--output", "json")
    assert code == 0 and '"active": true' in output.replace(" ", " ")


def test_a_failed_build_keeps_the_previous_table(project: Path, lake) -> None:
    # The three months before 2099_01 have no files: recent_labeled fails and keeps its rows.
    code, output = mlmon(project, "build", "--target", "lake", "-s", "recent_labeled", "--vars", "{month: '2099_01'}")
    assert code == 1 and "2098_10" in output
    assert lake.con.execute('SELECT count(*) FROM "main"."recent_labeled"').fetchone()[0] == 7500


def test_a_second_writer_is_refused(project: Path, spark_home: Path) -> None:
    from mlmon.warehouse.spark import _write_lock

    held = _write_lock(spark_home)
    try:
        code, output = mlmon(project, "build", "--target", "lake", "-s", "recent_labeled")
    finally:
        held.close()
    assert code == 2 and "is being written by" in output and "(PID" in output


def test_an_evaluation_leaves_no_staged_or_cached_relation(project: Path, lake) -> None:
    """Scratch tables live as cached temporary views while the evaluation runs: once the command
    is over none is left, in the session or in the metastore, and the metrics are DuckDB's."""
    from mlmon.warehouse.spark_staged import VIEW_PREFIX

    code, output = mlmon(project, "build", "--target", "lake", "-s", "mes_for_ground_truth")
    assert code == 0, output
    spark = lake.con.spark
    assert [t.name for t in spark.catalog.listTables() if t.name.startswith(VIEW_PREFIX)] == []
    assert spark._jsparkSession.sharedState().cacheManager().isEmpty()
    assert [t.name for t in spark.catalog.listTables("mlmon_staging")] == []
    store = LATEST_METRICS + " AND m.store = 'mes_for_ground_truth'"
    duck = {tuple(r[:3]): r[3:] for r in query_rows(project, store)}
    again = {tuple(r[:3]): r[3:] for r in lake.con.execute(store).fetchall()}
    assert set(again) == set(duck) and len(duck) > 20
    assert all(_close(a, b) for k in duck for a, b in zip(duck[k], again[k]))
