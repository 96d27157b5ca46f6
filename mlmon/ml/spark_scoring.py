"""Scoring on Spark: the fitted pipeline runs inside the executors through `mapInPandas`.

The driver loads the artifact (its sha256 verified by the registry) once; Spark ships the fitted
pipeline to the executors with the scoring function, and each task scores its own partitions
in Arrow batches of `chunk_rows`. No row travels to the driver. The output has the same
columns, in the same order, as DuckDB scoring (`mlmon.ml.scoring.score_relation`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Callable, Iterator, Sequence

import pandas as pd
import pyarrow as pa

from mlmon.ml.source_check import check_source

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
    target = con.table_name(output_table)
    con.catalog_changed()
    con.spark.sql(f"DROP TABLE IF EXISTS {target}")
    try:
        source.mapInPandas(score_batches, output_schema).write.format("parquet").saveAsTable(target)
    except BaseException:
        con.spark.sql(f"DROP TABLE IF EXISTS {target}")
        raise
    written = int(con.spark.table(target).count())
    if progress is not None:
        progress(written)
    return written
