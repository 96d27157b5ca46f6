"""The columns of file datasets, for checks at compile time, kept while the files are unchanged.

DuckDB sniffs a CSV's dialect and types at a fixed cost of about 20 ms a file, whatever its
size, and every command compiles the project: a glob of a dozen monthly files would add a
quarter of a second to `mlmon ls`. The columns are kept in target/file_columns.json under the
DuckDB version, the files' paths, sizes and modification times, so the files are described
again only when one of them changed, appeared or went away.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlmon.errors import NodeError

if TYPE_CHECKING:
    from mlmon.nodes.base import ProjectView

__all__ = ["COLUMNS_FILE", "FileColumns", "is_file_dataset"]

COLUMNS_FILE = "file_columns.json"
_KEPT_ENTRIES = 64  # the file's size stays bounded however often vars switch the files


def is_file_dataset(project: "ProjectView", name: Any) -> bool:
    node = project.nodes.get(str(name)) if isinstance(name, str) else None
    return node is not None and node.type == "dataset" and "files" in node.config


class FileColumns:
    """DESCRIBE of file datasets, answered from target/file_columns.json while the files are
    unchanged; one in-memory DuckDB connection, opened on the first miss. A context manager:
    new answers are written when it closes."""

    def __init__(self, project: "ProjectView"):
        self.project = project
        self.path = project.settings.target_dir / COLUMNS_FILE
        self._kept: dict[str, Any] | None = None
        self._added = False
        self._con: Any = None

    def __enter__(self) -> "FileColumns":
        return self

    def __exit__(self, *exc: object) -> None:
        if self._con is not None:
            self._con.close()
        if self._added:
            _write_atomically(self.path, dict(list(self._entries().items())[-_KEPT_ENTRIES:]))

    def _entries(self) -> dict[str, Any]:
        if self._kept is None:
            try:
                loaded = json.loads(self.path.read_text())
                self._kept = loaded if isinstance(loaded, dict) else {}
            except (OSError, ValueError):
                self._kept = {}
        return self._kept

    def _key(self, name: str, relation_sql: str) -> str | None:
        import duckdb  # another DuckDB version may sniff other types

        from mlmon.nodes.datasets import resolve_files

        try:
            files = resolve_files(self.project.node(name), self.project.root)
            stats = [(str(f), f.stat().st_size, f.stat().st_mtime_ns) for f in files]
        except (NodeError, OSError):
            return None
        return hashlib.sha256(json.dumps([duckdb.__version__, relation_sql, stats]).encode()).hexdigest()

    def of(self, name: Any) -> dict[str, str] | None:
        """{column: type} of a file dataset, or None (not a file dataset, or unreadable now)."""
        if not is_file_dataset(self.project, name):
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
