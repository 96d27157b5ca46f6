"""Binary performance of many periods in grouped SQL equals `classification_metrics` of each
period's rows, and scikit-learn's, to 1e-9.

The periods cover tied scores, a single class, no label at all, missing probabilities, a label
the model does not know, scores at 0 and 1 (log loss clipping) and logged predictions with an
unknown or missing value; each is ranked both ways (distinct scores counted first, or rows
ranked themselves). The number of statements does not grow with the number of periods.
"""

from __future__ import annotations

from datetime import date

import duckdb
import numpy as np
import pandas as pd
import pytest
from sklearn import metrics as skm

from mlmon.metrics.grouped import Groups
from mlmon.metrics.grouped_performance import grouped_binary_performance, rank_rows
from mlmon.metrics.labels import canonical_label
from mlmon.metrics.performance import classification_metrics
from tests.metrics.test_grouped import CountingConnection, RecordingConnection

PERIOD = "__period"
CLASSES = ["no", "yes"]


def _frame(rng: np.random.Generator, n: int, shift: float, decimals: int | None = None) -> pd.DataFrame:
    y = rng.random(n) < 0.3 + shift / 3
    p = np.clip(rng.normal(0.35 + 0.3 * y + shift / 5, 0.2), 0.0, 1.0)
    if decimals is not None:
        p = np.round(p, decimals)  # many ties
    said = np.where(rng.random(n) < 0.8, np.where(p >= 0.5, "yes", "no"), np.where(p >= 0.5, "no", "yes"))
    return pd.DataFrame({"y": np.where(y, "yes", "no").astype(object), "proba_yes": p, "proba_no": 1.0 - p,
                         "prediction": said.astype(object)})


def _periods(rng: np.random.Generator) -> dict[date, pd.DataFrame]:
    tied = _frame(rng, 800, 0.0, decimals=1)
    tied.loc[::11, "y"] = None  # missing labels
    tied.loc[::13, "proba_yes"] = np.nan  # missing probabilities
    tied.loc[::17, "y"] = "maybe"  # a label the model does not know
    tied.loc[::19, "prediction"] = "maybe"  # a logged label the model does not know
    tied.loc[::23, "prediction"] = None
    single = _frame(rng, 50, 0.0)
    single["y"] = "no"
    unlabelled = _frame(rng, 30, 0.0)
    unlabelled["y"] = None
    edges = _frame(rng, 300, 0.4, decimals=2)
    edges.loc[::5, "proba_yes"] = 1.0
    edges.loc[1::5, "proba_yes"] = 0.0
    edges["proba_no"] = 1.0 - edges["proba_yes"]
    return {date(2021, 1, 1): tied, date(2021, 2, 1): _frame(rng, 600, 0.5), date(2021, 3, 1): single,
            date(2021, 4, 1): unlabelled, date(2021, 5, 1): edges, date(2021, 6, 1): _frame(rng, 1, 0.0)}


@pytest.fixture(scope="module")
def data() -> tuple[duckdb.DuckDBPyConnection, dict[date, pd.DataFrame]]:
    periods = _periods(np.random.default_rng(11))
    frame = pd.concat([f.assign(**{PERIOD: d}) for d, f in periods.items()], ignore_index=True)
    con = duckdb.connect()
    con.register("frame", frame)
    con.execute(f'CREATE TABLE rows AS SELECT * EXCLUDE ("{PERIOD}"), CAST("{PERIOD}" AS DATE) AS "{PERIOD}" FROM frame')
    return con, periods


def _groups(con: duckdb.DuckDBPyConnection, periods: dict[date, pd.DataFrame]) -> Groups:
    return Groups("rows", PERIOD, tuple(periods), tuple(len(f) for f in periods.values()))


def _per_period(frame: pd.DataFrame, logged: bool) -> dict[str, float | None]:
    """What the per-period path computes: labelled rows of a known class, then sklearn."""
    known = frame[frame["y"].map(lambda v: v is not None and canonical_label(v) in CLASSES)]
    values = classification_metrics(known["y"], known[["proba_no", "proba_yes"]].to_numpy(), CLASSES, 0.5,
                                    predicted=known["prediction"] if logged else None)
    return {m.metric: m.value for m in values}


def _close(got: dict[str, float | None], want: dict[str, float | None]) -> None:
    assert got.keys() == want.keys()
    for name, value in want.items():
        if value is None:
            assert got[name] is None, name
        else:
            assert got[name] == pytest.approx(value, rel=0, abs=1e-9), name


@pytest.mark.parametrize("by_row", [None, False, True])
@pytest.mark.parametrize("logged", [False, True])
def test_grouped_performance_equals_each_period(data, logged: bool, by_row: bool | None) -> None:
    con, periods = data
    found = grouped_binary_performance(con, _groups(con, periods), "y", ["proba_no", "proba_yes"], CLASSES,
                                       prediction="prediction" if logged else None, by_row=by_row)
    for values, frame in zip(found, periods.values()):
        _close({m.metric: m.value for m in values}, _per_period(frame, logged))
    single, unlabelled = ({m.metric: m.value for m in found[i]} for i in (2, 3))
    assert single["roc_auc"] is None and single["average_precision"] is None and single["accuracy"] is not None
    assert all(v is None for v in unlabelled.values())


@pytest.mark.parametrize("by_row", [False, True])
def test_grouped_performance_equals_sklearn_directly(data, by_row: bool) -> None:
    con, periods = data
    found = grouped_binary_performance(con, _groups(con, periods), "y", ["proba_no", "proba_yes"], CLASSES,
                                       by_row=by_row)
    frame = periods[date(2021, 5, 1)]  # scores at 0 and 1: log loss clips them
    y, p = (frame["y"] == "yes").to_numpy(int), frame["proba_yes"].to_numpy()
    got = {m.metric: m.value for m in found[4]}
    assert got["roc_auc"] == pytest.approx(skm.roc_auc_score(y, p), abs=1e-9)
    assert got["average_precision"] == pytest.approx(skm.average_precision_score(y, p), abs=1e-9)
    assert got["log_loss"] == pytest.approx(skm.log_loss(y, np.c_[1 - p, p], labels=[0, 1]), abs=1e-9)
    assert got["brier_score"] == pytest.approx(skm.brier_score_loss(y, p), abs=1e-9)
    assert got["f1"] == pytest.approx(skm.f1_score(y, (p >= 0.5).astype(int)), abs=1e-9)


@pytest.mark.parametrize("decimals", [None, 2])
def test_both_ways_of_ranking_agree_on_many_tied_and_distinct_scores(decimals: int | None) -> None:
    """Two groups of 4,000 rows, scores distinct or rounded to 100 values: ROC AUC and average
    precision equal sklearn's either way."""
    rng = np.random.default_rng(3)
    frames = {date(2022, 1, 1): _frame(rng, 4000, 0.0, decimals), date(2022, 2, 1): _frame(rng, 4000, 0.6, decimals)}
    con = duckdb.connect()
    con.register("frame", pd.concat([f.assign(**{PERIOD: d}) for d, f in frames.items()], ignore_index=True))
    groups = Groups("frame", PERIOD, tuple(frames), (4000, 4000))
    for by_row in (False, True):
        found = grouped_binary_performance(con, groups, "y", ["proba_no", "proba_yes"], CLASSES, by_row=by_row)
        for values, frame in zip(found, frames.values()):
            got = {m.metric: m.value for m in values}
            y, p = (frame["y"] == "yes").to_numpy(int), frame["proba_yes"].to_numpy()
            assert got["roc_auc"] == pytest.approx(skm.roc_auc_score(y, p), rel=0, abs=1e-12)
            assert got["average_precision"] == pytest.approx(skm.average_precision_score(y, p), rel=0, abs=1e-12)


def test_the_way_of_ranking_follows_how_many_scores_are_distinct() -> None:
    assert rank_rows(100, 51) and not rank_rows(100, 50) and not rank_rows(0, 0)
    rng = np.random.default_rng(4)
    con = duckdb.connect()
    for name, decimals, by_row in (("distinct_scores", None, True), ("tied_scores", 2, False)):
        frame = _frame(rng, 3000, 0.0, decimals).assign(**{PERIOD: date(2022, 1, 1)})
        con.register(name, frame)
        recording = RecordingConnection(con)
        grouped_binary_performance(recording, Groups(name, PERIOD, (date(2022, 1, 1),), (3000,)), "y",
                                   ["proba_no", "proba_yes"], CLASSES)
        assert ("RANK() OVER" in recording.sql[-1]) is by_row, name
        assert ("GROUP BY g, s" in recording.sql[-1]) is not by_row, name
        grouped_binary_performance(recording, Groups(name, PERIOD, (date(2022, 1, 1),), (3000,)), "y",
                                   ["proba_no", "proba_yes"], CLASSES, by_row=not by_row)
        assert ("RANK() OVER" in recording.sql[-1]) is not by_row, name  # a forced way wins over the data's


def test_probabilities_outside_unit_interval_leave_losses_undefined(data) -> None:
    con, _ = data
    frame = pd.DataFrame({"y": [0, 1, 1, 0], "proba_1": [0.2, 1.3, 0.7, 0.4], PERIOD: [date(2021, 1, 1)] * 4})
    frame["proba_0"] = 1 - frame["proba_1"]
    con.register("odd", frame)
    groups = Groups("odd", PERIOD, (date(2021, 1, 1),), (4,))
    got = {m.metric: m.value for m in grouped_binary_performance(con, groups, "y", ["proba_0", "proba_1"], [0, 1])[0]}
    want = classification_metrics(frame["y"], frame[["proba_0", "proba_1"]].to_numpy(), [0, 1])
    _close(got, {m.metric: m.value for m in want})
    assert got["log_loss"] is None and got["brier_score"] is None and got["roc_auc"] == 1.0


def test_statements_do_not_grow_with_periods(data) -> None:
    con, periods = data
    counts = []
    for n in (2, len(periods)):
        counting = CountingConnection(con)
        keys = list(periods)[:n]
        grouped_binary_performance(counting, Groups("rows", PERIOD, tuple(keys), (1,) * n), "y",
                                   ["proba_no", "proba_yes"], CLASSES, prediction="prediction")
        counts.append(counting.statements)
    assert counts[0] == counts[1] == 2


@pytest.mark.parametrize("logged", [False, True])
def test_a_whole_relations_performance_in_sql_equals_the_scikit_learn_path(data, logged: bool) -> None:
    """A reference's performance (one relation, no period) counted in SQL: the values of the
    path that fetches its rows into scikit-learn, on every kind of period above."""
    from mlmon.evaluation.evaluate import EvaluationPlan
    from mlmon.evaluation.task import measured_performance, whole_binary_performance

    con, periods = data
    plan = EvaluationPlan(store="s", task="binary", target="y", classes=tuple(CLASSES), positive_class="yes",
                          threshold=0.5, numeric=(), categorical=(), logged_prediction=logged)
    for d in (date(2021, 1, 1), date(2021, 2, 1), date(2021, 3, 1), date(2021, 5, 1)):
        con.execute(f"CREATE OR REPLACE VIEW whole AS SELECT * EXCLUDE (\"{PERIOD}\") FROM rows "
                    f"WHERE \"{PERIOD}\" = DATE '{d.isoformat()}'")
        got = {m.metric: m.value for m in whole_binary_performance(con, "whole", plan) or []}
        _close(got, {m.metric: m.value for m in measured_performance(con, "whole", plan) or []})
        assert got
    con.execute('CREATE OR REPLACE VIEW whole AS SELECT y, proba_yes FROM rows')  # no proba_no: no performance
    assert whole_binary_performance(con, "whole", plan) is None is measured_performance(con, "whole", plan)
