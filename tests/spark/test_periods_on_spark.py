"""A model mlmon did not train, evaluated per month on Spark local mode and on DuckDB.

The standalone project (logged scores, outcomes joined by key, one evaluation per period) gets a
second store with segments; both stores are built on both engines, and every stored metric of
every period and segment must agree, the new statistics (two-sample chi-square, data quality,
label coverage, segments) included.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from mlmon.cli import cli
from mlmon.config import RunConfig
from mlmon.project.compiler import compile_project
from tests.conftest import query_rows
from tests.evaluation.standalone_project import add_segmented_store, write_standalone_project
from tests.spark.test_build_on_spark import _close

pytestmark = [pytest.mark.slow, pytest.mark.timeout(3600)]

METRICS = (
    "SELECT e.store, e.labels, m.metric, m.feature, m.segment, m.value, m.lower, m.upper "
    "FROM mlmon.metrics AS m JOIN mlmon.evaluations AS e ON e.evaluation_id = m.evaluation_id "
    "WHERE e.store IN ('monthly', 'by_category')"  # the Spark warehouse is shared with the other Spark tests
)
# The kept rows of each period: a seeded sample of KEPT_ROWS of its 600 rows.
KEPT_ROWS = 250
KEPT = ("SELECT e.labels, r.x1, r.x2, r.cat, r.is_fraud FROM mlmon.rows_monthly AS r "
        "JOIN mlmon.evaluations AS e ON e.evaluation_id = r.evaluation_id")


def _build(root: Path, target: str, *options: str) -> None:
    result = CliRunner().invoke(cli, ["build", "-s", "monthly", "by_category", "--target", target,
                                      "--project-dir", str(root), *options], catch_exceptions=False)
    assert result.exit_code == 0, result.output


def _kept(rows: list[tuple]) -> dict[str, list[tuple]]:
    out: dict[str, list[tuple]] = {}
    for labels, *values in rows:
        out.setdefault(json.loads(labels)["period"], []).append(tuple(values))
    return {period: sorted(values) for period, values in out.items()}


def _metrics(rows: list[tuple]) -> dict[tuple, tuple]:
    out = {}
    for store, labels, metric, feature, segment, *values in rows:
        period = json.loads(labels)["period"]
        out[(store, period, metric, feature, segment)] = tuple(values)
    return out


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("periods_on_spark") / "project"


@pytest.fixture(scope="module")
def builds(root: Path, spark_home: Path) -> tuple[tuple[dict, dict], tuple[dict, dict]]:
    write_standalone_project(root)
    settings = root / "mlmon_project.yml"
    settings.write_text(settings.read_text() + (
        "targets:\n  local: {type: duckdb, path: target/warehouse.duckdb}\n"
        f'  lake: {{type: spark, master: "local[2]", warehouse_dir: "{spark_home}"}}\n'
        f"settings:\n  evaluation_keep_rows: {KEPT_ROWS}\n"))
    add_segmented_store(root)
    _build(root, "local")
    _build(root, "lake")
    duck = _metrics(query_rows(root, METRICS)), _kept(query_rows(root, KEPT))
    with compile_project(RunConfig(project_dir=root, target="lake")).open_warehouse(read_only=True) as warehouse:
        spark = _metrics(warehouse.con.execute(METRICS).fetchall()), _kept(warehouse.con.execute(KEPT).fetchall())
    return duck, spark


def test_every_period_and_segment_metric_equals_duckdb(builds) -> None:
    (duck, _), (spark, _) = builds
    assert {k[1] for k in duck} == {"2019-04-01", "2019-05-01", "2019-06-01"}
    assert any(k[4] == "cat=a" for k in duck) and any(k[2] == "chi2_pvalue" for k in duck)
    assert any(k[2] == "label_coverage" for k in duck) and any(k[2] == "out_of_range_share" for k in duck)
    assert any(k[2] == "roc_auc" and duck[k][0] is not None for k in duck)
    assert any(k[2] == "average_precision" and duck[k][0] is not None for k in duck)
    assert set(spark) == set(duck)
    differ = [(k, duck[k], spark[k]) for k in duck if not all(_close(a, b) for a, b in zip(duck[k], spark[k]))]
    assert differ == []


def test_every_period_keeps_the_same_rows_as_on_duckdb(builds) -> None:
    (_, duck), (_, spark) = builds
    assert set(duck) == {"2019-04-01", "2019-05-01", "2019-06-01"}
    assert all(len(rows) == KEPT_ROWS for rows in duck.values())
    assert spark == duck


def test_a_later_build_evaluates_the_changed_months_alike_on_both_engines(builds, root: Path) -> None:
    """May's and June's outcomes change: each engine appends those two months, from a copy of
    their rows alone, and the new evaluations agree."""
    latest = METRICS + " AND e.invocation_id = (SELECT invocation_id FROM mlmon.evaluations ORDER BY created_at DESC LIMIT 1)"
    _build(root, "local", "--vars", "{wave: late}")
    _build(root, "lake", "--vars", "{wave: late}")
    duck = _metrics(query_rows(root, latest))
    with compile_project(RunConfig(project_dir=root, target="lake")).open_warehouse(read_only=True) as warehouse:
        spark = _metrics(warehouse.con.execute(latest).fetchall())
    assert {k[1] for k in duck} == {"2019-05-01", "2019-06-01"}
    assert set(spark) == set(duck)
    differ = [(k, duck[k], spark[k]) for k in duck if not all(_close(a, b) for a, b in zip(duck[k], spark[k]))]
    assert differ == []
