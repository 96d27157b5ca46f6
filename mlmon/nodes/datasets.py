"""Datasets: files read at use time, SQL queries materialized as tables or views, Python functions."""

from __future__ import annotations

import glob
import importlib.util
from pathlib import Path
from typing import TYPE_CHECKING, Any

import duckdb
from sqlglot import exp

from mlmon.errors import ConfigError, NodeError
from mlmon.nodes.base import PUBLISH_FIELD, BuildContext, Field, Node, NodeKind, NodeOutcome, ProjectView
from mlmon.nodes.text_numbers import advice, count_and_find
from mlmon.warehouse import sql

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["DatasetKind", "resolve_files", "dataset_files"]

_FORMATS = ("csv", "parquet", "json")
_EXTENSIONS = {".csv": "csv", ".tsv": "csv", ".txt": "csv", ".parquet": "parquet", ".pq": "parquet",
               ".json": "json", ".jsonl": "json", ".ndjson": "json"}


def _source(node: Node) -> str:
    if node.raw_sql is not None:
        return "sql"
    return "python" if node.path.endswith(".py") else "files"


def dataset_files(node: Node) -> list[str]:
    files = node.config.get("files")
    return [files] if isinstance(files, str) else list(files or [])


def resolve_files(node: Node, root: Path) -> list[Path]:
    """The files a file dataset names now (globs expanded); an error names the pattern that matched nothing."""
    found: list[Path] = []
    for pattern in dataset_files(node):
        full = pattern if Path(pattern).is_absolute() else str(root / pattern)
        matches = sorted(Path(p) for p in glob.glob(full, recursive=True))
        if not matches:
            raise NodeError(f"no file matches '{pattern}'", location=node.location("files"),
                            hint="check the path and the vars it uses (e.g. --vars '{month: \"2017_05\"}')")
        found.extend(matches)
    return found


def _format(node: Node) -> str:
    declared = node.config.get("format")
    if declared:
        return declared
    first = dataset_files(node)[0] if dataset_files(node) else ""
    return _EXTENSIONS.get(Path(first).suffix.lower(), "csv")


class DatasetKind(NodeKind):
    key = "datasets"
    type = "dataset"
    produces_table = True
    fields = (
        Field("files", (str, list), doc="a path, a glob, or a list of them, relative to the project root"),
        Field("format", (str,), choices=_FORMATS),
        Field("options", (dict,), doc="reader options passed to DuckDB, e.g. {delim: ';'}"),
        PUBLISH_FIELD,
    )

    def validate(self, node: Node, project: "ProjectView") -> list[ConfigError]:
        source = _source(node)
        if source == "files" and not dataset_files(node):
            return [node.error(f"dataset '{node.name}' needs `files:`", hint="or write models/" + node.name + ".sql")]
        if source != "files" and node.config.get("files"):
            return [node.error("a SQL or Python dataset cannot also have `files:`", "files")]
        if source == "files" and not node.config.get("format") and Path(dataset_files(node)[0]).suffix.lower() not in _EXTENSIONS:
            return [node.error("cannot tell the file format from the extension", "files", hint="add `format: csv|parquet|json`")]
        return []

    def relation(self, node: Node, root: Path) -> exp.Expression:
        if _source(node) != "files":
            return sql.table(node.name)
        paths = [p if Path(p).is_absolute() else str(root / p) for p in dataset_files(node)]
        return sql.file_scan(_format(node), paths, node.config.get("options"))

    def records_build(self, node: Node) -> bool:
        return _source(node) != "files"  # a file dataset is read afresh by every reader

    def available(self, node: Node, ctx: "BuildContext") -> str | None:
        if _source(node) == "files":
            try:
                _check_files(node, resolve_files(node, ctx.project.root), ctx.project.root)
            except NodeError as exc:
                return f"{exc.message} ({exc.hint})" if exc.hint else exc.message
            return None
        return super().available(node, ctx)

    def execute(self, node: Node, ctx: "BuildContext") -> NodeOutcome:
        source = _source(node)
        if source == "files":
            files = resolve_files(node, ctx.project.root)
            _check_files(node, files, ctx.project.root)
            relation = self.relation(node, ctx.project.root)
            warnings: list[str] = []
            if _format(node) == "csv":  # a reader sniffed the types: a marker may have made numbers text
                rows, found = count_and_find(ctx.warehouse.con, relation)
                warnings = [f"{node.location('files')}: {text}" for text in advice(found)]
            else:
                rows = ctx.warehouse.con.execute(sql.count_rows(relation).sql("duckdb")).fetchone()[0]
            noun = "file" if len(files) == 1 else "files"
            return NodeOutcome(message=f"{len(files)} {noun}, read at use time", rows=int(rows), warnings=warnings)
        if source == "sql":
            rows = ctx.warehouse.replace(node.name, node.sql or "", node.materialized or "table")
            return NodeOutcome(message=f"{node.materialized}", rows=rows)
        return self._run_python(node, ctx)

    def _run_python(self, node: Node, ctx: "BuildContext") -> NodeOutcome:
        file = ctx.project.root / node.path
        spec = importlib.util.spec_from_file_location(f"mlmon_dataset_{node.name}", file)
        assert spec and spec.loader
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        result = module.dataset(PythonDatasetContext(ctx, node))
        if isinstance(result, duckdb.DuckDBPyRelation):
            result = result.df()
        import pandas as pd  # a Python dataset is the only kind here that needs pandas

        if not isinstance(result, pd.DataFrame):
            raise NodeError(f"dataset() returned {type(result).__name__}, expected a pandas DataFrame",
                            location=node.location())
        rows = ctx.warehouse.replace_from_frame(node.name, result)
        return NodeOutcome(message="table", rows=rows)


def _check_files(node: Node, files: list[Path], root: Path) -> None:
    """An empty or header-only file is an error naming it: read as data, it would give a table
    with one text column `column0`, or turn every column of the files beside it into text."""
    fmt = _format(node)
    has_header = (node.config.get("options") or {}).get("header", True) is not False
    for file in files:
        shown = file.relative_to(root) if file.is_relative_to(root) else file
        if file.stat().st_size == 0:
            raise NodeError(f"{shown} is empty (0 bytes)", location=node.location("files"),
                            hint="write its rows (with a header line), or move it out of the dataset's files")
        if fmt == "csv" and has_header and _header_only(file):
            raise NodeError(f"{shown} has a header line but no rows", location=node.location("files"),
                            hint="add its rows, or move it out of the dataset's files")


def _header_only(file: Path) -> bool:
    with open(file, "rb") as handle:
        head = handle.read(1 << 16)
    lines = [line for line in head.splitlines() if line.strip()]
    return len(lines) <= 1 and len(head) < (1 << 16)


class PythonDatasetContext:
    """What a `def dataset(ctx)` function may use."""

    def __init__(self, ctx: "BuildContext", node: Node | None = None):
        self._ctx = ctx
        self._node = node

    def ref(self, name: str) -> pd.DataFrame:
        return self.relation(name).df()

    def relation(self, name: str) -> duckdb.DuckDBPyRelation:
        return self._ctx.warehouse.con.sql(sql.select_star(self._ctx.project.relation(name)).sql("duckdb"))

    def var(self, name: str, default: Any = None) -> Any:
        if self._node is not None:  # read at run time: recorded with the build like a Jinja var()
            self._node.vars_used.add(name)
        return self._ctx.project.settings.vars.get(name, default)

    @property
    def con(self) -> duckdb.DuckDBPyConnection:
        return self._ctx.warehouse.con


KIND = DatasetKind()
