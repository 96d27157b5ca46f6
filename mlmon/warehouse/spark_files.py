"""File scans on Spark: DuckDB's `read_csv([...])` / `read_parquet([...])` become temporary views
read by Spark's DataFrame reader, one per file list and options, kept for the command.

A CSV's schema is inferred by a pass over it (a Spark job or two), so each file's reader is
kept too and shared by every list that names the file: overlapping lists (a month read by two
datasets) infer it once per command.
"""

from __future__ import annotations

import glob
import hashlib
from pathlib import Path
from typing import Any

from mlmon.warehouse.spark_dialect import SparkTranslationError

__all__ = ["FileViews"]


class FileViews:
    """The temporary views of the file lists a connection's statements scan."""

    def __init__(self, spark: Any, root: Path):
        self.spark, self.root = spark, Path(root)
        self._views: dict[str, str] = {}
        self._frames: dict[tuple[str, str, str], Any] = {}

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
        reader = self.spark.read
        if fmt == "csv":
            delimiter = options.get("delim") or options.get("sep") or ","
            reader = reader.option("header", str(options.get("header", True)).lower()).option("inferSchema", "true").option("sep", delimiter)
            marker = _null_marker(options.get("nullstr"))
            if marker is not None:
                reader = reader.option("nullValue", marker)
        # One reader per file, unioned in the order given: rows keep file order as in DuckDB.
        settings = repr(sorted(options.items()))
        frames = []
        for path in resolved:
            if (fmt, path, settings) not in self._frames:
                self._frames[fmt, path, settings] = getattr(reader, fmt)(path)
            frames.append(self._frames[fmt, path, settings])
        frame = frames[0]
        for other in frames[1:]:
            frame = frame.unionByName(other, allowMissingColumns=True)
        view = f"__mlmon_files_{key}"
        frame.createOrReplaceTempView(view)
        self._views[key] = view
        return view

    def close(self) -> None:
        for view in self._views.values():
            self.spark.catalog.dropTempView(view)
        self._views.clear()
        self._frames.clear()


def _null_marker(nullstr: Any) -> str | None:
    """Spark's `nullValue` for DuckDB's `nullstr` (a string or a list): Spark reads an empty
    field as NULL already and takes one other marker."""
    markers = [m for m in ([nullstr] if isinstance(nullstr, str) else list(nullstr or [])) if m != ""]
    if len(markers) > 1:
        raise SparkTranslationError(f"nullstr {markers!r}: Spark's CSV reader reads one marker of missing values, "
                                    "besides the empty field", hint="keep one marker, or rewrite the others in the files")
    return markers[0] if markers else None
