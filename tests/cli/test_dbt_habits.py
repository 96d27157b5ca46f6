"""What dbt users type and read: `-s a b`, `mlmon test`, typed --vars, env_var() in the project
file, and artifacts in dbt's shapes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import query_rows

FILES = {
    "mlmon_project.yml": """
        name: habits
        vars:
          month: "2017_04"
          limit: 10
          ratio: 0.5
          strict: false
        """,
    "data/tx.csv": "id,amount\n1,5\n2,-1\n3,20\n",
    "models/sources.yml": """
        datasets:
          - name: tx
            files: data/tx.csv
        checks:
          - name: no_negative
            sql: "select * from tx where amount < 0"
          - name: below_limit
            sql: "select * from tx where amount > {{ var('limit') }}"
            severity: warn
        """,
    "models/a.sql": "select '{{ var(\"month\") }}' as month, {{ var('limit') }} as lim, {{ var('ratio') }} as ratio\n",
    "models/b.sql": "select * from a\n",
    "models/c.sql": "select 1 as x\n",
}


@pytest.fixture
def project(make_project) -> Path:
    return make_project(FILES)


def test_select_and_exclude_take_space_separated_selectors(project, mlmon):
    assert mlmon("ls", "-s", "a", "c", project=project).output.split() == ["a", "c"]
    assert mlmon("ls", "--select", "a", "c", "-s", "tx", project=project).output.split() == ["a", "c", "tx"]
    result = mlmon("ls", "-s", "a+", "c", "--exclude", "b", "c", "--output", "name", project=project)
    assert result.output.split() == ["a"]
    result = mlmon("build", "-s", "a", "c", project=project)
    assert result.exit_code == 0, result.output
    assert sorted(r[0] for r in query_rows(project, "SELECT node FROM mlmon.node_results")) == ["a", "c"]


def test_mlmon_test_runs_the_checks_of_the_selection(project, mlmon):
    assert mlmon("build", "-s", "tx", "a", project=project).exit_code == 0
    result = mlmon("test", project=project)
    assert result.exit_code == 1, result.output  # no_negative finds a row
    results = json.loads((project / "target" / "run_results.json").read_text())
    assert {r["node"]: r["status"] for r in results["results"]} == {"no_negative": "fail", "below_limit": "warn"}
    assert results["args"]["command"] == "test"
    result = mlmon("test", "-s", "below_limit", project=project)
    assert result.exit_code == 0 and "no_negative" not in result.output
    result = mlmon("test", "-s", "tx", "--exclude", "no_negative", project=project)  # checks reading tx
    assert result.exit_code == 0 and "below_limit" in result.output and "no_negative" not in result.output
    result = mlmon("test", "-s", "c", project=project)
    assert result.exit_code == 0 and "nothing to test" in result.output
    statuses = query_rows(project, 'SELECT "check", status FROM mlmon.check_results ORDER BY checked_at')
    assert ("no_negative", "ERROR") in statuses and ("below_limit", "WARNING") in statuses
    nodes = {r[0] for r in query_rows(project, "SELECT DISTINCT node FROM mlmon.node_results")}
    assert nodes == {"tx", "a", "no_negative", "below_limit"}, "mlmon test builds no dataset"


def test_vars_take_the_type_of_the_declared_default(project, mlmon):
    result = mlmon("build", "-s", "a", "--vars", "{month: 2017_05, limit: '7', ratio: 1, strict: yes}", project=project)
    assert result.exit_code == 0, result.output
    assert query_rows(project, "SELECT month, lim, ratio FROM a") == [("2017_05", 7, 1.0)]
    # a string default keeps the text exactly, leading zeros too
    assert mlmon("build", "-s", "a", "--vars", "{month: 05}", project=project).exit_code == 0
    assert query_rows(project, "SELECT month FROM a") == [("05",)]
    # undeclared vars are read as YAML reads them
    from mlmon.project.vars import parse_cli_vars, typed_vars

    typed = typed_vars({"month": "2017_04", "n": 1}, parse_cli_vars("{month: 2017_05, n: 0x10, other: 2017_05, q: '3', l: [1, a]}"))
    assert typed == {"month": "2017_05", "n": 16, "other": 201705, "q": "3", "l": [1, "a"]}


def test_a_var_that_cannot_take_its_declared_type_is_a_usage_error(project, mlmon):
    result = mlmon("build", "--vars", "{limit: lots}", project=project)
    assert result.exit_code == 2
    assert "`limit` must be an integer like its default 10" in result.output
    assert "quote the value" in result.output
    assert not (project / "target").exists()


def test_env_var_is_rendered_in_the_project_file(make_project, mlmon, monkeypatch):
    root = make_project({
        **FILES,
        "mlmon_project.yml": """
            name: habits
            warehouse: "{{ env_var('MLMON_TEST_WAREHOUSE_DIR', 'target') }}/warehouse.duckdb"
            vars:
              month: "{{ env_var('MLMON_TEST_MONTH', '2017_04') }}"
              limit: 10
              ratio: 0.5
            """,
    })
    monkeypatch.setenv("MLMON_TEST_WAREHOUSE_DIR", "out")
    monkeypatch.setenv("MLMON_TEST_MONTH", "2017_09")
    assert mlmon("build", "-s", "a", project=root).exit_code == 0
    assert not any("{{" in p.name for p in root.iterdir())
    assert (root / "out" / "warehouse.duckdb").exists()
    import duckdb

    con = duckdb.connect(str(root / "out" / "warehouse.duckdb"), read_only=True)
    assert con.execute("SELECT month FROM a").fetchall() == [("2017_09",)]
    con.close()


def test_an_unset_env_var_in_the_project_file_names_its_line(make_project, mlmon):
    root = make_project({"mlmon_project.yml": "name: habits\nvars:\n  month: \"{{ env_var('MLMON_SURELY_UNSET') }}\"\n"})
    result = mlmon("ls", project=root)
    assert result.exit_code == 2
    assert "mlmon_project.yml:3: environment variable 'MLMON_SURELY_UNSET' is not set" in result.output


def test_artifacts_have_dbt_shapes(project, mlmon):
    assert mlmon("build", "-s", "+b", project=project).exit_code == 0
    manifest = json.loads((project / "target" / "manifest.json").read_text())
    results = json.loads((project / "target" / "run_results.json").read_text())
    invocation = results["metadata"]["invocation_id"]
    assert manifest["metadata"]["invocation_id"] == invocation
    assert manifest["metadata"]["mlmon_schema_version"] and manifest["metadata"]["generated_at"].endswith("Z")
    node = manifest["nodes"]["dataset.habits.b"]
    assert node["unique_id"] == "dataset.habits.b" and node["resource_type"] == "dataset"
    assert node["depends_on"]["nodes"] == ["dataset.habits.a"]
    assert node["original_file_path"] == "models/b.sql" and node["fqn"] == ["habits", "models", "b"]
    assert manifest["parent_map"]["dataset.habits.b"] == ["dataset.habits.a"]
    assert "dataset.habits.b" in manifest["child_map"]["dataset.habits.a"]
    assert manifest["nodes"]["check.habits.no_negative"]["depends_on"]["nodes"] == ["dataset.habits.tx"]
    assert set(results) >= {"metadata", "args", "elapsed_time", "results"}
    assert results["args"]["select"] == ["+b"]
    by_id = {r["unique_id"]: r for r in results["results"]}
    assert set(by_id) == {"dataset.habits.a", "dataset.habits.b"}  # tx is read from its file, not built
    a = by_id["dataset.habits.a"]
    assert a["status"] == "success" and a["execution_time"] >= 0 and a["message"] is not None
    assert [t["name"] for t in a["timing"]] == ["compile", "execute"]
    assert all(t["started_at"] <= t["completed_at"] for t in a["timing"])
    assert a["adapter_response"]["rows_affected"] == 1
    assert a["failures"] is None
    assert mlmon("test", "-s", "no_negative", project=project).exit_code == 1
    (check,) = json.loads((project / "target" / "run_results.json").read_text())["results"]
    assert check["unique_id"] == "check.habits.no_negative" and check["failures"] == 1


def test_a_refused_command_writes_no_artifact(project, mlmon):
    broken = project / "models" / "broken.yml"
    broken.write_text("datasets:\n  - name: z\n    filez: x.csv\n")
    assert mlmon("build", project=project).exit_code == 2
    assert mlmon("test", project=project).exit_code == 2
    assert not (project / "target").exists()
