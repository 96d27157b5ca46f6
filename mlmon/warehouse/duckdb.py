"""The DuckDB warehouse: one connection per command, the write lock, and atomic swaps.

Every write that replaces a user table builds the new table in the staging schema first and
swaps it in inside one transaction, so a failed or killed build leaves the previous table
untouched and shows no half-built one: the staging schema is where no reader looks (it is never
published), and the next command that opens the warehouse for writing empties it.

A command that writes takes mlmon's own lock (`<file>.lock`, recording its PID and command)
before DuckDB's, so a second command can say which mlmon command it waits for, or that the
holder is some other program. When a command that changed the warehouse closes it, the
read-only copy for BI tools is published (mlmon.warehouse.publish).
"""

from __future__ import annotations

import re
import sys
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterator, Sequence

import duckdb
from sqlglot import exp

from mlmon.chaos import pause_point
from mlmon.errors import MlmonError, WarehouseLockedError
from mlmon.warehouse import sql
from mlmon.warehouse.lock import Holder, LockBusy, exclusive_lock, read_holder
from mlmon.warehouse.tables import (CATALOG, LEGACY_SCRATCH_SCHEMA, LEGACY_STAGING_SUFFIX, STAGING_SCHEMA, SYSTEM_SCHEMA,
                                    SYSTEM_TABLES, added_column_statements, create_statements, staging_statements)

if TYPE_CHECKING:
    import pandas as pd

    from mlmon.warehouse.publish import PublishPlan

__all__ = ["Warehouse", "TEMP_ARTIFACT_GLOB"]

# mlmon.ml.artifacts.save_model writes `.v<N>.skops.<random>` beside the artifact, then renames it.
TEMP_ARTIFACT_GLOB = ".*.skops.*"


class Warehouse:
    """A DuckDB database file holding user tables (schema main) and system tables (schema mlmon)."""

    def __init__(self, path: Path, read_only: bool = False, search_path: Path | None = None,
                 storage_version: str | None = None, publish: "PublishPlan | None" = None):
        self.path = Path(path)
        self.read_only = read_only
        self.dialect = "duckdb"  # the SQL `con` accepts
        self.target_name = "duckdb"  # the target's name, recorded in mlmon.node_results
        self.storage_version = storage_version
        self.publish = publish  # what the published copy holds; None: this warehouse is not published
        self.modified = False  # set by every write; a command that wrote publishes on close
        self._held = ExitStack()
        if not read_only:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            try:
                self._held.enter_context(exclusive_lock(self.lock_path))
            except LockBusy as busy:
                raise _locked_by_mlmon(self.path, busy.holder) from None
        elif not self.path.exists():
            raise MlmonError(f"no warehouse at {self.path}", hint="run `mlmon build` first")
        # Attached under a fixed catalog name, whatever the file is called, so the code can
        # qualify names; the views it creates never name a catalog, so that a client opening
        # the file directly (where the catalog is the file's stem) reads them unchanged.
        self.con = duckdb.connect()
        options = ["READ_ONLY"] if read_only else []
        if storage_version and not read_only and not self.path.exists():  # an existing file keeps its format
            options.append(f"STORAGE_VERSION {exp.Literal.string(storage_version).sql('duckdb')}")
        mode = f" ({', '.join(options)})" if options else ""
        try:
            self.con.execute(f"ATTACH {exp.Literal.string(str(self.path)).sql('duckdb')} AS {CATALOG}{mode}")
        except duckdb.Error as exc:
            self.con.close()
            self._held.close()
            raise _open_error(self.path, exc, read_holder(self.lock_path), publish.path if publish else None) from None
        self.con.execute(f"USE {CATALOG}")
        # Times with a zone are truncated, cast and printed in UTC whatever the machine's zone, as
        # on Spark (spark.sql.session.timeZone): the same project gives the same periods anywhere.
        self.con.execute("SET TimeZone = 'UTC'")
        if search_path is not None:  # relative file paths in SQL resolve against the project
            self.con.execute(f"SET file_search_path = {exp.Literal.string(str(search_path)).sql('duckdb')}")
        if not read_only:
            for statement in create_statements(self.dialect):
                self.con.execute(statement)
            self._add_new_system_columns()
            self.clear_leftovers()

    def _add_new_system_columns(self) -> None:
        """A warehouse written by an older mlmon gets the system-table columns added since."""
        existing: dict[str, set[str]] = {}
        for table, column in self.con.execute(
                "SELECT table_name, column_name FROM information_schema.columns WHERE table_catalog = ? "
                "AND table_schema = ?", [CATALOG, SYSTEM_SCHEMA]).fetchall():
            existing.setdefault(table, set()).add(column)
        for statement in added_column_statements(existing, self.dialect):
            self.con.execute(statement)

    def clear_leftovers(self) -> None:
        """Drop the staging and scratch tables and the temporary artifact files a killed command
        left behind. Only a writer calls this, and there is one writer at a time."""
        statements = staging_statements(self.dialect)
        if not self._staged_tables():  # nothing to drop: no write (and no WAL entry) needed
            statements = statements[-1:]
        for statement in statements:
            self.con.execute(statement)
        self._clear_legacy_leftovers()
        if self.artifact_dir.is_dir():
            for leftover in self.artifact_dir.rglob(TEMP_ARTIFACT_GLOB):
                leftover.unlink(missing_ok=True)

    @property
    def artifact_dir(self) -> Path:
        """Where model artifacts of this warehouse live: beside its file, one set per target."""
        return self.path.parent / "artifacts"

    @property
    def lock_path(self) -> Path:
        return self.path.with_name(self.path.name + ".lock")

    def close(self, publish: bool = True) -> None:
        """Close the connection (publishing first if this command wrote), then release the lock."""
        try:
            # A writer publishes what it changed, or a copy that is missing (a warehouse built
            # before publishing existed, or whose last publisher was interrupted).
            stale = self.publish is not None and (self.modified or not self.publish.path.exists())
            if publish and stale and not self.read_only:
                from mlmon.warehouse.publish import publish_copy

                try:
                    publish_copy(self)
                except (OSError, duckdb.Error) as exc:  # the build itself is done and committed
                    print(f"warning: could not publish {self.publish.path}: {exc}", file=sys.stderr)
        finally:
            self.con.close()
            self._held.close()

    def _clear_legacy_leftovers(self) -> None:
        # Staging tables an older mlmon left beside the tables they were to replace.
        rows = self.con.execute(
            "SELECT table_schema, table_name FROM information_schema.tables WHERE table_catalog = ? "
            "AND ((table_schema IN ('main', ?) AND ends_with(table_name, ?)) OR table_schema = ?)",
            [CATALOG, SYSTEM_SCHEMA, LEGACY_STAGING_SUFFIX, LEGACY_SCRATCH_SCHEMA]).fetchall()
        for schema, name in rows:
            self.con.execute(sql.drop_relation(name, "TABLE", schema).sql(self.dialect))

    def _staged_tables(self) -> int:
        return int(self.con.execute(
            "SELECT count(*) FROM information_schema.tables WHERE table_catalog = ? AND table_schema = ?",
            [CATALOG, STAGING_SCHEMA]).fetchone()[0])

    def __enter__(self) -> "Warehouse":
        return self

    def __exit__(self, exc_type: type[BaseException] | None, *exc: object) -> None:
        # Interrupted (Ctrl-C): release at once; the next command that writes publishes.
        self.close(publish=exc_type is None or issubclass(exc_type, Exception))

    # -- reading ------------------------------------------------------------------------------

    def relation_type(self, name: str, schema: str = "main") -> str | None:
        """'table', 'view' or None."""
        row = self.con.execute(
            "SELECT table_type FROM information_schema.tables"
            " WHERE table_catalog = ? AND table_schema = ? AND table_name = ?",
            [CATALOG, schema, name],
        ).fetchone()
        if row is None:
            return None
        return "view" if row[0] == "VIEW" else "table"

    def exists(self, name: str, schema: str = "main") -> bool:
        return self.relation_type(name, schema) is not None

    def query_df(self, query: exp.Expression | str, params: Sequence[Any] | None = None) -> pd.DataFrame:
        text = query.sql(self.dialect) if isinstance(query, exp.Expression) else query
        return self.con.execute(text, params or []).df()

    # -- writing ------------------------------------------------------------------------------

    @contextmanager
    def transaction(self) -> Iterator[duckdb.DuckDBPyConnection]:
        self.modified = True
        self.con.execute("BEGIN TRANSACTION")
        try:
            yield self.con
        except BaseException:
            self.con.execute("ROLLBACK")
            raise
        self.con.execute("COMMIT")

    def staging_name(self, name: str) -> str:
        """Where `name` is built before it is swapped in, as quoted SQL (in the staging schema)."""
        return sql.table(name, STAGING_SCHEMA).sql(self.dialect)

    def replace(self, name: str, query: exp.Expression | str, materialized: str = "table") -> int | None:
        """Build `name` from a query, keeping the old relation if the query fails."""
        self.modified = True
        if materialized == "view":
            create = sql.create_view_as(name, query).sql(self.dialect)
            with self.transaction() as con:
                if self.relation_type(name) == "table":
                    con.execute(sql.drop_relation(name, "TABLE").sql(self.dialect))
                con.execute(create)
            return None
        try:
            self.con.execute(sql.create_table_as(name, query, STAGING_SCHEMA).sql(self.dialect))
        except BaseException:
            self.drop_staging(name)
            raise
        return self.swap_in(name)

    def replace_from_frame(self, name: str, frame: pd.DataFrame) -> int | None:
        self.modified = True
        self.con.register("__mlmon_frame", frame)
        try:
            self.con.execute(sql.create_table_as(name, "SELECT * FROM __mlmon_frame", STAGING_SCHEMA).sql(self.dialect))
        finally:
            self.con.unregister("__mlmon_frame")
        return self.swap_in(name)

    def swap_in(self, name: str) -> int:
        """Atomically replace `name` with its staging table (built by the caller); returns rows.

        A table cannot be renamed into another schema, so the staging table is copied (DuckDB
        copies a table's blocks far faster than any query built it).
        """
        # Counted before the swap, from the staging table: a cached one on Spark, whose count
        # is known without a job (on DuckDB, either count is metadata).
        rows = int(self.con.execute(sql.count_rows(sql.table(name, STAGING_SCHEMA)).sql(self.dialect)).fetchone()[0])
        pause_point("before_swap")
        with self.transaction() as con:
            current = self.relation_type(name)
            if current:
                con.execute(sql.drop_relation(name, current.upper()).sql(self.dialect))
            pause_point("inside_swap")
            con.execute(sql.create_table_as(name, exp.select("*").from_(sql.table(name, STAGING_SCHEMA))).sql(self.dialect))
            self.drop_staging(name)
        return rows

    def drop_staging(self, name: str) -> None:
        self.con.execute(sql.drop_relation(name, "TABLE", STAGING_SCHEMA).sql(self.dialect))

    def insert_rows(self, table: str, rows: Sequence[dict[str, Any]]) -> None:
        """Append rows to a system table (columns missing from a row are NULL)."""
        if not rows:
            return
        self.modified = True
        columns = SYSTEM_TABLES[table].column_names
        statement = sql.insert_values(table, columns, SYSTEM_SCHEMA)
        self.con.executemany(statement, [[row.get(c) for c in columns] for row in rows])

    def log_rows(self, table: str, rows: Sequence[dict[str, Any]]) -> None:
        """Append rows to a system table of the command's log (`node_results`, `node_builds`,
        `check_results`): here at once; an engine that pays a job per statement keeps them until
        `flush_log`, which the build calls when it ends and a reader of one of those tables,
        for that table, before it reads."""
        self.insert_rows(table, rows)

    def flush_log(self, *tables: str) -> None:
        """Write the rows `log_rows` kept for `tables` (every table when none is named; none is
        kept here)."""


def _locked_by_mlmon(path: Path, holder: Holder) -> WarehouseLockedError:
    return WarehouseLockedError(
        f"the warehouse {path} is locked by {holder.describe()} (DuckDB allows one writer at a time)",
        hint="wait for that command to finish, then run this one again",
    )


def _open_error(path: Path, exc: duckdb.Error, holder: Holder, published: Path | None) -> MlmonError:
    text = str(exc)
    if "storage version" in text.lower():
        return MlmonError(f"cannot open the warehouse {path}: {text}",
                          hint="check `storage_version` of the target in mlmon_project.yml (e.g. v1.4.0)")
    if not isinstance(exc, duckdb.IOException) or "lock" not in text.lower():
        return MlmonError(f"cannot open the warehouse {path}: {text}")
    match = re.search(r"held in (.*?) \(PID (\d+)\)", text) or re.search(r"()PID (\d+)", text)
    pid = int(match.group(2)) if match else None
    if holder.pid is not None and holder.pid == pid:
        return _locked_by_mlmon(path, holder)
    program = f"{match.group(1).strip()} " if match and match.group(1) else ""
    who = f"another process, not an mlmon command: {program}(PID {pid})" if pid else "another process"
    readers = f"open the published copy {published}" if published else "open the published copy in target/published/"
    return WarehouseLockedError(
        f"the warehouse {path} is locked by {who} (DuckDB allows one writer at a time)",
        hint=f"close that program's connection; BI tools and notebooks should {readers}, which mlmon never locks",
    )
