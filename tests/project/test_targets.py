"""Targets in mlmon_project.yml: which one a command uses, and the errors for bad ones.

None of these start Spark: resolving a target and compiling for it never import pyspark.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from mlmon.config import RunConfig
from mlmon.errors import ConfigError, UsageError
from mlmon.project.loader import load_settings
from mlmon.warehouse.targets import resolve_target

TARGETS = """
targets:
  local: {type: duckdb, path: build/local.duckdb}
  lake: {type: spark, master: "local[2]", schema: monitoring, conf: {spark.sql.shuffle.partitions: 4}}
"""


def settings(make_project, extra: str = TARGETS):
    root = make_project({"mlmon_project.yml": "name: demo\n" + extra})
    return load_settings(root, {})


def test_without_targets_the_default_is_the_warehouse_file(make_project) -> None:
    target = resolve_target(settings(make_project, ""), None)
    assert (target.name, target.type) == ("duckdb", "duckdb")
    assert target.path.parts[-2:] == ("target", "warehouse.duckdb")


def test_without_target_key_the_first_duckdb_target_is_the_default(make_project) -> None:
    target = resolve_target(settings(make_project), None)
    assert (target.name, target.type, target.path.parts[-2:]) == ("local", "duckdb", ("build", "local.duckdb"))


def test_the_target_key_names_the_default(make_project) -> None:
    target = resolve_target(settings(make_project, "target: lake\n" + TARGETS), None)
    assert (target.name, target.type, target.master, target.schema) == ("lake", "spark", "local[2]", "monitoring")
    assert dict(target.conf) == {"spark.sql.shuffle.partitions": "4"}
    assert target.warehouse_dir.parts[-2:] == ("target", "spark") and not target.is_connect


def test_a_spark_connect_url_is_a_remote_target(make_project) -> None:
    target = resolve_target(settings(make_project, 'targets: {cluster: {type: spark, master: "sc://spark:15002"}}'), "cluster")
    assert target.is_connect and target.type == "spark"


def test_an_unknown_target_names_the_known_ones(make_project) -> None:
    with pytest.raises(UsageError) as error:
        resolve_target(settings(make_project), "laek")
    assert "targets: local, lake" in str(error.value) and "lake" in str(error.value.hint)


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("{type: postgres}", "needs `type: duckdb` or `type: spark`"),
        ('{type: spark, mastr: "local[2]"}', "unknown key `mastr`"),
        ("{type: spark, conf: [a]}", "`conf` must be a mapping"),
    ],
)
def test_a_bad_target_is_a_config_error(make_project, spec: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message) as error:
        resolve_target(settings(make_project, f"targets: {{bad: {spec}}}"), "bad")
    assert error.value.location.path == "mlmon_project.yml"


def test_every_command_takes_target(make_project, mlmon) -> None:
    root = make_project({"mlmon_project.yml": "name: demo\n" + TARGETS, "models/a.sql": "select 1 as x"})
    # `compile --target lake` asks a Spark session to check the SQL: tests/spark covers it, in
    # a process whose Spark session belongs to that suite's warehouse.
    for command in (["ls"], ["compile"], ["build", "--dry-run"]):
        if command != ["compile"]:
            assert mlmon(*command, "--target", "lake", project=root).exit_code == 0
        result = mlmon(*command, "--target", "nope", project=root)
        assert result.exit_code == 2 and "no target named 'nope'" in result.output


def test_sql_that_spark_cannot_run_is_reported_at_compile_time(make_project, mlmon) -> None:
    root = make_project({"mlmon_project.yml": "name: demo\n" + TARGETS, "models/files.sql": "select *\nfrom glob('*.csv')"})
    result = mlmon("compile", "--target", "lake", project=root)
    assert result.exit_code == 2
    assert "models/files.sql:1" in result.output and "glob()" in result.output
    assert mlmon("compile", project=root).exit_code == 0  # DuckDB runs it as written


def test_duckdb_builds_never_import_pyspark(make_project) -> None:
    root = make_project({"mlmon_project.yml": "name: demo\n" + TARGETS, "models/a.sql": "select 1 as x"})
    code = (
        "import sys\nfrom mlmon.config import RunConfig\nfrom mlmon.project.compiler import compile_project\n"
        "from mlmon.run.progress import Progress\nfrom mlmon.run.runner import build\n"
        f"project = compile_project(RunConfig(project_dir={str(root)!r}))\n"
        f"build(project, RunConfig(project_dir={str(root)!r}), Progress())\n"
        "assert 'pyspark' not in sys.modules, 'pyspark was imported'\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert (Path(root) / "build" / "local.duckdb").exists()


def test_run_config_carries_the_target() -> None:
    assert RunConfig(project_dir=".", target="lake").target == "lake"
