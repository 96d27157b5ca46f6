"""Scoring on Spark: the fitted pipeline runs inside the executors through `mapInPandas`.

The driver loads the artifact (its sha256 verified by the registry) once; Spark ships the fitted
pipeline to the executors with the scoring function, and each task scores its own partitions
in Arrow batches of `chunk_rows`. No row travels to the driver. The output has the same
columns, in the same order, as DuckDB scoring (`mlmon.ml.scoring.score_relation`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable, Iterator, Sequence

import pandas as pd
import pyarrow as pa

from mlmon.errors import NodeError
from mlmon.ml.scoring import _check_source, _output_fields, _required_columns, model_classes, predict_frame

if TYPE_CHECKING:
    from mlmon.warehouse.spark_connection import SparkConnection

__all__ = ["score_relation_spark"]


def score_relation_spark(
    con: "SparkConnection",
    pipeline: Any,
    source_sql: str,
    output_table: str,
    features: Sequence[str],
    classes: Sequence[Any] | None,
    task: str,
    threshold: float = 0.5,
    positive_class: Any = None,
    chunk_rows: int = 100_000,
    progress: Callable[[int], None] | None = None,
) -> int:
    """Score `SELECT * FROM <source_sql>` into a new Spark table `output_table`; the rows written."""
    from pyspark.sql.pandas.types import from_arrow_schema, to_arrow_schema

    if chunk_rows < 1:
        raise NodeError(f"chunk_rows must be positive, got {chunk_rows}")
    labels = None if task == "regression" else model_classes(pipeline, classes)
    needed, numeric, _ = _required_columns(pipeline, features)
    source = con.dataframe(f"SELECT * FROM {source_sql}")
    arrow_schema = to_arrow_schema(source.schema)
    _check_source(arrow_schema, {}, needed, numeric, source_sql)
    added = _output_fields(labels, task)
    added_names = [f.name for f in added]
    kept = [f.name for f in arrow_schema if f.name not in added_names]
    output_schema = from_arrow_schema(pa.schema([arrow_schema.field(n) for n in kept] + added))

    def score(batches: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
        for frame in batches:
            frame = frame.reset_index(drop=True)
            scored = predict_frame(pipeline, frame[needed], needed, labels, task, threshold, positive_class)
            yield pd.concat([frame[kept], scored], axis=1)

    con.spark.conf.set("spark.sql.execution.arrow.maxRecordsPerBatch", str(chunk_rows))
    target = con.table_name(output_table)
    con.catalog_changed()
    con.spark.sql(f"DROP TABLE IF EXISTS {target}")
    try:
        source.mapInPandas(score, output_schema).write.format("parquet").saveAsTable(target)
    except BaseException:
        con.spark.sql(f"DROP TABLE IF EXISTS {target}")
        raise
    written = int(con.spark.table(target).count())
    if progress is not None:
        progress(written)
    return written
