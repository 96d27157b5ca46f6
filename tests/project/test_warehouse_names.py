"""Warehouse file names that BI clients could not read are configuration errors, at their line."""

from __future__ import annotations

import pytest

from mlmon.errors import ConfigError
from mlmon.project.loader import load_settings
from mlmon.warehouse.targets import DEFAULT_STORAGE_VERSION, resolve_target


def _resolve(make_project, project_yml: str, target: str | None = None):
    root = make_project({"mlmon_project.yml": project_yml})
    return resolve_target(load_settings(root, {}), target)


@pytest.mark.parametrize("stem", ["mlmon", "main", "system", "temp", "memory", "MLMON"])
def test_a_stem_clashing_with_a_schema_or_catalog_is_refused_at_the_warehouse_line(make_project, stem):
    with pytest.raises(ConfigError) as info:
        _resolve(make_project, f"name: demo\nvars: {{}}\nwarehouse: target/{stem}.duckdb\n")
    assert str(info.value.location) == "mlmon_project.yml:3"
    assert f"'{stem}.duckdb' would open as a database named '{stem}'" in str(info.value)
    assert "warehouse.duckdb" in str(info.value)  # the fix


def test_a_clashing_target_path_is_reported_at_the_targets_line(make_project):
    yml = "name: demo\ntargets:\n  local:\n    type: duckdb\n    path: out/main.db\n"
    with pytest.raises(ConfigError) as info:
        _resolve(make_project, yml)
    assert str(info.value.location) == "mlmon_project.yml:5"
    assert "'main'" in str(info.value)


def test_the_cli_reports_the_clash_and_writes_nothing(make_project, mlmon):
    root = make_project({"mlmon_project.yml": "name: demo\nwarehouse: target/mlmon.duckdb\n",
                         "models/a.sql": "select 1 as x\n"})
    result = mlmon("build", project=root)
    assert result.exit_code == 2
    assert "error: mlmon_project.yml:2: the warehouse file 'mlmon.duckdb'" in result.output
    assert not (root / "target").exists()


def test_storage_version_defaults_to_duckdb_1_4_and_a_target_may_change_it(make_project):
    assert _resolve(make_project, "name: demo\n").storage_version == DEFAULT_STORAGE_VERSION == "v1.4.0"
    target = _resolve(make_project, "name: demo\ntargets:\n  local: {type: duckdb, storage_version: v1.5.0}\n")
    assert target.storage_version == "v1.5.0"


def test_other_names_are_fine(make_project):
    for name in ("warehouse.duckdb", "mlmon_prod.duckdb", "monitoring.db"):
        assert _resolve(make_project, f"name: demo\nwarehouse: target/{name}\n").path.name == name
