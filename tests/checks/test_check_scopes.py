"""Checks over every feature, a segment, every evaluation of one command, and learnt bounds,
built through the real CLI on metrics the test writes (so expected values are computed here)."""

from __future__ import annotations

import numpy as np
import pytest

from mlmon.checks.store_checks import ALL_FEATURES, _checked_metric_rows
from mlmon.warehouse.duckdb import Warehouse
from tests.checks.conftest import hours_ago
from tests.conftest import query_rows


def _results(root, check: str) -> list[tuple]:
    return query_rows(root, 'SELECT evaluation_id, feature, value, status, message FROM mlmon.check_results '
                      'WHERE "check" = ? ORDER BY checked_at, evaluation_id, feature', [check])


def _node(root, node: str) -> tuple[str, str]:
    return query_rows(root, "SELECT status, message FROM mlmon.node_results WHERE node = ? "
                      "ORDER BY started_at DESC LIMIT 1", [node])[0]


# -- feature: "*" ---------------------------------------------------------------------------------


def test_every_feature_gives_one_result_and_the_worst_status(check_project, seed, mlmon):
    root = check_project("""
        checks:
          - {name: none_drifted, store: drift, metric: drifted, feature: "*", max: 0}
          - {name: psi_everywhere, store: drift, metric: psi, feature: "*", soft_max: 0.1, max: 0.2}
        """)
    evaluation_id = seed(root, "drift", {("drifted", "amount"): 0.0, ("drifted", "x"): 1.0, ("drifted", "y"): 0.0,
                                         ("psi", "amount"): 0.05, ("psi", "x"): 0.15, "drifted": 9.0})
    result = mlmon("build", "-s", "type:check", project=root)
    assert result.exit_code == 1, result.output
    assert _results(root, "none_drifted") == [
        (evaluation_id, "amount", 0.0, "OK", "drifted[amount] = 0 (within max 0)"),
        (evaluation_id, "x", 1.0, "ERROR", "drifted[x] = 1 > max 0"),
        (evaluation_id, "y", 0.0, "OK", "drifted[y] = 0 (within max 0)"),
    ]  # the global `drifted` row is not a feature
    assert _node(root, "none_drifted") == ("fail", "ERROR: 2 OK, 1 ERROR of 3 results; drifted[x] = 1 > max 0")
    assert [r[3] for r in _results(root, "psi_everywhere")] == ["OK", "WARNING"]
    assert _node(root, "psi_everywhere")[0] == "warn"
    (stamps,) = query_rows(root, "SELECT count(DISTINCT checked_at) FROM mlmon.check_results "
                           "WHERE \"check\" = 'none_drifted'")[0]
    assert stamps == 1


def test_every_feature_with_no_per_feature_value_is_empty(check_project, seed, mlmon):
    root = check_project('checks:\n  - {name: c, store: drift, metric: psi, feature: "*", max: 0.2}\n')
    evaluation_id = seed(root, "drift", {"psi": 0.5})
    assert mlmon("build", "-s", "c", project=root).exit_code == 0
    assert _results(root, "c") == [(evaluation_id, "*", None, "EMPTY",
                                    "no metric psi for any feature in the latest evaluation of drift")]


def test_a_retrain_fires_on_the_worst_result_of_the_latest_run(check_project, seed, mlmon):
    root = check_project("""
        checks:
          - {name: none_drifted, store: drift, metric: drifted, feature: "*", max: 0}
        retrains:
          - {name: retrain, model: clf, when: [none_drifted]}
        """)
    assert mlmon("build", "-s", "clf", project=root).exit_code == 0
    # the ERROR is on the first feature: the run's newest-looking row is OK
    seed(root, "drift", {("drifted", "a"): 1.0, ("drifted", "b"): 0.0, ("drifted", "c"): 0.0})
    assert mlmon("build", "-s", "none_drifted retrain", project=root).exit_code == 1
    assert "fired by none_drifted ERROR" in _node(root, "retrain")[1]


# -- segment: -------------------------------------------------------------------------------------


def test_a_segment_is_checked_apart_from_all_rows(check_project, seed, mlmon):
    root = check_project("""
        checks:
          - {name: eu, store: drift, metric: data_drift, segment: "region=EU", max: 0.7}
          - {name: us, store: drift, metric: data_drift, segment: "region=US", max: 0.7}
          - {name: everyone, store: drift, metric: data_drift, max: 0.7}
          - {name: eu_psi, store: drift, metric: psi, feature: "*", segment: "region=EU", max: 0.2}
        """)
    seed(root, "drift", {"data_drift": 0.55, ("psi", "amount"): 0.3},
         segments={"region=EU": {"data_drift": 0.91, ("psi", "amount"): 0.1}, "region=US": {}})
    assert mlmon("build", "-s", "type:check", project=root).exit_code == 1
    assert _results(root, "eu")[0][2:] == (0.91, "ERROR", "data_drift in segment region=EU = 0.91 > max 0.7")
    assert _results(root, "everyone")[0][2:4] == (0.55, "OK")
    assert _results(root, "us")[0][3:] == ("EMPTY", "no metric data_drift in segment region=US in the latest "
                                                    "evaluation of drift")
    assert [r[1:4] for r in _results(root, "eu_psi")] == [("amount", 0.1, "OK")]


# -- several evaluations in one command ------------------------------------------------------------


def test_every_evaluation_of_the_latest_command_gets_a_result(check_project, seed, mlmon):
    root = check_project("checks:\n  - {name: c, store: drift, metric: data_drift, max: 0.7}\n")
    seed(root, "drift", {"data_drift": 0.95}, created_at=hours_ago(5))  # an older command: not checked
    months = ["2019-01-01", "2019-02-01", "2019-03-01"]
    ids = [seed(root, "drift", {"data_drift": v}, created_at=hours_ago(3 - i), invocation_id="one-build",
                labels=f'{{"period": "{m}"}}') for i, (m, v) in enumerate(zip(months, [0.5, 0.8, 0.6]))]
    assert mlmon("build", "-s", "c", project=root).exit_code == 1
    rows = query_rows(root, "SELECT evaluation_id, status, message FROM mlmon.check_results ORDER BY message")
    assert rows == [
        (ids[0], "OK", "evaluation period=2019-01-01: data_drift = 0.5 (within max 0.7)"),
        (ids[1], "ERROR", "evaluation period=2019-02-01: data_drift = 0.8 > max 0.7"),
        (ids[2], "OK", "evaluation period=2019-03-01: data_drift = 0.6 (within max 0.7)"),
    ]
    assert _node(root, "c")[0] == "fail"


# -- learnt bounds --------------------------------------------------------------------------------

HISTORY = [0.50, 0.52, 0.47, 0.55, 0.51, 0.49, 0.53]  # oldest first


def _seed_history(root, seed, values, feature=None):
    key = "data_drift" if feature is None else ("psi", feature)
    return [seed(root, "drift", {key: v}, created_at=hours_ago(100 - i)) for i, v in enumerate(values)]


@pytest.mark.parametrize("latest", [0.52, 0.60, 0.40])
def test_learnt_bounds_equal_mean_and_sample_std_of_the_history(check_project, seed, mlmon, latest):
    root = check_project("checks:\n  - {name: c, store: drift, metric: data_drift, bounds: {history: 5, std: 2}}\n")
    _seed_history(root, seed, HISTORY)
    seed(root, "drift", {"data_drift": None})  # holds no value: not part of the history
    newest = seed(root, "drift", {"data_drift": latest})
    mlmon("build", "-s", "c", project=root)
    window = HISTORY[-5:]
    mean, sd = float(np.mean(window)), float(np.std(window, ddof=1))
    expected = "ERROR" if not mean - 2 * sd <= latest <= mean + 2 * sd else "OK"
    ((evaluation_id, _, value, status, message),) = _results(root, "c")
    assert (evaluation_id, value, status) == (newest, latest, expected)
    assert f"learnt min {mean - 2 * sd:.6g} and max {mean + 2 * sd:.6g}" in message
    assert f"mean {mean:.6g} ± 2 × sample std {sd:.6g} of the 5 evaluations before this one" in message


def test_learnt_bounds_are_empty_until_three_earlier_values(check_project, seed, mlmon):
    root = check_project("checks:\n  - {name: c, store: drift, metric: data_drift, bounds: {history: 12, std: 3}}\n")
    _seed_history(root, seed, [0.5, float("nan"), 0.52, float("inf")])  # no number, no history
    seed(root, "drift", {"psi": 0.1})  # an evaluation without the metric does not count
    seed(root, "drift", {"data_drift": 0.99})
    assert mlmon("build", "-s", "c", project=root).exit_code == 0
    assert _results(root, "c")[0][3:] == ("EMPTY", "learnt bounds need 3 earlier evaluations holding data_drift, "
                                                   "found 2")


def test_learnt_bounds_with_soft_bounds_per_feature_and_per_period(check_project, seed, mlmon):
    root = check_project("""
        checks:
          - {name: c, store: drift, metric: psi, feature: "*", soft_max: 0.12, bounds: {history: 4, std: 3}}
        """)
    history = {"a": [0.10, 0.11, 0.09, 0.10], "b": [0.30, 0.20, 0.25, 0.35]}
    for i in range(4):
        seed(root, "drift", {("psi", f): v[i] for f, v in history.items()}, created_at=hours_ago(50 - i))
    latest = [{"a": 0.115, "b": 0.5}, {"a": 0.2, "b": 0.28}]  # two periods of one build
    for i, values in enumerate(latest):
        seed(root, "drift", {("psi", f): v for f, v in values.items()}, created_at=hours_ago(2 - i),
             invocation_id="periods", labels=f'{{"period": "2019-0{i + 1}-01"}}')
    mlmon("build", "-s", "c", project=root)

    def status(values, value):
        mean, sd = np.mean(values), np.std(values, ddof=1)
        if not mean - 3 * sd <= value <= mean + 3 * sd:
            return "ERROR"
        return "WARNING" if value > 0.12 else "OK"

    expected = []
    for i, values in enumerate(latest):  # the second period's history holds the first period
        for f in ("a", "b"):
            window = (history[f] + [latest[0][f]])[-4:] if i else history[f]
            expected.append((f, values[f], status(window, values[f])))
    got = query_rows(root, "SELECT feature, value, status FROM mlmon.check_results ORDER BY message")
    assert sorted(got) == sorted(expected)
    assert {s for _, _, s in expected} >= {"OK", "WARNING", "ERROR"}, "the case covers every status"


@pytest.mark.parametrize(("yml", "error"), [
    ("- {name: c, store: drift, metric: m, bounds: {history: 2, std: 3}}",
     "checks/checks.yml:3: `bounds.history` must be a whole number of at least 3 evaluations, got 2"),
    ("- {name: c, store: drift, metric: m, bounds: {history: 12, std: 0}}",
     "checks/checks.yml:3: `bounds.std` must be a number above 0, got 0"),
    ("- {name: c, store: drift, metric: m, bounds: {history: 12, std: -2}}", "must be a number above 0, got -2"),
    ("- {name: c, store: drift, metric: m, bounds: {histroy: 12, std: 3}}",
     "checks/checks.yml:3: unknown key `histroy` in `bounds` — did you mean 'history'?"),
    ("- {name: c, store: drift, metric: m, max: 1, bounds: {history: 12, std: 3}}",
     "learnt `bounds:` set min and max; remove `max:`"),
    ("- {name: c, store: drift, metric: m, values: [1], bounds: {history: 12, std: 3}}",
     "give bounds or `values:`, not both"),
    ("- {name: c, store: drift, metric: m, segment: EU, max: 1}", "`segment` must read column=value, got 'EU'"),
    ("- {name: c, sql: select 1, bounds: {history: 12, std: 3}}", "a SQL check takes `sql:` alone, without `bounds:`"),
])
def test_configuration_errors_of_learnt_bounds_and_segments(check_project, mlmon, yml, error):
    root = check_project(f"checks:\n\n  {yml}\n")
    result = mlmon("compile", project=root)
    assert result.exit_code == 2 and error in result.output, result.output


# -- one statement per store ------------------------------------------------------------------


class _Recording:
    """A connection that keeps the text of every statement it runs."""

    def __init__(self, con) -> None:
        self.con, self.statements = con, []

    def execute(self, sql, params=None):
        self.statements.append(sql)
        return self.con.execute(sql, params)


def test_every_check_of_a_store_reads_it_with_the_same_statement(check_project, seed):
    """The text does not depend on the metric, feature or segment checked, so a connection that
    keeps answers (Spark's) reads the store once for all its checks; the rows are still the
    checked metric's only."""
    root = check_project('checks:\n  - {name: c, store: drift, metric: psi, max: 1}\n')
    older = seed(root, "drift", {"psi": 0.5}, created_at=hours_ago(2))
    latest = seed(root, "drift", {("psi", "x"): 0.2, ("psi", "amount"): 0.1, "psi": 0.3, "drifted": 1.0},
                  segments={"region=north": {"psi": 0.7}})
    with Warehouse(root / "target" / "warehouse.duckdb", read_only=True) as wh:
        recording = _Recording(wh.con)
        answers = [_checked_metric_rows(recording, "drift", metric, feature, segment)
                   for metric, feature, segment in [("psi", None, None), ("psi", ALL_FEATURES, None),
                                                    ("psi", None, "region=north"), ("drifted", "x", None),
                                                    ("nothing", None, None)]]
    assert len(set(recording.statements)) == 1
    assert [[(e.evaluation_id, values) for e, values in answer] for answer in answers] == [
        [(latest, [(None, 0.3)])],
        [(latest, [("amount", 0.1), ("x", 0.2)])],
        [(latest, [(None, 0.7)])],
        [(latest, [])],
        [(latest, [])],
    ]
    assert older not in {e.evaluation_id for answer in answers for e, _ in answer}
