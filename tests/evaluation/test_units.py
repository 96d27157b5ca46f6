"""The store's pieces on their own: seeded samples, the append, the views, kept-row widening."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path

import pandas as pd
import pytest

from mlmon.evaluation.sampling import Sampling, Scratch, draw_sample, sample_into
from mlmon.evaluation.store import EvaluationRecord, _widened, append_evaluation
from mlmon.metrics.types import MetricValue
from mlmon.warehouse.duckdb import Warehouse


@pytest.fixture
def warehouse(tmp_path: Path):
    with Warehouse(tmp_path / "w.duckdb") as wh:
        yield wh


def record(store: str, labels: dict, n: int = 10, minutes: int = 0) -> EvaluationRecord:
    return EvaluationRecord(
        evaluation_id=f"{store}-{minutes}", store=store, model="m", model_version=1, dataset="d",
        reference="training", created_at=datetime(2024, 1, 1) + timedelta(minutes=minutes), invocation_id="i",
        n_rows=n, n_evaluated=n, has_ground_truth=False, labels=labels,
    )


def test_random_sample_depends_on_contents_not_row_order(warehouse):
    con = warehouse.con
    con.execute("CREATE TABLE a AS SELECT i, i * 0.5 AS x FROM range(5000) r(i)")
    con.execute("CREATE TABLE b AS SELECT * FROM a ORDER BY x DESC")
    with Scratch(con, "s") as scratch:
        counts = [sample_into(con, f'"{t}"', scratch.table(t), Sampling("random", 300, 4)) for t in ("a", "b")]
        picked = [sorted(r[0] for r in con.execute(f"SELECT i FROM {c.relation}").fetchall()) for c in counts]
        assert counts[0].n_rows == 5000 and counts[0].n_evaluated == 300
        assert picked[0] == picked[1]
        other = sample_into(con, '"a"', scratch.table("c"), Sampling("random", 300, 5))
        assert sorted(r[0] for r in con.execute(f"SELECT i FROM {other.relation}").fetchall()) != picked[0]
        full = sample_into(con, '"a"', scratch.table("d"), Sampling("full"))
        assert full.relation == '"a"', "a stored table is read in place"
    assert con.execute("SELECT count(*) FROM information_schema.tables WHERE table_schema = 'mlmon_staging'").fetchone()[0] == 0
    assert len(draw_sample(con, '"a"', ["i", "x"], 10, 1)) == 10


def test_views_pivot_metrics_and_labels_with_awkward_names(warehouse):
    labels = {"month": "01", "my key": "x", "accuracy": "clash", 'quo"te': 1}
    metrics = [MetricValue("accuracy", 0.9), MetricValue("data_drift", 0.55, lower=0.5, upper=0.6),
               MetricValue("psi", 0.1, feature="amount"), MetricValue("psi", 0.3, feature="city"),
               MetricValue("predicted_class_share", 0.2, feature="1")]
    append_evaluation(warehouse, record("select", labels), metrics, None, [])
    append_evaluation(warehouse, record("select", {"month": "02"}, minutes=1), [MetricValue("accuracy", None)], None, [])
    view = warehouse.query_df('SELECT * FROM "select"')
    assert view["evaluation_id"].tolist() == ["select-0", "select-1"]
    assert view["month"].tolist() == ["01", "02"]
    assert view["my key"].tolist()[0] == "x" and view['quo"te'].tolist()[0] == 1, "an integer label is typed"
    assert view["is_latest"].tolist() == [True, True], "two label sets, one evaluation each"
    assert view["label_accuracy"].tolist()[0] == "clash", "a label never hides a metric"
    assert view["accuracy"].tolist()[0] == 0.9 and pd.isna(view["accuracy"].tolist()[1])
    assert view[["data_drift", "data_drift_lower", "data_drift_upper"]].values.tolist()[0] == [0.55, 0.5, 0.6]
    assert "accuracy_lower" not in view.columns
    features = warehouse.query_df('SELECT * FROM "select_feature_drift"')
    assert features[["feature", "psi"]].values.tolist() == [["amount", 0.1], ["city", 0.3]]
    assert "predicted_class_share" not in features.columns
    stored = warehouse.query_df("SELECT labels FROM mlmon.evaluations ORDER BY created_at")["labels"]
    assert json.loads(stored[0]) == labels


def test_label_columns_follow_the_first_evaluation_of_each_key_and_type_every_value(warehouse):
    """Keys become columns in the order the store first saw them (a label set seen again later
    changes nothing); a key whose values mix integers and text is text, integers and numbers
    a DOUBLE."""
    for minutes, labels in enumerate([{"b": 1, "a": 1.5}, {"c": "x", "b": 2}, {"b": 1, "a": 1.5}, {"d": 1, "b": "two"},
                                      {"a": 2}]):
        append_evaluation(warehouse, record("keys", labels, minutes=minutes), [MetricValue("accuracy", 0.5)], None, [])
    view = warehouse.query_df('SELECT * FROM "keys" ORDER BY created_at')
    assert [c for c in view.columns if c in "abcd"] == ["b", "a", "c", "d"]
    types = {r[0]: r[1] for r in warehouse.con.execute('DESCRIBE "keys"').fetchall()}
    assert (types["a"], types["b"], types["c"], types["d"]) == ("DOUBLE", "VARCHAR", "VARCHAR", "BIGINT")
    assert view["b"].tolist()[:4] == ["1", "2", "1", "two"] and pd.isna(view["b"].tolist()[4])


def test_kept_rows_widen_when_types_change(warehouse):
    con = warehouse.con
    con.execute("CREATE TABLE m1 AS SELECT i::BIGINT AS x, 'a' AS c FROM range(5) r(i)")
    con.execute("CREATE TABLE m2 AS SELECT i * 1.5 AS x, 2 AS c, i AS extra FROM range(4) r(i)")
    append_evaluation(warehouse, record("s", {}, n=5), [], '"m1"', ["x", "c"])
    append_evaluation(warehouse, record("s", {}, n=4, minutes=1), [], '"m2"', ["x", "c", "extra"])
    types = dict(con.execute("SELECT column_name, data_type FROM information_schema.columns "
                             "WHERE table_schema = 'mlmon' AND table_name = 'rows_s'").fetchall())
    assert types == {"evaluation_id": "VARCHAR", "x": "DOUBLE", "c": "VARCHAR", "extra": "BIGINT"}
    kept = warehouse.query_df("SELECT * FROM mlmon.rows_s WHERE evaluation_id = 's-1' ORDER BY x")
    assert kept["x"].tolist() == [0.0, 1.5, 3.0, 4.5] and kept["c"].tolist() == ["2"] * 4


@pytest.mark.parametrize("old, new, wider", [
    ("BIGINT", "BIGINT", None), ("BIGINT", "DOUBLE", "DOUBLE"), ("DOUBLE", "INTEGER", None),
    ("DECIMAL(18,3)", "BIGINT", "DOUBLE"), ("VARCHAR", "BIGINT", None), ("BIGINT", "VARCHAR", "VARCHAR"),
    ("BOOLEAN", "BIGINT", "VARCHAR"), ("DOUBLE", '"NULL"', None),
])
def test_widening_rule(old, new, wider):
    assert _widened(old, new) == wider


def test_logged_outputs_keep_the_relations_column_order(warehouse):
    """The copy of logged rows lists the relation's columns in their order (not a set's), the
    engine's outputs after them; a column named like an engine output is replaced."""
    from mlmon.evaluation.subject import LoggedOutputs
    from mlmon.metrics.labels import canonical_label

    con = warehouse.con
    con.execute("CREATE TABLE logged AS SELECT 1 AS zeta, 0.7 AS score, 2 AS alpha, 0.1 AS proba_9, 'x' AS mid, 1 AS y")
    outputs = LoggedOutputs(task="binary", target="y", classes=(0, 1), positive_class=1, threshold=0.5,
                            proba={canonical_label(1): "score"}, prediction=None)
    names = [e.alias_or_name for e in outputs.canonical(con, '"logged"').expressions]
    assert names == ["zeta", "score", "alpha", "mid", "y", "proba_0", "proba_1", "prediction"]
