"""File scans on Spark: DuckDB's `read_csv([...])` / `read_parquet([...])` become temporary views
read by Spark's DataFrame reader, one per file list and options, kept for the command.

A local CSV file is read as text and typed as DuckDB types it (mlmon.warehouse.spark_csv); a
lake's files, or a glob of many, have their schema inferred by Spark, a pass over them (a job or
two). Each file's reader is kept and shared by every list that names the file: overlapping lists
(a month read by two datasets) read it once per command.
"""

from __future__ import annotations

import glob
import hashlib
from pathlib import Path
from typing import Any

import duckdb

from mlmon.warehouse.spark_csv import read_as_duckdb
from mlmon.warehouse.spark_dialect import SparkTranslationError

__all__ = ["FileViews", "TYPED_CSV_FILES"]

# A glob of more CSV files is read by one Spark reader with Spark's inference: a file-by-file
# union of thousands of files would be a plan Spark takes longer to analyse than to run.
TYPED_CSV_FILES = 64


class FileViews:
    """The temporary views of the file lists a connection's statements scan."""

    def __init__(self, spark: Any, root: Path):
        self.spark, self.root = spark, Path(root)
        self._views: dict[str, str] = {}
        self._frames: dict[tuple[str, str, str], Any] = {}
        self._duck: duckdb.DuckDBPyConnection | None = None  # sniffs CSV files as DuckDB reads them

    def view(self, fmt: str, paths: list[str], options: dict[str, Any]) -> str:
        """The temporary view of these files' rows, in the order given (as DuckDB reads them)."""
        # Lake URIs (s3://, abfss://, hdfs://...) are the cluster's to resolve; local paths are
        # relative to the project, as in DuckDB.
        resolved = [p if "://" in p or Path(p).is_absolute() else str(self.root / p) for p in paths]
        key = hashlib.sha256(repr((fmt, resolved, sorted(options.items()))).encode()).hexdigest()[:16]
        if key in self._views:
            return self._views[key]
        missing = [p for p in resolved if "://" not in p and not glob.glob(p)]
        if missing:
            raise SparkTranslationError(f"no file matches {missing[0]}")
        # One reader per file, unioned in the order given: rows keep file order as in DuckDB.
        settings = repr(sorted(options.items()))
        frames = []
        for path in resolved:
            if (fmt, path, settings) not in self._frames:
                self._frames[fmt, path, settings] = self._read(fmt, path, options)
            frames.append(self._frames[fmt, path, settings])
        frame = _union(frames)
        view = f"__mlmon_files_{key}"
        frame.createOrReplaceTempView(view)
        self._views[key] = view
        return view

    def _read(self, fmt: str, path: str, options: dict[str, Any]) -> Any:
        if fmt != "csv":
            return getattr(self.spark.read, fmt)(path)
        files = sorted(glob.glob(path)) if "://" not in path else []
        if 0 < len(files) <= TYPED_CSV_FILES:  # typed as DuckDB types it (mlmon.warehouse.spark_csv), file by file
            typed = [read_as_duckdb(self._csv_reader(options), self._sniffer(), f, options) for f in files]
            if all(frame is not None for frame in typed):
                return _union(typed)
        return self._csv_reader(options).option("inferSchema", "true").csv(path)

    def _csv_reader(self, options: dict[str, Any]) -> Any:
        """A new reader (a reader's options are set in place) with the header, separator and null marker."""
        delimiter = options.get("delim") or options.get("sep") or ","
        reader = self.spark.read.option("header", str(options.get("header", True)).lower()).option("sep", delimiter)
        marker = _null_marker(options.get("nullstr"))
        return reader if marker is None else reader.option("nullValue", marker)

    def _sniffer(self) -> duckdb.DuckDBPyConnection:
        if self._duck is None:
            self._duck = duckdb.connect()
        return self._duck

    def close(self) -> None:
        for view in self._views.values():
            self.spark.catalog.dropTempView(view)
        self._views.clear()
        self._frames.clear()
        if self._duck is not None:
            self._duck.close()
            self._duck = None


def _null_marker(nullstr: Any) -> str | None:
    """Spark's `nullValue` for DuckDB's `nullstr` (a string or a list): Spark reads an empty
    field as NULL already and takes one other marker."""
    markers = [m for m in ([nullstr] if isinstance(nullstr, str) else list(nullstr or [])) if m != ""]
    if len(markers) > 1:
        raise SparkTranslationError(f"nullstr {markers!r}: Spark's CSV reader reads one marker of missing values, "
                                    "besides the empty field", hint="keep one marker, or rewrite the others in the files")
    return markers[0] if markers else None


def _union(frames: list[Any]) -> Any:
    frame = frames[0]
    for other in frames[1:]:
        frame = frame.unionByName(other, allowMissingColumns=True)
    return frame
