"""Scoring on a local master: little data is scored in the driver (whose Python has the pipeline
loaded), more by the executors' Python workers; both write the same table, pass-through
columns of every type included."""

from __future__ import annotations

import datetime as dt
import sys
from typing import Any

import pyarrow as pa
import pytest

import mlmon.ml.spark_scoring as spark_scoring
from mlmon.ml.scoring import score_relation
from mlmon.ml.training import TrainedModel, train
from mlmon.warehouse.spark_connection import SparkConnection
from tests.ml.conftest import SPEC, make_frame
from tests.spark.conftest import LoadTable


@pytest.fixture(scope="module")
def model() -> TrainedModel:
    return train(make_frame(), SPEC)


@pytest.fixture(scope="module")
def rows(load_table: LoadTable) -> str:
    frame = make_frame(n=300, seed=3)
    n = len(frame)
    table = pa.Table.from_pandas(frame, preserve_index=False)
    table = table.append_column("count", pa.array([None if i % 7 == 0 else i * 3 for i in range(n)], pa.int64()))
    table = table.append_column("day", pa.array([None if i % 5 == 0 else dt.date(2021, 1, 1 + i % 28) for i in range(n)]))
    table = table.append_column("at", pa.array([dt.datetime(2021, 3, 1, 12, 0, 0, 1000 * i) for i in range(n)]))
    table = table.append_column("big", pa.array([2 ** 62 + i for i in range(n)], pa.int64()))  # not a double
    return load_table("driver_scoring_rows", table)


def _score(con: SparkConnection, model: TrainedModel, source: str, output: str, monkeypatch: pytest.MonkeyPatch,
           limit: int, chunk_rows: int = 100_000) -> tuple[pa.Table, list[bool]]:
    chosen: list[bool] = []
    decide = spark_scoring._scored_on_the_driver

    def recorded(frame: Any) -> bool:
        chosen.append(decide(frame))
        return chosen[-1]

    with monkeypatch.context() as patched:
        patched.setattr(spark_scoring, "SMALL_INPUT_BYTES", limit)
        patched.setattr(spark_scoring, "_scored_on_the_driver", recorded)
        written = score_relation(con, model.pipeline, source, output, model.features, model.classes, model.task,
                                 chunk_rows=chunk_rows)
    table = con.spark.table(con.table_name(output)).orderBy("id").toArrow()
    assert written == table.num_rows
    return table, chosen


def test_the_driver_and_the_executors_write_the_same_table(spark_con: SparkConnection, model: TrainedModel, rows: str,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    in_driver, chosen_small = _score(spark_con, model, rows, "scored_in_driver", monkeypatch, limit=16 << 20,
                                     chunk_rows=64)
    by_workers, chosen_large = _score(spark_con, model, rows, "scored_by_workers", monkeypatch, limit=-1)
    assert chosen_small == [True] and chosen_large == [False]
    assert in_driver.num_rows == 300
    assert in_driver.schema == by_workers.schema
    assert in_driver.equals(by_workers)
    assert in_driver.column_names[-3:] == ["proba_0", "proba_1", "prediction"]
    assert in_driver.column("big").to_pylist()[:2] == [2 ** 62, 2 ** 62 + 1]
    assert in_driver.column("count").null_count == 43


def test_no_rows_make_an_empty_table_with_every_column(spark_con: SparkConnection, model: TrainedModel, rows: str,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    empty, chosen = _score(spark_con, model, f"(SELECT * FROM {rows} WHERE id < 0)", "scored_none", monkeypatch,
                           limit=16 << 20)
    full, _ = _score(spark_con, model, rows, "scored_all", monkeypatch, limit=16 << 20)
    assert chosen == [True]
    assert empty.num_rows == 0 and empty.schema == full.schema


def test_workers_of_another_python_score_in_the_executors(spark_con: SparkConnection, rows: str) -> None:
    """The driver stands in for workers only when they would run its own interpreter."""
    frame = spark_con.dataframe(f"SELECT * FROM {rows}")
    conf = spark_con.spark.sparkContext.getConf()
    assert conf.get("spark.pyspark.python") == sys.executable
    assert spark_scoring._scored_on_the_driver(frame)
    assert not spark_scoring._scored_on_the_driver(frame, workers_python="/opt/other/python3")


@pytest.mark.parametrize("limit", [16 << 20, -1], ids=["driver", "executors"])
def test_scratch_scores_stay_in_the_session_cache(spark_con: SparkConnection, model: TrainedModel, rows: str,
                                                  monkeypatch: pytest.MonkeyPatch, limit: int) -> None:
    """Scored rows of the staging schema (an evaluation's scratch) are a cached view of this
    session, not a metastore table: the same rows as a written table, counted without a job,
    gone at the DROP."""
    spark_con.execute('CREATE SCHEMA IF NOT EXISTS "mlmon_staging"')
    scratch = '"mlmon_staging"."ev__scored_t1"'
    with monkeypatch.context() as patched:
        patched.setattr(spark_scoring, "SMALL_INPUT_BYTES", limit)
        written = score_relation(spark_con, model.pipeline, rows, scratch, model.features, model.classes, model.task)
    table, _ = _score(spark_con, model, rows, "scored_written", monkeypatch, limit=limit)
    assert written == 300
    assert "ev__scored_t1" not in {t.name for t in spark_con.spark.catalog.listTables("mlmon_staging")}
    staged = spark_con.dataframe(f"SELECT * FROM {scratch}").orderBy("id").toArrow()
    assert staged.equals(table)
    jobs = spark_con.spark.sparkContext._jsc.sc().dagScheduler().numTotalJobs()
    assert spark_con.execute(f"SELECT count(*) FROM {scratch}").fetchone() == (300,)
    assert spark_con.spark.sparkContext._jsc.sc().dagScheduler().numTotalJobs() == jobs
    spark_con.execute(f"DROP TABLE {scratch}")
    assert not any(t.name.endswith("ev__scored_t1") for t in spark_con.spark.catalog.listTables() if t.isTemporary)
