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
    headline, detail = message(root, "retrain").split("\n")[:2]
    assert headline == "fired → v2 promoted (only 80 unseen rows, under 200; promote: always)"
    assert detail.startswith("fired by fails ERROR; trained v2 on recent (400 rows from 1 file)")
    # the latest status decides: the next build fires again, since the check still fails
    assert mlmon("build", "-s", "fails retrain", project=root).exit_code == 1
    assert len(versions(root)) == 3


@pytest.mark.parametrize(("on", "fired"), [("[ERROR]", False), ("[ERROR, WARNING]", True)])
def test_on_chooses_the_statuses_that_fire(make_project, mlmon, on, fired):
    root = project(make_project, f"  - {{name: retrain, model: clf, when: warns, on: {on}}}\n")
    assert mlmon("build", "-s", "+retrain", project=root).exit_code == 0
    assert len(versions(root)) == (2 if fired else 1)


def test_if_better_promotes_a_clearly_better_version(make_project, mlmon):
    root = project(make_project, "  - {name: retrain, model: clf, when: [fails], data: recent, promote: if_better,"
                                 " min_unseen_rows: 50}\n")
    result = mlmon("build", project=root)
    assert result.exit_code == 1
    (v1, v2) = versions(root)
    assert (v1[1], v2[1]) == (False, True)
    scores = json.loads(v2[3])
    assert scores["promotion_candidate_score"] > 0.9 > 0.7 > scores["promotion_active_score"]
    assert scores["promotion_active_version"] == 1 and scores["promoted"] == 1.0
    # v1 never saw `recent`, so all of v2's held-out rows are unseen by both: the same rows as its test metrics
    assert scores["promotion_candidate_score"] == scores["roc_auc"]
    text = message(root, "retrain")
    assert text.startswith("fired → v2 promoted (roc_auc v2 ") and " on 80 unseen rows)" in text
    # the build line tells the decision
    assert "retrain retrain [" in result.output and "— fired → v2 promoted (roc_auc v2" in result.output
    (promotion,) = query_rows(root, "SELECT promotion FROM mlmon.model_versions WHERE version = 2")[0]
    promotion = json.loads(promotion)
    assert promotion["decision"] == "promoted" and promotion["rows"] == 80 == promotion["rows_held_out"]
    assert promotion["challenger_score"] == scores["promotion_candidate_score"]


def test_if_better_keeps_the_active_version_when_the_new_one_is_worse(make_project, mlmon):
    root = project(make_project, "  - {name: retrain, model: clf, when: [fails], data: tiny, promote: if_better,"
                                 " min_unseen_rows: 5}\n")
    assert mlmon("build", project=root).exit_code == 1
    (v1, v2) = versions(root)
    assert (v1[1], v2[1]) == (True, False)
    scores = json.loads(v2[3])
    assert scores["promotion_active_score"] > 0.9 and scores["promotion_candidate_score"] == 0.5
    assert scores["promoted"] == 0.0
    assert message(root, "retrain").split("\n")[0].endswith("on 6 unseen rows; v2 registered inactive)")
    assert message(root, "retrain").startswith("fired → kept v1 (roc_auc v2 0.500 vs v1 ")
    # the reference table of the rejected version is kept for audit
    assert query_rows(root, "SELECT count(*) FROM mlmon.ref_clf_v2")[0][0] == 6


def test_too_few_unseen_rows_keep_the_active_version_with_a_warning(make_project, mlmon):
    root = project(make_project, "  - {name: retrain, model: clf, when: [fails], data: recent, promote: if_better}\n")
    result = mlmon("build", project=root)
    (v1, v2) = versions(root)
    assert (v1[1], v2[1]) == (True, False)
    assert message(root, "retrain").startswith("fired → kept v1 (only 80 unseen rows, under 200; promote: if_better)")
    assert "warning: only 80 labelled rows neither v2 nor v1 was trained on (min_unseen_rows: 200)" in result.output
    (promotion,) = query_rows(root, "SELECT promotion FROM mlmon.model_versions WHERE version = 2")[0]
    assert json.loads(promotion)["decision"] == "kept"


def test_if_better_with_a_lower_is_better_metric(make_project, mlmon):
    root = project(make_project, "  - {name: retrain, model: clf, when: [fails], data: recent, promote: if_better,"
                                 " promote_metric: log_loss, min_unseen_rows: 50}\n")
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


# -- a fair comparison: rows neither version trained on ---------------------------------------


def _period(n: int, concept: str, seed: int, noise: float = 0.2) -> str:
    """y = x1 > 0 before the drift, x2 > 0 after it; a fifth of the labels flipped, so that a
    model that memorises its training rows scores far better on them than on any other."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 3))
    y = (x[:, 0] > 0) if concept == "old" else (x[:, 1] > 0)
    y = np.where(rng.random(n) < noise, ~y, y)
    return "x1,x2,x3,y\n" + "".join(f"{a:.4f},{b:.4f},{c:.4f},{int(d)}\n" for (a, b, c), d in zip(x, y))


DRIFT = {
    "data/p1.csv": _period(1000, "old", 11),
    "data/p2.csv": _period(1000, "new", 12),  # the drift: both retrain windows hold this period
    "data/p3.csv": _period(500, "new", 13),
    "data/p4.csv": _period(300, "new", 14),  # the newest period the store evaluated
    "models/m.yml": """
        datasets:
          - {name: window_a, files: [data/p1.csv, data/p2.csv]}
          - {name: window_b, files: [data/p2.csv, data/p3.csv]}
          - {name: newest, files: data/p4.csv}
        models:
          # a forest of fully grown trees memorises its training rows, label noise included
          - {name: clf, data: window_a, target: y, estimator: sklearn.ensemble.RandomForestClassifier,
             params: {n_estimators: 40}}
        """,
}


def _score_held_out(root: Path, version: int) -> float:
    """`version`'s roc_auc on v2's whole held-out set: the comparison a retrain used to make."""
    from mlmon.ml.promotion import score_version
    from mlmon.ml.registry import ModelRegistry
    from mlmon.warehouse.duckdb import Warehouse

    with Warehouse(root / "target" / "warehouse.duckdb", read_only=True) as wh:
        models = ModelRegistry(wh, root)
        held_out = wh.query_df("SELECT * FROM mlmon.ref_clf_v2")
        return score_version(models, models.get("clf", version), held_out, "roc_auc")


@pytest.mark.parametrize("with_store", [False, True])
def test_the_challenger_wins_on_rows_the_champion_has_not_memorised(make_project, mlmon, with_store):
    checks = "checks:\n  - {name: fails, sql: select x1 from window_b}\n"
    when = "fails"
    if with_store:
        checks = ("evaluations:\n  - {name: perf, model: clf, data: newest}\n"
                  "checks:\n  - {name: auc, store: perf, metric: roc_auc, min: 0.99}\n")
        when = "auc"
    root = make_project({**DRIFT, "checks/c.yml": checks, "checks/r.yml": (
        f"retrains:\n  - {{name: retrain, model: clf, when: [{when}], data: window_b, promote: if_better,"
        " min_unseen_rows: 100}\n")})
    assert mlmon("build", project=root).exit_code == 1
    (v1, v2) = versions(root)
    promotion = json.loads(query_rows(root, "SELECT promotion FROM mlmon.model_versions WHERE version = 2")[0][0])
    # v1 was fitted on most of p2, which is in v2's held-out rows: judged there, v1 wins on memory
    assert _score_held_out(root, 1) > _score_held_out(root, 2)
    # on the rows neither was fitted on, the challenger wins, and is promoted
    assert promotion["decision"] == "promoted" and (v1[1], v2[1]) == (False, True)
    assert promotion["challenger_score"] > promotion["champion_score"] + 0.03
    assert promotion["rows_left_out"] > 100  # v2's held-out rows that v1 trained on
    assert promotion["rows"] == promotion["rows_newest"] + promotion["rows_held_out"] >= 100
    assert promotion["rows_newest"] == (300 if with_store else 0)
    assert len(promotion["evaluations"]) == (1 if with_store else 0)
    # the training rows of each version are recorded, one fingerprint per distinct row
    counts = dict(query_rows(root, "SELECT version, count(*) FROM mlmon.training_rows GROUP BY version"))
    assert counts == {1: 1600, 2: 1200}


# -- what a version learnt from, and stale inputs ----------------------------------------------

STALE = {
    "mlmon_project.yml": "name: stale\nvars:\n  month: '01'\n",
    "data/m01.csv": _period(300, "old", 21),
    "data/m02.csv": _period(300, "new", 22),
    "models/recent.sql": "select * from read_csv('data/m{{ var(\"month\") }}.csv')\n",
    "models/m.yml": """
        models:
          - {name: clf, data: recent, target: y, params: {max_iter: 20}}
        """,
    "checks/r.yml": """
        checks:
          - {name: fails, sql: select x1 from recent}
        retrains:
          - {name: retrain, model: clf, when: [fails], data: recent}
        """,
}


def test_a_version_names_the_files_and_vars_it_learnt_from(make_project, mlmon):
    root = make_project(STALE)
    assert mlmon("build", "--vars", "{month: '02'}", project=root).exit_code == 1
    rows = query_rows(root, "SELECT version, training_dataset, training_files, training_vars, data_fingerprint, "
                            "n_train + n_test FROM mlmon.model_versions ORDER BY version")
    for version, dataset, files, vars_json, fingerprint, n in rows:
        assert dataset == "recent" and n == 300 and len(fingerprint) == 16
        assert [f["path"] for f in json.loads(files)] == ["data/m02.csv"]
        assert json.loads(vars_json) == {"month": "02"}
    assert rows[0][4] == rows[1][4]  # the same rows, the same data fingerprint
    result = mlmon("model", "versions", "clf", project=root)
    assert result.exit_code == 0 and "m02.csv" in result.output and rows[0][4] in result.output


def test_reading_a_table_built_for_other_vars_warns_or_fails(make_project, mlmon):
    root = make_project(STALE)
    assert mlmon("build", "-s", "+clf", project=root).exit_code == 0
    (built,) = query_rows(root, "SELECT vars, files FROM mlmon.node_builds WHERE node = 'recent'")
    assert json.loads(built[0]) == {"month": "01"}
    assert [f["path"] for f in json.loads(built[1])] == ["data/m01.csv"]
    assert mlmon("build", "-s", "fails", project=root).exit_code == 1

    # the same vars: nothing to say
    result = mlmon("build", "-s", "retrain", project=root)
    assert "was built for" not in result.output
    # another month, without rebuilding `recent`: the retrain would learn from January
    warning = "recent was built for month=01; this build has month=02 — add + to rebuild it (mlmon build -s +retrain)"
    result = mlmon("build", "-s", "retrain", "--vars", "{month: '02'}", project=root)
    assert result.exit_code == 0 and f"warning: {warning}" in result.output
    assert warning in message(root, "retrain")
    result = mlmon("build", "-s", "retrain", "--vars", "{month: '02'}", "--strict-upstream", project=root)
    assert result.exit_code == 1
    assert f"stale upstream (--strict-upstream): {warning}" in message(root, "retrain")
    assert len(versions(root)) == 3  # the refused build trained nothing
    # rebuilding it with + clears the warning
    result = mlmon("build", "-s", "+retrain", "--vars", "{month: '02'}", "--strict-upstream", project=root)
    assert "was built for" not in result.output
    assert len(versions(root)) == 4
    newest = query_rows(root, "SELECT training_vars FROM mlmon.model_versions ORDER BY version DESC LIMIT 1")[0][0]
    assert json.loads(newest) == {"month": "02"}


def test_a_scenario_step_can_refuse_stale_upstream_tables(make_project, mlmon):
    root = make_project({**STALE, "monitors/s.yml": "scenarios:\n  - name: retrain_only\n"
                                                    "    steps:\n      - {name: retrain, build: retrain}\n"})
    assert mlmon("build", project=root).exit_code == 1  # the failing check, built for month 01
    result = mlmon("scenario", "run", "retrain_only", "--vars", "{month: '02'}", project=root)
    assert result.exit_code == 0 and "warning: recent was built for month=01" in result.output
    result = mlmon("scenario", "run", "retrain_only", "--vars", "{month: '02'}", "--strict-upstream", project=root)
    assert result.exit_code == 1
    (outcome, text) = query_rows(root, "SELECT outcome, message FROM mlmon.scenario_steps "
                                       "ORDER BY started_at DESC LIMIT 1")[0]
    assert outcome == "FAILED" and "stale upstream (--strict-upstream): recent was built for month=01" in text
