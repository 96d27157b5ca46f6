"""Retrain nodes: firing on the latest check status, training on other data, promotion gates."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import query_rows


def _csv(n: int, label: str, seed: int) -> str:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 2))
    y = (x[:, 0] > 0) if label == "x1" else (x[:, 1] > 0)
    return "x1,x2,y\n" + "".join(f"{a:.4f},{b:.4f},{int(c)}\n" for (a, b), c in zip(x, y))


FILES = {
    # the active model learns y = x1 > 0 from `old`
    "data/old.csv": _csv(400, "x1", 1),
    # the rule changed: y = x2 > 0, which a retrain on `recent` learns and the old model cannot
    "data/recent.csv": _csv(400, "x2", 2),
    # the old rule, but too few rows for a tree of leaves of 20 to split: a retrain learns nothing
    "data/tiny.csv": _csv(30, "x1", 3),
    "models/m.yml": """
        datasets:
          - {name: old, files: data/old.csv}
          - {name: recent, files: data/recent.csv}
          - {name: tiny, files: data/tiny.csv}
        models:
          - {name: clf, data: old, target: y, params: {max_iter: 30}}
        """,
    "checks/c.yml": """
        checks:
          - {name: fails, sql: select x1 from recent}
          - {name: passes, sql: select x1 from recent where x1 > 1000}
          - {name: warns, sql: select x1 from recent, severity: warn}
        """,
}


def project(make_project, retrains: str) -> Path:
    return make_project({**FILES, "checks/r.yml": "retrains:\n" + retrains})


def versions(root: Path) -> list[tuple]:
    return query_rows(root, "SELECT version, active, training_dataset, metrics FROM mlmon.model_versions ORDER BY version")


def message(root: Path, node: str) -> str:
    return query_rows(root, "SELECT message FROM mlmon.node_results WHERE node = ? ORDER BY started_at DESC LIMIT 1", [node])[0][0]


def test_not_fired_when_the_checks_pass(make_project, mlmon):
    root = project(make_project, "  - {name: retrain, model: clf, when: [passes, warns], data: recent}\n")
    assert mlmon("build", "-s", "+retrain", project=root).exit_code == 0
    assert message(root, "retrain") == "not fired (passes OK, warns WARNING)"
    assert [v[0] for v in versions(root)] == [1]


def test_not_fired_when_the_check_never_ran(make_project, mlmon):
    root = project(make_project, "  - {name: retrain, model: clf, when: [fails]}\n")
    assert mlmon("build", "-s", "clf retrain", project=root).exit_code == 0
    assert message(root, "retrain") == "not fired (fails never run)"


def test_fires_on_error_and_trains_on_its_data(make_project, mlmon):
    root = project(make_project, "  - {name: retrain, model: clf, when: [passes, fails], data: recent}\n")
    result = mlmon("build", project=root)
    assert result.exit_code == 1  # the failed check; the retrain itself succeeded
    assert [(v[0], v[1], v[2]) for v in versions(root)] == [(1, False, "old"), (2, True, "recent")]
    assert message(root, "retrain").startswith("fired by fails ERROR: trained clf version 2 on recent (roc_auc ")
    assert message(root, "retrain").endswith("now active")
    # the latest status decides: the next build fires again, since the check still fails
    assert mlmon("build", "-s", "fails retrain", project=root).exit_code == 1
    assert len(versions(root)) == 3


@pytest.mark.parametrize(("on", "fired"), [("[ERROR]", False), ("[ERROR, WARNING]", True)])
def test_on_chooses_the_statuses_that_fire(make_project, mlmon, on, fired):
    root = project(make_project, f"  - {{name: retrain, model: clf, when: warns, on: {on}}}\n")
    assert mlmon("build", "-s", "+retrain", project=root).exit_code == 0
    assert len(versions(root)) == (2 if fired else 1)


def test_if_better_promotes_a_clearly_better_version(make_project, mlmon):
    root = project(make_project, "  - {name: retrain, model: clf, when: [fails], data: recent, promote: if_better}\n")
    assert mlmon("build", project=root).exit_code == 1
    (v1, v2) = versions(root)
    assert (v1[1], v2[1]) == (False, True)
    scores = json.loads(v2[3])
    assert scores["promotion_candidate_score"] > 0.9 > 0.7 > scores["promotion_active_score"]
    assert scores["promotion_active_version"] == 1 and scores["promoted"] == 1.0
    assert scores["promotion_candidate_score"] == scores["roc_auc"]  # the same held-out rows
    text = message(root, "retrain")
    assert "roc_auc on its 80 held-out rows: v2 " in text and " vs active v1 " in text
    assert text.endswith("promoted version 2")


def test_if_better_keeps_the_active_version_when_the_new_one_is_worse(make_project, mlmon):
    root = project(make_project, "  - {name: retrain, model: clf, when: [fails], data: tiny, promote: if_better}\n")
    assert mlmon("build", project=root).exit_code == 1
    (v1, v2) = versions(root)
    assert (v1[1], v2[1]) == (True, False)
    scores = json.loads(v2[3])
    assert scores["promotion_active_score"] > 0.9 and scores["promotion_candidate_score"] == 0.5
    assert scores["promoted"] == 0.0
    assert message(root, "retrain").endswith("kept version 1 active (version 2 is registered, inactive)")
    # the reference table of the rejected version is kept for audit
    assert query_rows(root, "SELECT count(*) FROM mlmon.ref_clf_v2")[0][0] == 6


def test_if_better_with_a_lower_is_better_metric(make_project, mlmon):
    root = project(make_project, "  - {name: retrain, model: clf, when: [fails], data: recent, promote: if_better,"
                                 " promote_metric: log_loss}\n")
    assert mlmon("build", project=root).exit_code == 1
    scores = json.loads(versions(root)[1][3])
    assert scores["promotion_candidate_score"] < scores["promotion_active_score"] and scores["promoted"] == 1.0


@pytest.mark.parametrize(("yml", "error"), [
    ("{name: r, model: clf, when: [fails], on: [FAIL]}", "`on` takes check statuses OK, WARNING, ERROR, EMPTY, got FAIL"),
    ("{name: r, model: clf, when: [fails], promote_metric: roc}", "unknown promote_metric 'roc'"),
    ("{name: r, model: clf, when: [fials]}", "unknown check 'fials' — did you mean 'fails'?"),
    ("{name: r, model: old, when: [fails]}", "'old' is a dataset, expected a model"),
    ("{name: r, model: clf, when: [fails], promote: sometimes}", "`promote` must be one of always, if_better"),
])
def test_configuration_errors(make_project, mlmon, yml, error):
    root = project(make_project, f"  - {yml}\n")
    result = mlmon("compile", project=root)
    assert result.exit_code == 2 and "checks/r.yml:2" in result.output and error in result.output, result.output
