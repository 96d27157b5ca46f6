"""The vars and files a node depends on, as compiled."""

from __future__ import annotations

from mlmon.config import RunConfig
from mlmon.project.compiler import compile_project
from mlmon.run.lineage import BuildInputs, build_inputs, stale_message, stale_vars, var_dependencies


def test_vars_and_files_a_node_depends_on(make_project):
    root = make_project({
        "mlmon_project.yml": "name: p\nvars:\n  month: '01'\n  region: eu\n  unused: 1\n",
        "data/tx_01.csv": "x,y\n1,0\n2,1\n",
        "data/extra.csv": "x,y\n3,0\n",
        "models/src.yml": """
            datasets:
              - {name: tx, files: "data/tx_{{ var('month') }}.csv"}
            models:
              - {name: clf, data: tx, target: y}
            scores:
              - {name: scored, model: clf, data: tx}
            """,
        "models/joined.sql": "select * from tx union all select * from read_csv('data/extra.csv') "
                             "where '{{ var(\"region\") }}' = 'eu'\n",
        "models/downstream.sql": "select * from joined\n",
    })
    project = compile_project(RunConfig(project_dir=root))
    assert var_dependencies(project, "tx") == {"month"}
    assert var_dependencies(project, "joined") == {"month", "region"}
    assert var_dependencies(project, "downstream") == {"month", "region"}  # through its upstream
    inputs = build_inputs(project, "joined")
    assert inputs.vars == {"month": "01", "region": "eu"}
    assert sorted(f["path"] for f in inputs.files) == ["data/extra.csv", "data/tx_01.csv"]
    assert build_inputs(project, "downstream").files == []  # it reads a table, which records its own
    assert [f["path"] for f in build_inputs(project, "scored").files] == ["data/tx_01.csv"]


def test_stale_vars_compare_recorded_values_with_this_build():
    built = BuildInputs(vars={"month": "2017_05", "count": 3}, files=[])
    assert stale_vars(built, {"month": "2017_05", "count": 3, "other": 1}) == []
    (stale,) = stale_vars(built, {"month": "2017_13", "count": 3})
    assert stale_message("recent_labeled", "retrain", [stale]) == (
        "recent_labeled was built for month=2017_05; this build has month=2017_13 — add + to rebuild it "
        "(mlmon build -s +retrain)")
