"""Dependencies: declared (YAML fields, ref()) and inferred from compiled SQL with sqlglot."""

from __future__ import annotations

import json

FILES = {
    "data/a.csv": "id,amount\n1,2\n",
    "models/sources.yml": "datasets:\n  - name: raw\n    files: data/a.csv\n",
    "models/clean.sql": "with raw as (select 1 as id)\nselect * from {{ ref('raw') }} as r\n",
    "models/joined.sql": "select c.*, m.value\nfrom clean c\nleft join mlmon.metrics m on true\n",
    "models/refd.sql": "select * from {{ ref('joined') }}\n",
}


def _edges(output: str) -> dict[str, list[tuple[str, bool]]]:
    return {n["name"]: [(d["name"], d["inferred"]) for d in n["depends_on"]["edges"]] for n in json.loads(output)}


def test_ls_json_marks_inferred_edges(make_project, mlmon):
    root = make_project(FILES)
    result = mlmon("ls", "--output", "json", project=root)
    assert result.exit_code == 0, result.output
    edges = _edges(result.output)
    # clean's CTE named raw shadows nothing: ref('raw') is the dataset (declared, not inferred)
    assert edges["clean"] == [("raw", False)]
    assert edges["joined"] == [("clean", True)]  # found in the SQL; mlmon.metrics is a system table
    assert edges["refd"] == [("joined", False)]


def test_cte_names_are_not_dependencies(make_project, mlmon):
    root = make_project({**FILES, "models/cte.sql": "with clean as (select 1 as x)\nselect * from clean\n"})
    edges = _edges(mlmon("ls", "--output", "json", project=root).output)
    assert edges["cte"] == []


def test_file_datasets_are_inlined_in_compiled_sql(make_project, mlmon):
    root = make_project(FILES)
    assert mlmon("compile", project=root).exit_code == 0
    compiled = (root / "target" / "compiled" / "models" / "clean.sql").read_text()
    assert "READ_CSV" in compiled and "data/a.csv" in compiled
    manifest = json.loads((root / "target" / "manifest.json").read_text())
    assert manifest["nodes"]["dataset.test_project.clean"]["compiled_code"] == compiled.rstrip("\n")
    assert manifest["order"].index("dataset.test_project.clean") < manifest["order"].index("dataset.test_project.joined")


def test_ls_selection_and_paths(make_project, mlmon):
    root = make_project(FILES)
    result = mlmon("ls", "-s", "+joined", "--exclude", "raw", project=root)
    assert result.output.split() == ["clean", "joined"]
    result = mlmon("ls", "-s", "joined+", "--output", "path", project=root)
    assert result.output.split() == ["models/joined.sql:1", "models/refd.sql:1"]
