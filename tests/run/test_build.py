"""Builds through the real CLI into a real DuckDB file: order, selection, swaps, statuses, results."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import query_rows

FILES = {
    "data/tx_01.csv": "id,amount,cat\n1,10.5,a\n2,20,b\n3,,a\n",
    "data/tx_02.csv": "id,amount,cat\n4,11.5,c\n5,500,c\n",
    "models/sources.yml": """
        datasets:
          - name: tx
            files: "data/tx_{{ var('month') }}.csv"
            zone: raw
          - name: totals
            description: totals per category
            tags: [nightly]
        """,
    "models/totals.sql": """
        {{ config(materialized='table') }}
        with t as (select * from tx)
        select cat, {{ double('sum(amount)') }} as total,
               max(case when amount > {{ var('limit', 1000) }} then error('amount over limit') else amount end) as biggest
        from t group by cat
        """,
    "models/report.sql": "select * from {{ ref('totals') }} order by cat\n",
    "models/enriched.py": """
        def dataset(ctx):
            frame = ctx.ref("totals")
            frame["month"] = ctx.var("month")
            return frame
        """,
    "macros/double.sql": "{% macro double(x) %}2 * {{ x }}{% endmacro %}\n",
}




@pytest.fixture
def project(make_project) -> Path:
    return make_project(FILES)


def test_full_build_runs_in_dependency_order(project, mlmon):
    result = mlmon("build", project=project)
    assert result.exit_code == 0, result.output
    assert query_rows(project, "SELECT cat, total FROM main.report") == [("a", 21.0), ("b", 40.0)]
    assert query_rows(project, "SELECT DISTINCT month FROM main.enriched") == [("01",)]
    nodes = [r[0] for r in query_rows(project, "SELECT node FROM mlmon.node_results ORDER BY started_at")]
    assert nodes.index("tx") < nodes.index("totals") < nodes.index("report")
    assert nodes.index("totals") < nodes.index("enriched")
    results = json.loads((project / "target" / "run_results.json").read_text())
    assert {r["node"]: r["status"] for r in results["results"]} == {
        "tx": "success", "totals": "success", "report": "success", "enriched": "success"}
    assert results["invocation_id"] and results["elapsed"] >= 0
    assert results["args"]["command"] == "build"
    assert {r["node"]: r["rows"] for r in results["results"]}["totals"] == 2


def test_non_recursive_build_needs_upstream_in_the_warehouse(project, mlmon):
    result = mlmon("build", "-s", "report", project=project)
    assert result.exit_code == 1
    assert "upstream dataset 'totals' is not available" in result.output
    assert "select `+report`" in result.output
    assert mlmon("build", "-s", "+report", project=project).exit_code == 0
    result = mlmon("build", "-s", "report", project=project)
    assert result.exit_code == 0, result.output
    assert query_rows(project, "SELECT count(*) FROM mlmon.node_results WHERE node = 'report' AND status = 'success'") == [(2,)]


def test_file_datasets_are_read_at_use_time(project, mlmon):
    assert mlmon("build", project=project).exit_code == 0
    result = mlmon("build", "-s", "totals", "--vars", "{month: '02'}", project=project)
    assert result.exit_code == 0, result.output
    assert query_rows(project, "SELECT cat, total FROM main.totals") == [("c", 1023.0)]
    # report was not selected: it keeps what it was built from
    assert query_rows(project, "SELECT cat FROM main.report") == [("a",), ("b",)]


def test_failed_build_keeps_the_previous_table_and_skips_descendants(project, mlmon):
    assert mlmon("build", project=project).exit_code == 0
    result = mlmon("build", "--vars", "{limit: 15}", project=project)
    assert result.exit_code == 1
    assert "amount over limit" in result.output
    assert query_rows(project, "SELECT cat, total FROM main.totals ORDER BY cat") == [("a", 21.0), ("b", 40.0)]
    statuses = dict(query_rows(project, "SELECT node, status FROM mlmon.node_results "
                                  "WHERE invocation_id = (SELECT invocation_id FROM mlmon.node_results ORDER BY started_at DESC LIMIT 1)"))
    assert statuses == {"tx": "success", "totals": "error", "report": "skipped", "enriched": "skipped"}
    tables = [r[0] for r in query_rows(project, "SELECT table_name FROM information_schema.tables WHERE table_catalog = current_database()")]
    assert not [t for t in tables if "staging" in t]


def test_fail_fast_stops_after_the_first_error(make_project, mlmon):
    root = make_project({
        "models/a_bad.sql": "select error('broken') as x\n",
        "models/b_fine.sql": "select 1 as x\n",
    })
    result = mlmon("build", project=root)
    assert result.exit_code == 1
    assert "b_fine" in result.output and "OK" in result.output
    result = mlmon("build", "--fail-fast", project=root)
    assert result.exit_code == 1
    assert "--fail-fast" in result.output
    results = json.loads((root / "target" / "run_results.json").read_text())["results"]
    assert [(r["node"], r["status"]) for r in results] == [("a_bad", "error"), ("b_fine", "skipped")]


def test_dry_run_prints_the_plan_and_writes_nothing(project, mlmon):
    result = mlmon("build", "--dry-run", "-s", "+report", project=project)
    assert result.exit_code == 0
    lines = [line.split()[4] for line in result.output.strip().splitlines()]
    assert lines == ["tx", "totals", "report"]
    assert not (project / "target" / "warehouse.duckdb").exists()


def test_views_are_materialized_as_views(make_project, mlmon):
    root = make_project({"models/v.sql": "{{ config(materialized='view') }}\nselect 42 as answer\n"})
    assert mlmon("build", project=root).exit_code == 0
    assert query_rows(root, "SELECT table_type FROM information_schema.tables WHERE table_name = 'v'") == [("VIEW",)]


def test_missing_files_fail_the_dataset_node(project, mlmon):
    result = mlmon("build", "--vars", "{month: '09'}", project=project)
    assert result.exit_code == 1
    assert "no file matches 'data/tx_09.csv'" in result.output


def test_python_dataset_errors_are_node_errors(make_project, mlmon):
    root = make_project({"models/p.py": "def dataset(ctx):\n    return 42\n"})
    result = mlmon("build", project=root)
    assert result.exit_code == 1
    assert "dataset() returned int, expected a pandas DataFrame" in result.output


def test_unknown_selection_is_a_usage_error(project, mlmon):
    result = mlmon("build", "-s", "totls", project=project)
    assert result.exit_code == 2
    assert "did you mean 'totals'?" in result.output
