"""Column checks of an evaluation that the files already answer, at compile time.

When the evaluated data, the reference or the outcomes are file datasets, their columns are
known before anything runs: a logged output, target, key or period column they lack is a
configuration error naming the file and line. Tables built by the project are checked when the
node starts instead (mlmon.evaluation.subject / outcomes), before it writes anything.

DuckDB sniffs a CSV's dialect and types at a fixed cost of about 20 ms a file, whatever its
size, and every command compiles the project: a glob of a dozen monthly files would add a
quarter of a second to `mlmon ls`. The columns are kept in target/file_columns.json under the
files' paths, sizes and modification times, so the files are described again only when one
of them changed, appeared or went away.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlmon.errors import ConfigError, NodeError

if TYPE_CHECKING:
    from mlmon.nodes.base import Node, ProjectView

__all__ = ["COLUMNS_FILE", "file_column_errors"]

_TEMPORAL = ("DATE", "TIMESTAMP")
COLUMNS_FILE = "file_columns.json"
_KEPT_ENTRIES = 64  # the file's size stays bounded however often vars switch the files


def _is_file_dataset(project: "ProjectView", name: Any) -> bool:
    node = project.nodes.get(str(name)) if isinstance(name, str) else None
    return node is not None and node.type == "dataset" and "files" in node.config


class _Describer:
    """DESCRIBE of file datasets, answered from target/file_columns.json while the files are
    unchanged; one in-memory DuckDB connection, opened on the first miss."""

    def __init__(self, project: "ProjectView"):
        self.project = project
        self.path = project.settings.target_dir / COLUMNS_FILE
        self._kept: dict[str, dict[str, str]] | None = None
        self._added = False
        self._con: Any = None

    def _entries(self) -> dict[str, dict[str, str]]:
        if self._kept is None:
            try:
                loaded = json.loads(self.path.read_text())
                self._kept = loaded if isinstance(loaded, dict) else {}
            except (OSError, ValueError):
                self._kept = {}
        return self._kept

    def _key(self, name: str, relation_sql: str) -> str | None:
        from mlmon.nodes.datasets import resolve_files

        try:
            files = resolve_files(self.project.node(name), self.project.root)
            stats = [(str(f), f.stat().st_size, f.stat().st_mtime_ns) for f in files]
        except (NodeError, OSError):
            return None
        import duckdb  # another DuckDB version may sniff other types

        return hashlib.sha256(json.dumps([duckdb.__version__, relation_sql, stats]).encode()).hexdigest()

    def columns(self, name: Any) -> dict[str, str] | None:
        """{column: type} of a file dataset, or None (not a file dataset, or unreadable now)."""
        if not _is_file_dataset(self.project, name):
            return None
        try:
            relation_sql = self.project.relation(str(name)).sql("duckdb")
            key = self._key(str(name), relation_sql)
            kept = self._entries().get(key) if key else None
            if isinstance(kept, dict) and all(isinstance(v, str) for v in kept.values()):
                return kept
            if self._con is None:
                import duckdb

                self._con = duckdb.connect()
            found = {str(r[0]): str(r[1]) for r in self._con.execute(f"DESCRIBE SELECT * FROM {relation_sql}").fetchall()}
        except Exception:  # a missing or unreadable file is reported by the dataset itself
            return None
        if key:
            entries = self._entries()
            entries.pop(key, None)
            entries[key] = found
            self._added = True
        return found

    def close(self) -> None:
        if self._con is not None:
            self._con.close()
        if self._added:
            _write_atomically(self.path, dict(list(self._entries().items())[-_KEPT_ENTRIES:]))


def _write_atomically(path: Path, value: Any) -> None:
    # Best effort: a project directory that cannot be written only loses the shortcut.
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
        with os.fdopen(fd, "w") as handle:
            json.dump(value, handle)
        os.replace(tmp, path)
    except OSError:
        pass


def _missing(columns: dict[str, str] | None, wanted: list[str]) -> list[str]:
    return [] if columns is None else [c for c in wanted if c and c not in columns]


def file_column_errors(node: "Node", project: "ProjectView") -> list[ConfigError]:
    config: dict[str, Any] = node.config
    truth = config.get("ground_truth") if isinstance(config.get("ground_truth"), dict) else {}
    if not any(_is_file_dataset(project, n) for n in (config.get("data"), config.get("reference"), truth.get("data"))):
        return []
    describer = _Describer(project)
    try:
        return _column_errors(describer, node, project)
    finally:
        describer.close()


def _column_errors(describer: _Describer, node: "Node", project: "ProjectView") -> list[ConfigError]:
    config: dict[str, Any] = node.config
    predictions = config.get("predictions") if isinstance(config.get("predictions"), dict) else None
    truth = config.get("ground_truth") if isinstance(config.get("ground_truth"), dict) else None
    period = config.get("period") if isinstance(config.get("period"), dict) else None
    if predictions is None and truth is None and period is None:
        return []
    proba = (predictions or {}).get("proba")
    outputs = [*(proba.values() if isinstance(proba, dict) else [proba] if isinstance(proba, str) else []),
               *([predictions["prediction"]] if predictions and isinstance(predictions.get("prediction"), str) else [])]
    key = [] if truth is None else ([truth["key"]] if isinstance(truth.get("key"), str) else list(truth.get("key") or []))
    target = config.get("target")
    errors: list[ConfigError] = []

    def report(side: str, name: str, columns: dict[str, str], missing: list[str], field: str, fix: str) -> None:
        errors.append(node.error(f"{side} '{name}' has no column {', '.join(repr(c) for c in missing)} "
                                 f"(columns: {', '.join(sorted(columns))})", field, hint=fix))

    data = describer.columns(config.get("data"))
    if data is not None:
        if missing := _missing(data, outputs):
            report("data", config["data"], data, missing, "predictions", "fix `predictions:` to name the logged columns")
        if missing := _missing(data, key):
            report("data", config["data"], data, missing, "ground_truth", "fix `ground_truth.key`")
        if period and isinstance(period.get("column"), str):
            column = period["column"]
            if column not in data:
                report("data", config["data"], data, [column], "period", "set `period.column` to a timestamp or date column")
            elif not data[column].upper().startswith(_TEMPORAL):
                errors.append(node.error(f"period column '{column}' of data '{config['data']}' has type {data[column]}, "
                                         "not a timestamp or date", "period",
                                         hint="name a TIMESTAMP or DATE column, or cast it in a .sql dataset"))
    reference = config.get("reference")
    ref = describer.columns(reference) if predictions is not None else None
    if ref is not None:
        if missing := _missing(ref, outputs):
            report("reference", reference, ref, missing, "predictions", "the reference must hold the logged outputs too")
        if missing := _missing(ref, [target] if isinstance(target, str) else []):
            report("reference", reference, ref, missing, "target", "the reference rows need their outcomes (`target:`)")
    outcomes = describer.columns(truth.get("data")) if truth else None
    if outcomes is not None:
        if missing := _missing(outcomes, [*key, *([target] if isinstance(target, str) else [])]):
            report("ground truth", truth["data"], outcomes, missing, "ground_truth",
                   "`ground_truth.key` and `target:` must name columns of the outcomes")
    return errors
