"""Chunked scoring inside DuckDB against the pipeline's own predictions."""

from __future__ import annotations

from collections.abc import Callable

import duckdb
import numpy as np
import pandas as pd
import pytest

from mlmon.errors import NodeError
from mlmon.ml.scoring import model_input, output_columns, predict_frame, score_relation
from mlmon.ml.training import TrainSpec, TrainedModel, train



@pytest.fixture
def con() -> duckdb.DuckDBPyConnection:
    connection = duckdb.connect()
    yield connection
    connection.close()


def load(con: duckdb.DuckDBPyConnection, name: str, frame: pd.DataFrame) -> None:
    con.register("incoming", frame)
    con.execute(f"CREATE TABLE {name} AS SELECT * FROM incoming")
    con.unregister("incoming")


def score(con, model: TrainedModel, source: str, output: str, **kwargs) -> int:
    return score_relation(con, model.pipeline, source, output, model.features, model.classes, model.task, **kwargs)


def test_scores_equal_predict_proba_in_order(con, model: TrainedModel, frame_factory: Callable) -> None:
    data = frame_factory(n=1000, seed=7)
    load(con, "new_rows", data)
    assert score(con, model, "new_rows", "scored") == 1000
    out = con.execute("SELECT * FROM scored").df()
    assert list(out.columns) == list(data.columns) + ["proba_0", "proba_1", "prediction"]
    assert out["id"].tolist() == data["id"].tolist()  # row order kept
    expected = predict_frame(model.pipeline, data, model.features, model.classes, model.task)
    proba = model.pipeline.predict_proba(model_input(model.pipeline, data, model.features))
    np.testing.assert_allclose(out[["proba_0", "proba_1"]].to_numpy(), proba)
    np.testing.assert_array_equal(out["prediction"].to_numpy(), expected["prediction"].to_numpy())
    assert con.execute("SELECT typeof(prediction), typeof(proba_1), typeof(city) FROM scored LIMIT 1").fetchone() == (
        "BIGINT",
        "DOUBLE",
        "VARCHAR",
    )


def test_chunked_equals_single_chunk(con, model: TrainedModel) -> None:
    con.execute(
        """
        CREATE TABLE big AS
        SELECT range AS id,
               CASE WHEN range % 11 = 0 THEN NULL ELSE (range * 37) % 400 END::DOUBLE AS amount,
               (18 + range % 70)::DOUBLE AS age,
               ['paris', 'lyon', 'nice', 'lille', NULL][1 + range % 5] AS city,
               range % 3 = 0 AS online
        FROM range(25000)
        """
    )
    progress: list[int] = []
    assert score(con, model, "big", "chunked", chunk_rows=4096, progress=progress.append) == 25000
    assert len(progress) >= 6 and progress[-1] == 25000 and progress == sorted(progress)
    assert score(con, model, "big", "whole", chunk_rows=100_000) == 25000
    differences = con.execute(
        """
        SELECT count(*) FROM (SELECT *, row_number() OVER () AS rn FROM chunked) c
        FULL JOIN (SELECT *, row_number() OVER () AS rn FROM whole) w USING (rn)
        WHERE c.id IS DISTINCT FROM w.id OR c.proba_1 IS DISTINCT FROM w.proba_1
           OR c.prediction IS DISTINCT FROM w.prediction
        """
    ).fetchone()[0]
    assert differences == 0
    assert con.execute("SELECT bool_and(id = rn - 1) FROM (SELECT id, row_number() OVER () AS rn FROM chunked)").fetchone()[0]


def test_unseen_category_and_subquery_source(con, model: TrainedModel) -> None:
    con.execute("CREATE TABLE odd AS SELECT 1 AS id, 50.0 AS amount, 40.0 AS age, 'tokyo' AS city, NULL::BOOLEAN AS online")
    assert score(con, model, "(SELECT * FROM odd WHERE id = 1)", "scored_odd") == 1
    p0, p1 = con.execute("SELECT proba_0, proba_1 FROM scored_odd").fetchone()
    assert p0 + p1 == pytest.approx(1.0)


def test_missing_feature_names_the_column(con, model: TrainedModel, frame: pd.DataFrame) -> None:
    load(con, "partial", frame.drop(columns=["city"]))
    with pytest.raises(NodeError, match="'city'") as info:
        score(con, model, "partial", "scored")
    assert "amount" in str(info.value)  # the available columns are listed
    assert "scored" not in con.execute("SELECT table_name FROM duckdb_tables()").df()["table_name"].tolist()


def test_wrong_type_names_the_column(con, model: TrainedModel, frame: pd.DataFrame) -> None:
    load(con, "texty", frame.assign(amount=frame["amount"].astype(str)))
    with pytest.raises(NodeError, match="column 'amount'.*VARCHAR.*number"):
        score(con, model, "texty", "scored")


def test_zero_rows_gives_an_empty_table_with_the_columns(con, model: TrainedModel, frame: pd.DataFrame) -> None:
    load(con, "none", frame.head(0))
    assert score(con, model, "none", "scored_empty") == 0
    columns = [row[0] for row in con.execute("DESCRIBE scored_empty").fetchall()]
    assert columns == list(frame.columns) + ["proba_0", "proba_1", "prediction"]
    assert con.execute("SELECT count(*) FROM scored_empty").fetchone()[0] == 0


def test_regression_and_multiclass_outputs(con, frame: pd.DataFrame) -> None:
    load(con, "rows", frame)
    reg = train(frame, TrainSpec("spend", ["amount", "age", "online"], [], "sklearn.linear_model.Ridge", {}))
    assert score(con, reg, "rows", "reg_scored") == len(frame)
    out = con.execute("SELECT prediction FROM reg_scored").df()
    np.testing.assert_allclose(out["prediction"], reg.pipeline.predict(model_input(reg.pipeline, frame, reg.features)))
    assert output_columns(None, "regression") == ["prediction"]

    multi = train(frame, TrainSpec("tier", ["amount", "age", "city"], [], "sklearn.linear_model.LogisticRegression", {}))
    score(con, multi, "rows", "multi_scored")
    cols = [row[0] for row in con.execute("DESCRIBE multi_scored").fetchall()]
    assert cols[-4:] == ["proba_high", "proba_low", "proba_mid", "prediction"]
    assert con.execute("SELECT typeof(prediction) FROM multi_scored LIMIT 1").fetchone()[0] == "VARCHAR"


def test_existing_output_columns_are_replaced(con, model: TrainedModel, frame: pd.DataFrame) -> None:
    load(con, "rescored", frame.assign(prediction="old", proba_1=-1.0))
    score(con, model, "rescored", "again")
    cols = [row[0] for row in con.execute("DESCRIBE again").fetchall()]
    assert cols.count("prediction") == 1 and cols[-3:] == ["proba_0", "proba_1", "prediction"]
    assert con.execute("SELECT min(proba_1) >= 0 FROM again").fetchone()[0]


def test_failure_midway_drops_the_partial_table(con, model: TrainedModel, frame_factory: Callable) -> None:
    load(con, "many", frame_factory(n=3000, seed=3))

    def stop(rows: int) -> None:
        if rows > 1000:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        score(con, model, "many", "partial_out", chunk_rows=1000, progress=stop)
    assert "partial_out" not in con.execute("SELECT table_name FROM duckdb_tables()").df()["table_name"].tolist()


def test_recorded_classes_must_match_the_model(con, model: TrainedModel, frame: pd.DataFrame) -> None:
    load(con, "rows", frame)
    with pytest.raises(NodeError, match="differ from the recorded"):
        score_relation(con, model.pipeline, "rows", "x", model.features, ["no", "yes"], "binary")


def test_connection_local_sources(con, model: TrainedModel, frame: pd.DataFrame) -> None:
    con.register("registered_rows", frame)
    assert score(con, model, "registered_rows", "from_view", chunk_rows=128) == len(frame)
    con.execute("CREATE TEMP TABLE temp_rows AS SELECT * FROM registered_rows")
    assert score(con, model, "temp_rows", "from_temp", chunk_rows=128) == len(frame)
    same = con.execute(
        "SELECT count(*) FROM from_view v JOIN from_temp t USING (id) WHERE v.proba_1 = t.proba_1"
    ).fetchone()[0]
    assert same == len(frame)


def test_unreadable_source(con, model: TrainedModel) -> None:
    with pytest.raises(NodeError, match="cannot read no_such_table"):
        score(con, model, "no_such_table", "out")
