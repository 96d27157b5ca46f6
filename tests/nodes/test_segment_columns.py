"""`segments:` columns are checked at compile time wherever the files tell the columns (a file
dataset, a score of one, a file reference), each error at the line of its entry; data whose
columns only a build knows (a SQL dataset) is checked when the evaluation starts, also naming
the file and line, before anything is written."""

from __future__ import annotations

import numpy as np
import pytest

from tests.conftest import query_rows


def _csv(n: int, seed: int) -> str:
    rng = np.random.default_rng(seed)
    x1 = rng.normal(size=n)
    score = 1 / (1 + np.exp(-x1))
    region = rng.choice(["north", "south"], n)
    outcome = (rng.random(n) < score).astype(int)
    return "id,x1,region,score,y\n" + "".join(f"{i},{a:.4f},{r},{p:.4f},{t}\n"
                                              for i, (a, r, p, t) in enumerate(zip(x1, region, score, outcome)))


DATA = {
    "data/train.csv": _csv(200, 1),
    "data/logged.csv": _csv(200, 2),
    "models/m.yml": """
        datasets:
          - {name: train, files: data/train.csv}
          - {name: logged, files: data/logged.csv}
        models:
          - {name: clf, data: train, target: y, features: [x1], params: {max_iter: 50}}
        scores:
          - {name: scored, model: clf, data: logged}
        """,
    # a table only a build makes: its columns are not known at compile time
    "models/logged_without_region.sql": "select * exclude (region) from logged\n",
}



def _project(make_project, monitors: str):
    return make_project({**DATA, "monitors/e.yml": monitors})


def _logged_store(make_project, data: str, reference: str, *segments: str):
    """A store of the logged scores, its `segments:` a block list from line 9 on."""
    entries = "".join(f"\n              - {s}" for s in segments)
    return _project(make_project, f"""
        evaluations:
          - name: by_region
            data: {data}
            reference: {reference}
            predictions: {{proba: score}}
            target: y
            segments:{entries}
        """)


def test_each_unknown_segment_is_a_compile_error_at_its_entry(make_project, mlmon):
    root = _logged_store(make_project, "logged", "train", "region", "regoin")
    result = mlmon("compile", project=root)
    assert result.exit_code == 2, result.output
    assert ("monitors/e.yml:10: segment column 'regoin' is not a column of data 'logged' — did you mean 'region'? "
            "segment by one of its columns: id, region, score, x1, y") in result.output
    assert "monitors/e.yml:10: segment column 'regoin' is not a column of reference 'train'" in result.output
    assert "segment column 'region'" not in result.output  # the column that exists is not reported
    assert not (root / "target" / "warehouse.duckdb").exists()


def test_a_score_of_a_file_holds_the_files_columns_and_the_models_outputs(make_project, mlmon):
    root = _project(make_project, """
        evaluations:
          - {name: by_prediction, model: clf, data: scored, segments: [prediction, region]}
          - {name: by_typo, model: clf, data: scored, segments: [regio]}
        """)
    result = mlmon("compile", project=root)
    assert result.exit_code == 2, result.output
    assert "monitors/e.yml:4: segment column 'regio' is not a column of data 'scored' (rows of 'logged')" in result.output
    assert "prediction" not in result.output  # a score's output is a column of its rows


def test_columns_only_a_build_knows_are_checked_when_the_evaluation_starts(make_project, mlmon):
    root = _logged_store(make_project, "logged_without_region", "logged", "x1", "region")
    assert mlmon("compile", project=root).exit_code == 0
    result = mlmon("build", "-s", "+by_region", project=root)
    assert result.exit_code == 1, result.output
    assert ("monitors/e.yml:10: segment column 'region' is not a column of data 'logged_without_region' — "
            "segment by one of its columns: id, score, x1, y") in result.output
    assert query_rows(root, "SELECT count(*) FROM mlmon.evaluations") == [(0,)]


@pytest.mark.parametrize("segments", [("region",), ("x1", "region")])
def test_columns_the_files_hold_compile(make_project, mlmon, segments):
    root = _logged_store(make_project, "logged", "train", *segments)
    result = mlmon("compile", project=root)
    assert result.exit_code == 0, result.output


def test_a_reference_only_a_build_knows_is_checked_at_the_segments_entry(make_project, mlmon):
    root = _logged_store(make_project, "logged", "logged_without_region", "region")
    assert mlmon("compile", project=root).exit_code == 0
    result = mlmon("build", "-s", "+by_region", project=root)
    assert result.exit_code == 1, result.output
    assert "monitors/e.yml:8: segment column region not in the reference rows" in " ".join(result.output.split())
    assert query_rows(root, "SELECT count(*) FROM mlmon.evaluations") == [(0,)]
