"""Predictions: the output columns of a model, defined once, and chunked scoring inside DuckDB.

`score_relation` streams the source through a second cursor in Arrow record batches and appends
each scored batch to the output table on the caller's connection, so memory stays bounded by
the chunk size whatever the row count, and the input columns keep their DuckDB types.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from typing import Any

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa

from mlmon.chaos import pause_point
from mlmon.errors import NodeError
from mlmon.metrics.labels import canonical_label
from mlmon.metrics.performance import positive_label
from mlmon.ml.estimators import pipeline_columns, prepare_features
from mlmon.ml.source_check import check_source

__all__ = [
    "PREDICTION_COLUMN",
    "PROBA_PREFIX",
    "proba_column",
    "output_columns",
    "model_classes",
    "model_input",
    "predict_frame",
    "score_relation",
]

PROBA_PREFIX = "proba_"
PREDICTION_COLUMN = "prediction"


def proba_column(label: Any) -> str:
    """`proba_<class>`: the column holding the probability of one class."""
    return f"{PROBA_PREFIX}{canonical_label(label)}"


def output_columns(classes: Sequence[Any] | None, task: str) -> list[str]:
    """The columns a model adds to scored rows, in order."""
    if task == "regression":
        return [PREDICTION_COLUMN]
    return [proba_column(c) for c in classes or ()] + [PREDICTION_COLUMN]


def model_classes(pipeline: Any, classes: Sequence[Any] | None = None) -> np.ndarray:
    """The model's own class labels, checked against the ones the caller recorded."""
    known = getattr(pipeline, "classes_", None)
    if known is None:
        raise NodeError("the model has no classes_: it is not a fitted classifier")
    known = np.asarray(known)
    if classes is not None and [canonical_label(c) for c in classes] != [canonical_label(c) for c in known]:
        raise NodeError(
            f"the model's classes {[canonical_label(c) for c in known]} differ from the recorded "
            f"classes {[canonical_label(c) for c in classes]}: the artifact does not match its version"
        )
    names = [proba_column(c) for c in known]
    if len(set(names)) != len(names):
        raise NodeError(f"class labels {known.tolist()} give duplicate column names {names}")
    return known


def _required_columns(pipeline: Any, features: Sequence[str]) -> tuple[list[str], list[str], list[str]]:
    """(all, numeric, categorical) input columns; a user's pipeline gets its features unchanged."""
    kinds = pipeline_columns(pipeline)
    if kinds is None:
        return list(features), [], []
    numeric, categorical = kinds
    return numeric + categorical, numeric, categorical


def model_input(pipeline: Any, frame: pd.DataFrame, features: Sequence[str]) -> pd.DataFrame:
    """The frame the pipeline's predict methods take."""
    kinds = pipeline_columns(pipeline)
    if kinds is None:
        return frame.loc[:, list(features)].reset_index(drop=True)
    return prepare_features(frame, *kinds)


def predict_frame(
    pipeline: Any,
    frame: pd.DataFrame,
    features: Sequence[str],
    classes: Sequence[Any] | None,
    task: str,
    threshold: float = 0.5,
    positive_class: Any = None,
) -> pd.DataFrame:
    """Only the output columns (`proba_<class>`..., `prediction`) for the rows of `frame`,
    on a fresh RangeIndex; the caller places them beside the input columns.

    Binary: the positive class when its probability is at least `threshold`, else the other
    one. Multiclass: the most probable class.
    """
    if not 0.0 <= threshold <= 1.0:
        raise NodeError(f"threshold must be between 0 and 1, got {threshold}")
    X = model_input(pipeline, frame, features)
    with warnings.catch_warnings():
        # Unknown categories are expected in production data and handled by the encoder.
        warnings.filterwarnings("ignore", category=UserWarning, module=r"sklearn\.")
        if task == "regression":
            predicted = np.asarray(pipeline.predict(X), dtype=np.float64).reshape(-1)
            return pd.DataFrame({PREDICTION_COLUMN: predicted})
        labels = model_classes(pipeline, classes)
        proba = np.asarray(pipeline.predict_proba(X), dtype=np.float64)
    out = {proba_column(c): proba[:, i] for i, c in enumerate(labels)}
    if len(labels) == 2:
        pos = [canonical_label(c) for c in labels].index(canonical_label(positive_label(list(labels), positive_class)))
        prediction = np.where(proba[:, pos] >= threshold, labels[pos], labels[1 - pos])
    else:
        prediction = labels[proba.argmax(axis=1)] if len(proba) else labels[:0]
    out[PREDICTION_COLUMN] = prediction
    return pd.DataFrame(out)


def _quote_name(name: str) -> str:
    # A plain dotted name is quoted part by part; one the caller already quoted is kept.
    if '"' in name:
        return name
    return ".".join(f'"{part}"' for part in name.split("."))


def _output_fields(classes: np.ndarray | None, task: str) -> list[pa.Field]:
    if task == "regression":
        return [pa.field(PREDICTION_COLUMN, pa.float64())]
    assert classes is not None
    label_type = pa.array(classes.tolist()).type if classes.dtype == object else pa.from_numpy_dtype(classes.dtype)
    return [pa.field(proba_column(c), pa.float64()) for c in classes] + [pa.field(PREDICTION_COLUMN, label_type)]


def score_relation(
    con: duckdb.DuckDBPyConnection,
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
    """Score `SELECT * FROM <source_sql>` into a new table `output_table`; the rows written.

    The output holds the input columns in order (any input column named like an output column
    is replaced), then `proba_<class>` per class, then `prediction`. Rows keep the source's
    order. The source streams through a cursor of `con`; a TEMP table or registered object of
    `con` is read whole first (see `_open_source`). `progress` gets the number of rows written
    so far after each chunk. On failure the partly written output table is dropped; nothing
    else is touched.
    """
    if chunk_rows < 1:
        raise NodeError(f"chunk_rows must be positive, got {chunk_rows}")
    if task not in ("binary", "multiclass", "regression"):
        raise NodeError(f"unknown task '{task}'")
    labels = None if task == "regression" else model_classes(pipeline, classes)
    needed, numeric, _ = _required_columns(pipeline, features)
    if getattr(con, "engine", "duckdb") == "spark":
        from mlmon.ml.spark_scoring import score_on_spark

        def score(frame: pd.DataFrame) -> pd.DataFrame:
            return predict_frame(pipeline, frame, needed, labels, task, threshold, positive_class)

        return score_on_spark(con, score, source_sql, output_table, needed, numeric,
                              _output_fields(labels, task), chunk_rows, progress)
    target = _quote_name(output_table)
    reader, duck_types, reader_con = _open_source(con, source_sql, chunk_rows)
    created = False
    written = 0
    try:
        check_source(reader.schema, duck_types, needed, numeric, source_sql)
        added = _output_fields(labels, task)
        added_names = {f.name for f in added}
        kept = [f for f in reader.schema if f.name not in added_names]
        schema = pa.schema(kept + added)
        for batch in reader:
            if batch.num_rows == 0:
                continue
            chunk = pa.Table.from_batches([batch])
            frame = chunk.select(needed).to_pandas()
            scored = predict_frame(pipeline, frame, needed, labels, task, threshold, positive_class)
            arrays = [chunk.column(f.name) for f in kept]
            arrays += [pa.array(scored[f.name].to_numpy(), type=f.type) for f in added]
            table = pa.Table.from_arrays(arrays, schema=schema)
            _write(con, table, target, create=not created)
            created = True
            pause_point("staging_built")
            written += table.num_rows
            if progress is not None:
                progress(written)
        if not created:
            _write(con, schema.empty_table(), target, create=True)
            created = True
    except BaseException:
        reader.close()
        if created:
            con.execute(f"DROP TABLE IF EXISTS {target}")
        raise
    finally:
        if reader_con is not None:
            reader_con.close()
    return written


def _open_source(
    con: duckdb.DuckDBPyConnection, source_sql: str, chunk_rows: int
) -> tuple[pa.RecordBatchReader, dict[str, str], duckdb.DuckDBPyConnection | None]:
    """A batch reader over the source, its DuckDB column types, and the cursor to close after.

    Streaming needs a second cursor: a connection with an open result cannot write. Objects
    local to `con` (TEMP tables, registered DataFrames) are invisible to a cursor; they are
    read whole on `con` instead (they already live in that connection's memory) and cut into
    chunks.
    """
    query = f"SELECT * FROM {source_sql}"
    cursor = con.cursor()
    try:
        relation = cursor.sql(query)
        duck_types = {c: str(t) for c, t in zip(relation.columns, relation.types)}
        return relation.to_arrow_reader(chunk_rows), duck_types, cursor
    except duckdb.CatalogException:
        cursor.close()
    except duckdb.Error as exc:
        cursor.close()
        raise NodeError(f"cannot read {source_sql} to score it: {exc}") from exc
    try:
        relation = con.sql(query)
        duck_types = {c: str(t) for c, t in zip(relation.columns, relation.types)}
        table = relation.to_arrow_table(chunk_rows)
    except duckdb.Error as exc:
        raise NodeError(f"cannot read {source_sql} to score it: {exc}") from exc
    return table.to_reader(max_chunksize=chunk_rows), duck_types, None


def _write(con: duckdb.DuckDBPyConnection, table: pa.Table, target: str, *, create: bool) -> None:
    try:
        if create:
            con.from_arrow(table).create(target)
        else:
            con.from_arrow(table).insert_into(target)
    except duckdb.Error as exc:
        action = "create" if create else "append to"
        raise NodeError(f"cannot {action} scored table {target}: {exc}") from exc
