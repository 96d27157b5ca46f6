"""The commands through click's CliRunner: exit codes and what they print."""

from __future__ import annotations

import json

import pytest

from mlmon import __version__
from tests.run.test_build import FILES


@pytest.fixture
def project(make_project):
    return make_project(FILES)


def test_version(mlmon):
    result = mlmon("--version")
    assert result.exit_code == 0 and __version__ in result.output


def test_compile_writes_manifest_and_compiled_sql(project, mlmon):
    result = mlmon("compile", project=project)
    assert result.exit_code == 0, result.output
    manifest = json.loads((project / "target" / "manifest.json").read_text())
    assert manifest["metadata"]["project_name"] == "test_project"
    assert manifest["nodes"]["dataset.test_project.totals"]["tags"] == ["nightly"]
    assert manifest["nodes"]["dataset.test_project.tx"]["zone"] == "raw"
    assert manifest["zones"] == {"raw": ["tx"]}
    assert (project / "target" / "compiled" / "models" / "totals.sql").exists()
    assert not (project / "target" / "warehouse.duckdb").exists(), "compile never opens the warehouse"


def test_show_prints_tables_and_system_tables(project, mlmon):
    assert mlmon("build", project=project).exit_code == 0
    result = mlmon("show", "report", project=project)
    assert result.exit_code == 0, result.output
    assert "total" in result.output and "40" in result.output
    result = mlmon("show", "report", "--output", "json", "--limit", "1", project=project)
    data = json.loads(result.output)
    assert data["total_rows"] == 2 and len(data["rows"]) == 1
    result = mlmon("show", "mlmon.node_results", "--output", "json", project=project)
    assert json.loads(result.output)["total_rows"] == 4


def test_show_errors(project, mlmon):
    result = mlmon("show", "reprt", project=project)
    assert result.exit_code == 2 and "did you mean 'report'?" in result.output
    result = mlmon("show", "report", project=project)
    assert result.exit_code == 1 and "no warehouse" in result.output
    assert mlmon("build", project=project).exit_code == 0
    result = mlmon("show", "mlmon.nope", project=project)
    assert result.exit_code == 2 and "no system table 'mlmon.nope'" in result.output


def test_build_exit_codes(make_project, mlmon):
    ok = make_project({"models/a.sql": "select 1 as x\n"})
    assert mlmon("build", project=ok).exit_code == 0
    (ok / "models" / "a.sql").write_text("select error('no') as x\n")
    assert mlmon("build", project=ok).exit_code == 1
    (ok / "models" / "a.sql").write_text("select from where\n")
    assert mlmon("build", project=ok).exit_code == 2
    assert mlmon("build", "--bogus", project=ok).exit_code == 2


def test_show_reads_any_warehouse_relation_and_reference_tables(make_project, mlmon):
    root = make_project({"models/a.sql": "select 1 as x\n"})
    assert mlmon("build", project=root).exit_code == 0
    from mlmon.warehouse.duckdb import Warehouse

    with Warehouse(root / "target" / "warehouse.duckdb") as warehouse:
        warehouse.con.execute("CREATE VIEW a_extra AS SELECT x + 1 AS y FROM a")
        warehouse.con.execute("CREATE TABLE mlmon.ref_m_v1 AS SELECT 2 AS z")
    assert "y" in mlmon("show", "a_extra", project=root).output
    result = mlmon("show", "mlmon.ref_m_v1", "--output", "json", project=root)
    assert json.loads(result.output)["rows"] == [{"z": 2}]


def _strict(text: str):
    def refuse(constant: str):
        raise ValueError(f"not JSON: {constant}")

    return json.loads(text, parse_constant=refuse)


def test_json_output_is_strict_json_for_null_nan_and_infinities(make_project, mlmon):
    root = make_project({"models/odd.sql": "select * from (values (1, NULL::DOUBLE, 'nan'::DOUBLE, 'inf'::DOUBLE, "
                                           "'-inf'::DOUBLE, NULL::VARCHAR, NULL::TIMESTAMP), (2, 1.5, 2.0, 3.0, "
                                           "4.0, 'a', TIMESTAMP '2024-01-02 03:04:05')) as v(i, n, a, b, c, s, t)\n"})
    assert mlmon("build", project=root).exit_code == 0
    result = mlmon("show", "odd", "--output", "json", project=root)
    assert result.exit_code == 0, result.output
    rows = sorted(_strict(result.output)["rows"], key=lambda r: r["i"])
    assert rows[0] == {"i": 1, "n": None, "a": None, "b": None, "c": None, "s": None, "t": None}
    assert rows[1] == {"i": 2, "n": 1.5, "a": 2.0, "b": 3.0, "c": 4.0, "s": "a", "t": "2024-01-02T03:04:05"}
    for args in (("show", "mlmon.node_results", "--output", "json"), ("ls", "--output", "json")):
        result = mlmon(*args, project=root)
        assert result.exit_code == 0 and _strict(result.output)
    _strict((root / "target" / "run_results.json").read_text())
