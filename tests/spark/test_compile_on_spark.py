"""`mlmon compile --target <spark>` asks Spark's own function registry about every call."""

from __future__ import annotations

from pathlib import Path

SQL = """select
    id,
    upper(name) as name,
    regexp_full_match(name, 'a.*') as starts_with_a
from {{ ref('people') }}
"""


def _project(make_project, spark_home: Path, sql: str) -> Path:
    return make_project({
        "mlmon_project.yml": f"name: p\ntargets:\n  lake: {{type: spark, master: 'local[2]', "
                             f"warehouse_dir: '{spark_home}'}}\n",
        "models/people.sql": "select 1 as id, 'ann' as name\n",
        "models/x.sql": sql,
    })


def test_a_function_spark_lacks_is_reported_at_its_line_and_column(make_project, mlmon, spark_home: Path) -> None:
    root = _project(make_project, spark_home, SQL)
    result = mlmon("compile", "--target", "lake", project=root)
    assert result.exit_code == 2, result.output
    assert "models/x.sql:4:5" in result.output and "regexp_full_match" in result.output


def test_sql_spark_can_run_compiles(make_project, mlmon, spark_home: Path) -> None:
    root = _project(make_project, spark_home, SQL.replace("regexp_full_match(name, 'a.*')", "regexp_like(name, 'a.*')"))
    result = mlmon("compile", "--target", "lake", project=root)
    assert result.exit_code == 0, result.output
