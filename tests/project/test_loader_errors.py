"""Every configuration error names its file and line, all are reported at once, nothing is written."""

from __future__ import annotations

import pytest

CSV = "id,amount,cat\n1,10.5,a\n2,20,b\n"

CASES = [
    pytest.param(
        {"models/a.yml": "datasets:\n  - name: a\n    files: data/a.csv\n    fromat: csv\n"},
        ["models/a.yml:4: unknown key 'fromat' for a dataset — did you mean 'format'?"],
        id="unknown-key",
    ),
    pytest.param(
        {"models/a.yml": "datasets:\n  - name: a\n   files: data/a.csv\n"},
        ["models/a.yml:3:4: invalid YAML"],
        id="broken-yaml",
    ),
    pytest.param(
        {"models/a.yml": "datasets:\n  - name: a\n    files: data/a.csv\n    files: data/b.csv\n"},
        ["models/a.yml:4:5: invalid YAML: duplicate key 'files'"],
        id="duplicate-key",
    ),
    pytest.param(
        {"models/a.yml": "dataset:\n  - name: a\n    files: data/a.csv\n"},
        ["models/a.yml:1: unknown node kind 'dataset' — did you mean 'datasets'?"],
        id="unknown-kind",
    ),
    pytest.param(
        {"models/a.yml": "datasets:\n  - name: a\n    files: data/a.csv\n",
         "models/m.yml": "models:\n  - name: fraud_model\n    data: a\n    target: id\n",
         "monitors/s.yml": "scores:\n  - name: s\n    model: fraud_modle\n    data: a\n"},
        ["monitors/s.yml:3: unknown model 'fraud_modle' — did you mean 'fraud_model'?"],
        id="unknown-reference",
    ),
    pytest.param(
        {"models/a.yml": "datasets:\n  - name: a\n    files: data/a.csv\n",
         "monitors/s.yml": "scores:\n  - name: s\n    model: a\n    data: a\n"},
        ["monitors/s.yml:3: 'a' is a dataset, expected a model"],
        id="wrong-kind-reference",
    ),
    pytest.param(
        {"models/a.yml": "datasets:\n  - name: a\n    files: data/a.csv\n",
         "models/b.yml": "\n\ndatasets:\n  - name: a\n    files: data/a.csv\n"},
        ["models/b.yml:4: duplicate node name 'a' — also defined at models/a.yml:2"],
        id="duplicate-name",
    ),
    pytest.param(
        {"models/a.yml": "datasets:\n  - name: Bad-Name\n    files: data/a.csv\n"},
        ["models/a.yml:2: invalid or missing node name 'Bad-Name'"],
        id="bad-name",
    ),
    pytest.param(
        {"models/x.sql": "select * from y\n", "models/y.sql": "select 1 as a\nunion all\nselect * from z\n",
         "models/z.sql": "select * from x\n"},
        ["models/x.sql:1: dependency cycle: x -> z -> y -> x"],
        id="cycle",
    ),
    pytest.param(
        {"models/x.sql": "select *\nfrom a\nwhere (id = \n"},
        ["models/x.sql:3:"],
        id="sql-syntax",
    ),
    pytest.param(
        {"models/a.yml": "datasets:\n  - name: a\n    files: data/a.csv\n",
         "models/x.sql": "with t as (select 1)\nselect *\nfrom a join aa on true join t on true\n"},
        ["models/x.sql:3:13: unknown table 'aa' — did you mean 'a'?"],
        id="unknown-table",
    ),
    pytest.param(
        {"models/x.sql": "select *\nfrom mlmon.metricz\n"},
        ["models/x.sql:2:12: unknown system table 'mlmon.metricz' — did you mean 'metrics'?"],
        id="unknown-system-table",
    ),
    pytest.param(
        {"models/x.sql": "select 1 as a\n-- {{ var('mnth') }}\n"},
        ["models/x.sql:2: undefined var 'mnth' — did you mean 'month'?"],
        id="undefined-var",
    ),
    pytest.param(
        {"models/x.sql": "select 1 as a\n{{ no_such_macro() }}\n"},
        ["models/x.sql:2: Jinja: 'no_such_macro' is undefined"],
        id="undefined-macro",
    ),
    pytest.param(
        {"models/a.yml": "datasets:\n  - name: a\n    files: \"data/{{ var('nope') }}.csv\"\n"},
        ["models/a.yml:3: undefined var 'nope'"],
        id="undefined-var-in-yaml",
    ),
    pytest.param(
        {"models/a.yml": "datasets:\n  - name: a\n    files: data/a.csv\n",
         "models/m.yml": "models:\n  - name: m\n    data: a\n    target: id\n    test_size: lots\n"},
        ["models/m.yml:5: `test_size` must be a number, got 'lots'"],
        id="wrong-type",
    ),
    pytest.param(
        {"models/a.yml": "datasets:\n  - name: a\n    files: data/a.csv\n",
         "monitors/e.yml": "evaluations:\n  - name: e\n    model: m\n    data: a\n    reference: trainig\n",
         "models/m.yml": "models:\n  - name: m\n    data: a\n    target: id\n"},
        ["monitors/e.yml:5: `reference` must be one of training, first, previous or a dataset or score node, got 'trainig' — did you mean 'training'?"],
        id="bad-choice",
    ),
    pytest.param(
        {"models/m.yml": "models:\n  - name: m\n    target: id\n"},
        ["models/m.yml:2: model 'm' needs `data:`"],
        id="missing-required",
    ),
]


@pytest.mark.parametrize("files, expected", CASES)
def test_configuration_error_names_file_and_line(make_project, mlmon, files, expected):
    root = make_project({"data/a.csv": CSV, **files})
    result = mlmon("compile", project=root)
    assert result.exit_code == 2, result.output
    for text in expected:
        assert text in result.output
    assert not (root / "target").exists(), "a configuration error must write nothing"


def test_all_errors_are_reported_at_once_and_build_writes_nothing(make_project, mlmon):
    root = make_project({
        "data/a.csv": CSV,
        "models/a.yml": "datasets:\n  - name: a\n    files: data/a.csv\n    fromat: csv\n",
        "models/x.sql": "select * from nope\n",
        "monitors/s.yml": "scores:\n  - name: s\n    model: missing\n    data: a\n",
    })
    result = mlmon("build", project=root)
    assert result.exit_code == 2
    assert "models/a.yml:4: unknown key 'fromat'" in result.output
    assert "models/x.sql:1:15: unknown table 'nope'" in result.output
    assert "monitors/s.yml:3: unknown model 'missing'" in result.output
    assert "errors in the project; nothing was run" in result.output
    assert not (root / "target").exists()


def test_missing_project_file_is_a_usage_error(tmp_path, mlmon):
    result = mlmon("compile", project=tmp_path)
    assert result.exit_code == 2
    assert "no mlmon_project.yml found" in result.output


def test_vars_must_be_a_mapping(make_project, mlmon):
    root = make_project({})
    result = mlmon("compile", "--vars", "[1, 2]", project=root)
    assert result.exit_code == 2
    assert "--vars must be a YAML mapping" in result.output
