"""Without Spark: SQL with no Spark translation is reported where it is written."""

from __future__ import annotations


def test_an_untranslatable_call_is_reported_at_its_line(make_project, mlmon) -> None:
    root = make_project({
        "mlmon_project.yml": "name: p\ntargets:\n  lake: {type: spark, master: 'local[1]'}\n",
        "models/x.sql": "select\n    1 as a,\n    2 as b,\n    glob('data/*.csv') as files\n",
    })
    result = mlmon("compile", "--target", "lake", project=root)
    assert result.exit_code == 2
    assert "models/x.sql:4:5: cannot run on Spark: the DuckDB function glob()" in result.output
