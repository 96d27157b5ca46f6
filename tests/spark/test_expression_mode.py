"""Queries over little data run with interpreted expressions on a local master, others
compiled, and the session's setting is never left changed (Spark's catalog API needs it)."""

from __future__ import annotations

import pytest

from mlmon.warehouse.spark_codegen import (
    FACTORY_MODE,
    SMALL_INPUT_BYTES,
    chooses_expression_mode,
    expressions_for,
    input_bytes,
)
from mlmon.warehouse.spark_connection import SparkConnection


def _mode_inside(frame) -> str | None:
    with expressions_for(frame):
        return frame.sparkSession.conf.get(FACTORY_MODE, None)


def test_a_small_query_is_fetched_interpreted_and_the_setting_restored(spark_con: SparkConnection) -> None:
    spark = spark_con.spark
    small = spark.range(1000).selectExpr("id % 7 AS k").groupBy("k").count()
    assert 0 < input_bytes(small) <= SMALL_INPUT_BYTES
    assert _mode_inside(small) == "NO_CODEGEN"
    assert spark.conf.get(FACTORY_MODE, None) is None
    with pytest.raises(ZeroDivisionError), expressions_for(small):
        1 / 0
    assert spark.conf.get(FACTORY_MODE, None) is None
    assert [t.name for t in spark.catalog.listTables() if t.name == "nothing_here"] == []  # the catalog API works


def test_a_large_or_unsized_query_stays_compiled(spark_con: SparkConnection) -> None:
    spark = spark_con.spark
    large = spark.range(10 ** 9).selectExpr("id % 7 AS k")  # 8 GB as Spark sizes it
    assert input_bytes(large) > SMALL_INPUT_BYTES
    assert _mode_inside(large) is None

    class Unsized:  # a frame whose plan cannot be asked (Spark Connect)
        sparkSession = spark

    assert input_bytes(Unsized()) is None and _mode_inside(Unsized()) is None


def test_local_sessions_pick_the_mode_unless_the_target_sets_it(spark_con: SparkConnection) -> None:
    spark = spark_con.spark
    assert chooses_expression_mode(spark) and spark_con._pick_mode
    spark.conf.set(FACTORY_MODE, "CODEGEN_ONLY")  # as a target's `conf:` would
    try:
        assert not chooses_expression_mode(spark)
    finally:
        spark.conf.unset(FACTORY_MODE)


def test_the_connection_fetches_small_answers_interpreted(spark_con: SparkConnection, monkeypatch) -> None:
    import mlmon.warehouse.spark_result as result_module

    seen = []

    original = result_module.expressions_for

    def spy(frame):
        seen.append(input_bytes(frame))
        return original(frame)

    monkeypatch.setattr(result_module, "expressions_for", spy)
    assert spark_con.execute("SELECT 40 + 2 AS answer").fetchall() == [(42,)]
    assert spark_con.execute("SELECT 'x' AS a").df()["a"].tolist() == ["x"]
    assert len(seen) == 2 and all(size <= SMALL_INPUT_BYTES for size in seen)
