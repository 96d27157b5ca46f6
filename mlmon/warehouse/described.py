"""The columns of file scans, kept for the process while the files are unchanged.

DESCRIBE of `read_csv([...])` sniffs every file again (about 20 ms a CSV file, whatever its
size), and an evaluation asks the columns of its data several times: the plan, the join of
the outcomes, the period column, the kept rows. What the files hold cannot change while none
of them does, so an answer is kept under the engine, the scan's SQL and every file's path,
size and modification time. Only scans of absolute paths are kept: a relative one resolves
against the warehouse's search path, which this key does not see.
"""

from __future__ import annotations

import glob
import os
import re
from typing import Any, Callable

__all__ = ["described_file_scan", "relation_columns"]

_KEPT = 256  # answers held at once; the oldest go first
_LITERAL = r"'((?:[^']|'')*)'"
_FILE_SCAN = re.compile(r"\s*READ_(?:CSV|PARQUET|JSON)\(\s*\[((?:\s*'(?:[^']|'')*'\s*,?)*)\]", re.IGNORECASE)
_kept: dict[tuple[Any, ...], list[tuple[str, str]]] = {}


def _files_key(con: Any, relation_sql: str) -> tuple[Any, ...] | None:
    match = _FILE_SCAN.match(relation_sql)
    if match is None:
        return None
    state = []
    for literal in re.findall(_LITERAL, match.group(1)):
        path = literal.replace("''", "'")
        if not os.path.isabs(path):
            return None
        # A name with brackets may be a file (DuckDB reads it so) rather than a pattern.
        files = [path] if os.path.isfile(path) else sorted(glob.glob(path))
        try:
            stats = [(f, os.stat(f)) for f in files]
        except OSError:
            return None
        state += [(f, st.st_size, st.st_mtime_ns) for f, st in stats]
    return (type(con).__name__, relation_sql, tuple(state))


def described_file_scan(con: Any, relation_sql: str,
                        describe: Callable[[], list[tuple[str, str]]]) -> list[tuple[str, str]]:
    """`describe()`, or its kept answer when `relation_sql` is a scan of unchanged files."""
    key = _files_key(con, relation_sql)
    if key is None:
        return describe()
    if key not in _kept:
        if len(_kept) >= _KEPT:
            del _kept[next(iter(_kept))]
        _kept[key] = describe()
    return list(_kept[key])


def relation_columns(con: Any, relation_sql: str) -> list[tuple[str, str]]:
    """(name, DuckDB type) of a relation's columns, without reading rows; a scan of unchanged
    files is described once."""
    return described_file_scan(con, relation_sql, lambda: [
        (str(r[0]), str(r[1])) for r in con.execute(f"DESCRIBE SELECT * FROM {relation_sql}").fetchall()])
