"""Scoring on Spark: the fitted pipeline runs inside the executors through `mapInPandas`.

The driver loads the artifact (its sha256 verified by the registry) once; Spark ships the fitted
pipeline to the executors with the scoring function, and each task scores its own partitions
in Arrow batches of `chunk_rows`. No row travels to the driver, except on a local master for
little data (`_scored_on_the_driver`): there the executors' Python workers would spend seconds
starting and importing scikit-learn to score what the driver scores in milliseconds. Either
way the output has the same columns, in the same order, as DuckDB scoring
(`mlmon.ml.scoring.score_relation`).
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any, Callable, Iterator, Sequence

import pandas as pd
import pyarrow as pa

from mlmon.ml.source_check import check_source
from mlmon.warehouse.spark_codegen import SMALL_INPUT_BYTES, input_bytes

if TYPE_CHECKING:
    from mlmon.warehouse.spark_connection import SparkConnection

__all__ = ["score_on_spark"]


def score_on_spark(
    con: "SparkConnection",
    score: Callable[[pd.DataFrame], pd.DataFrame],
    source_sql: str,
    output_table: str,
    needed: Sequence[str],
    numeric: Sequence[str],
    added: Sequence[pa.Field],
    chunk_rows: int,
    progress: Callable[[int], None] | None = None,
) -> int:
    """Write `SELECT * FROM <source_sql>` and `score(rows[needed])` beside it into a new Spark
    table `output_table`; the rows written. `score` (a closure over the fitted pipeline)
    travels to the executors, as `mlmon.ml.scoring.score_relation` prepared it."""
    from pyspark.sql.pandas.types import from_arrow_schema, to_arrow_schema

    source = con.dataframe(f"SELECT * FROM {source_sql}")
    arrow_schema = to_arrow_schema(source.schema)
    check_source(arrow_schema, {}, list(needed), list(numeric), source_sql)
    added_names = [f.name for f in added]
    kept = [f.name for f in arrow_schema if f.name not in added_names]
    output_schema = from_arrow_schema(pa.schema([arrow_schema.field(n) for n in kept] + list(added)))
    columns = list(needed)

    def score_batches(batches: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
        for frame in batches:
            frame = frame.reset_index(drop=True)
            yield pd.concat([frame[kept], score(frame[columns])], axis=1)

    con.spark.conf.set("spark.sql.execution.arrow.maxRecordsPerBatch", str(chunk_rows))
    if _scored_on_the_driver(source):
        rows = source.toPandas()
        chunks = [rows.iloc[a:a + chunk_rows] for a in range(0, len(rows), chunk_rows)]
        scored = (con.spark.createDataFrame(pd.concat(list(score_batches(chunks)), ignore_index=True),
                                            schema=output_schema)
                  if chunks else con.spark.createDataFrame([], schema=output_schema))
    else:
        scored = source.mapInPandas(score_batches, output_schema)
    # Scratch rows (an evaluation's) stay in this session's cache: no parquet, no metastore.
    written = con.stage_frame(output_table, scored)
    if written is None:
        written = _save(con, scored, output_table)
    if progress is not None:
        progress(written)
    return written


def _save(con: "SparkConnection", scored: Any, output_table: str) -> int:
    """Write the scored rows as the metastore table `output_table`: their count."""
    target = con.table_name(output_table)
    con.catalog_changed()
    con.spark.sql(f"DROP TABLE IF EXISTS {target}")
    try:
        scored.write.format("parquet").saveAsTable(target)
    except BaseException:
        con.spark.sql(f"DROP TABLE IF EXISTS {target}")
        raise
    return int(con.spark.table(target).count())


def _scored_on_the_driver(source: Any, workers_python: str | None = None) -> bool:
    """Whether `source` is scored in the driver rather than by the executors: on a local master
    whose Python workers would run this very interpreter (`workers_python`, by default the
    session's `spark.pyspark.python`), when the rows are few (at most `SMALL_INPUT_BYTES` as
    Spark sizes its input). The driver has the pipeline loaded already; each executor would
    first start a Python worker and import scikit-learn, seconds against milliseconds of scoring."""
    try:
        context = source.sparkSession.sparkContext
        local = str(context.master).startswith("local")
        python = workers_python or context.getConf().get("spark.pyspark.python")
    except Exception:  # Spark Connect: no driver in this process
        return False
    if not local or python != sys.executable:
        return False
    size = input_bytes(source)
    return size is not None and size <= SMALL_INPUT_BYTES
