"""The Spark warehouse: user tables in the target's database, system tables in `mlmon`.

Local masters (`local[N]`) keep a Hive metastore (Derby) and managed parquet tables under the
target's `warehouse_dir`, so tables outlive the process like a DuckDB file does; a Spark Connect
URL (`sc://host:port`) uses the cluster's own catalog. One writer per local metastore: the
write lock is a file lock beside it.

Spark has no multi-statement transactions. A table is still built first under its staging name
(a cached temporary view, `mlmon.warehouse.spark_staged`) and only then copied over the old one,
so a failing query leaves the previous table in place. DELETE / UPDATE rebuild a table beside
it and rename the rebuild over it; one a crash left between the drop and the rename is renamed
into place by the next writer.
"""

from __future__ import annotations

import logging
import os
import re
import sys
import warnings
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any, Iterator, Sequence

from mlmon.errors import MlmonError, WarehouseLockedError
from mlmon.warehouse.duckdb import Warehouse
from mlmon.warehouse.jvm_archive import archive_options, cache_dir, discard
from mlmon.warehouse.spark_connection import SparkConnection
from mlmon.warehouse.spark_rewrites import REWRITE_SUFFIX
from mlmon.warehouse.tables import (SYSTEM_SCHEMA, SYSTEM_TABLES, added_column_statements, create_statements,
                                    staging_statements)
from mlmon.warehouse.targets import Target

__all__ = ["SparkWarehouse", "driver_java_options", "is_local", "local_cores", "session_settings", "spark_session", "worker_python"]

_LOG4J = Path(__file__).with_name("log4j2.properties")

# A local master's driver JVM lives for one command and runs many small queries: its time goes
# into compiling Spark's own code, not into running hot loops long enough for the C2 compiler to
# pay off. C1 alone roughly halved the CPU of the example project's evaluations on Spark (bench/
# spark_latency.py). C1 alone also shrinks the JIT's code cache to 48 MB, which a whole build of
# Spark's code can fill ("CodeCache is full. Compiler has been disabled": the rest runs
# interpreted), so the cache keeps its tiered size. A target's own `spark.driver.extraJavaOptions`
# come after, so `-XX:TieredStopAtLevel=4` there restores C2.
_LOCAL_JAVA_OPTIONS = "-XX:TieredStopAtLevel=1 -XX:ReservedCodeCacheSize=240m"
# The default collector, G1, starts a concurrent old-generation cycle for every object of half a
# region or more (Arrow batches, task results): 42 cycles and 7 s of GC threads in one example
# build on Spark, on a 2-core machine whose other core runs the build. The throughput collector
# has no concurrent cycles: about 2 s less per example build (bench/spark_latency.py, 7 pairs).
# Only when the target names no collector of its own: the JVM refuses two.
_LOCAL_COLLECTOR = "-XX:+UseParallelGC"

_SESSION_DEFAULTS = {
    "spark.ui.enabled": "false",
    "spark.ui.showConsoleProgress": "false",
    "spark.sql.session.timeZone": "UTC",
    "spark.sql.timestampType": "TIMESTAMP_NTZ",  # DuckDB's TIMESTAMP has no time zone either
    "spark.sql.ansi.enabled": "false",  # x / 0 is NULL, as in DuckDB
    "spark.sql.execution.arrow.pyspark.enabled": "true",
    "spark.sql.shuffle.partitions": "8",
    "spark.sql.legacy.createHiveTableByDefault": "false",
}

# A local master runs one command's many small queries on a few cores. Spark's machinery for
# big data costs more there than it saves (bench/spark_latency.py, the example project: 105 s
# with Spark's defaults, 85 s with these): adaptive execution re-plans every query at each
# shuffle, and whole-stage code generation compiles each query's Java with Janino before a row
# is read. A shuffle gets one partition per core. A target's `conf` overrides any of them.
# (Interpreting expressions too, `spark.sql.codegen.factoryMode: NO_CODEGEN`, saves more but
# breaks Spark's own catalog API: `spark.catalog.listTables` cannot decode its rows.)
_LOCAL_DEFAULTS = {
    "spark.sql.adaptive.enabled": "false",
    "spark.sql.codegen.wholeStage": "false",
}


def spark_session(target: Target) -> Any:
    """The process's SparkSession for `target`, created on first use."""
    try:
        from pyspark.errors import PySparkRuntimeError
        from pyspark.sql import SparkSession
    except ImportError:
        raise MlmonError(f"target '{target.name}' runs on Spark, but pyspark is not installed",
                         hint="pip install 'mlmon[spark]' (needs Java 17 or later)") from None
    local = is_local(target)
    if local:
        os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")  # a local run must not depend on the host's DNS
    python = worker_python(target)
    if python is not None:
        # pyspark starts its workers with $PYSPARK_PYTHON (default: `python3` from PATH, which,
        # when mlmon runs from a venv that is not activated, lacks mlmon's libraries).
        os.environ["PYSPARK_PYTHON"] = python
    archive = ""
    if local:
        archive = archive_options(cache_dir(), target.conf.get("spark.driver.extraJavaOptions"),
                                  target.conf.get("spark.driver.extraClassPath", ""))
    _quiet_python_side()
    try:
        session = _builder(SparkSession, target, python, archive).getOrCreate()
    except PySparkRuntimeError:
        if not archive:
            raise
        discard(archive)  # a JVM that cannot map the archive does not start at all
        session = _builder(SparkSession, target, python, "").getOrCreate()
    if not target.is_connect:
        session.sparkContext.setLogLevel("ERROR")
        wanted = (target.warehouse_dir / "tables").as_posix()
        actual = session.conf.get("spark.sql.warehouse.dir").removeprefix("file:")
        if actual.rstrip("/") != wanted.rstrip("/"):
            raise MlmonError(f"this process already runs Spark for another warehouse ({actual})",
                             hint="run one Spark target per process")
    return session


def is_local(target: Target) -> bool:
    return (target.master or "").startswith("local")


def local_cores(master: str) -> int:
    """The cores of a local master: `local` 1, `local[4]` (or `local[4,2]`) 4, `local[*]` all."""
    inside = master.partition("[")[2].partition("]")[0].split(",")[0].strip()
    if inside == "*":
        return os.cpu_count() or 1
    return max(1, int(inside)) if inside.isdigit() else 1


def session_settings(target: Target) -> dict[str, str]:
    """mlmon's Spark settings for `target`, the target's own `conf` over them."""
    settings = dict(_SESSION_DEFAULTS)
    if is_local(target):
        settings.update(_LOCAL_DEFAULTS)
        settings["spark.sql.shuffle.partitions"] = str(local_cores(target.master or ""))
    return {**settings, **target.conf}


def _builder(session_class: Any, target: Target, python: str | None, archive: str) -> Any:
    builder = session_class.builder.appName("mlmon")
    if target.is_connect:
        builder = builder.remote(target.master)
    else:
        home = target.warehouse_dir
        home.mkdir(parents=True, exist_ok=True)
        metastore = (home / "metastore_db").as_posix()
        builder = (builder.master(target.master)
                   .config("spark.sql.warehouse.dir", (home / "tables").as_posix())
                   .config("spark.sql.catalogImplementation", "hive")
                   .config("spark.hadoop.javax.jdo.option.ConnectionURL", f"jdbc:derby:;databaseName={metastore};create=true")
                   .config("spark.driver.extraJavaOptions", driver_java_options(target, archive)))
    if python is not None and not target.is_connect:
        builder = builder.config("spark.pyspark.python", python)
    for key, value in session_settings(target).items():
        if key == "spark.driver.extraJavaOptions" and not target.is_connect:
            continue  # joined to mlmon's own options above
        builder = builder.config(key, value)
    return builder


def driver_java_options(target: Target, archive: str) -> str:
    """The driver JVM's options: mlmon's (for a local master), the class-data `archive`'s, then
    the target's own `spark.driver.extraJavaOptions`, which therefore win."""
    own = target.conf.get("spark.driver.extraJavaOptions") or ""
    local = []
    if is_local(target):
        local = [_LOCAL_JAVA_OPTIONS, "" if re.search(r"-XX:\+Use\w+GC\b", own) else _LOCAL_COLLECTOR]
    return " ".join(filter(None, [
        f"-Dderby.system.home={target.warehouse_dir.as_posix()} -Dlog4j2.configurationFile={_LOG4J.as_uri()}",
        *local, archive, own]))


def worker_python(target: Target) -> str | None:
    """The Python the Spark workers run: the target's `python:`, else on a local master the
    interpreter running mlmon (the workers unpickle its functions and import its libraries);
    None leaves a cluster's own setting alone."""
    if target.python:
        return target.python
    if is_local(target):
        return sys.executable
    return None


def _quiet_python_side() -> None:
    """pyspark warns about pandas versions and logs every failed query as JSON; mlmon reports
    failures itself, once, with the node that failed."""
    from pyspark.logger import PySparkLogger

    warnings.filterwarnings("ignore", category=FutureWarning, module=r"pyspark\.")
    warnings.filterwarnings("ignore", category=UserWarning, module=r"pyspark\.")
    PySparkLogger.getLogger("SQLQueryContextLogger").setLevel(logging.CRITICAL)


class SparkWarehouse(Warehouse):
    """`Warehouse` on Spark: the same methods, the SQL translated by `SparkConnection`."""

    def __init__(self, target: Target, root: Path, read_only: bool = False):
        self.target = target
        self.target_name = target.name
        self.path = target.warehouse_dir or Path(".")
        self.read_only = read_only
        self.dialect = "duckdb"  # what the connection reads; it writes Spark SQL itself
        self._lock = None if read_only or target.is_connect else _write_lock(self.path)
        self._log: dict[str, list[dict[str, Any]]] = {}  # rows of `log_rows`, until `flush_log`
        try:
            spark = spark_session(target)
            # Answers are kept only by the one writer: a reader may run beside a writer, and on
            # Spark Connect so may another writer.
            self.con = SparkConnection(spark, root, {"main": target.schema}, memoise=self._lock is not None)
            if not read_only:
                self.con.execute("CREATE SCHEMA IF NOT EXISTS \"main\"")
                older = self._system_tables()  # the tables created below have every column
                for statement in create_statements("duckdb"):
                    self.con.execute(statement)
                self._add_new_columns(older)
                if self._lock is not None:  # the only writer: what is staged is a dead command's
                    self.clear_leftovers()
                else:  # Spark Connect has no lock here: another writer may be staging right now
                    self.con.execute(staging_statements("duckdb")[-1])
            spark.catalog.setCurrentDatabase(target.schema)
        except BaseException:
            self._release()
            raise

    def close(self, publish: bool = True) -> None:  # a Spark catalog has no published copy
        try:
            try:
                self.flush_log()
            finally:
                self.con.close()
        finally:
            self._release()

    def log_rows(self, table: str, rows: Sequence[dict[str, Any]]) -> None:
        """Kept, and written with the command's other log rows in one INSERT per table by
        `flush_log` (at the end of every build, and before a read of these tables): an INSERT
        is a Spark job. A command killed outright loses them; its tables stay as written."""
        self._log.setdefault(table, []).extend(rows)

    def flush_log(self, *tables: str) -> None:
        # A reader of one log table writes that table's rows only: the build's end writes the
        # rest, one INSERT each, rather than one more per reader.
        named = set(tables or self._log)
        pending = {table: rows for table, rows in self._log.items() if table in named}
        self._log = {table: rows for table, rows in self._log.items() if table not in named}
        for table, rows in pending.items():
            self.insert_rows(table, rows)

    def _release(self) -> None:
        if self._lock is not None:
            self._lock.close()
            self._lock = None

    @property
    def artifact_dir(self) -> Path:
        return self.path / "artifacts"

    def _system_tables(self) -> list[str]:
        return [name for database, name, _ in self.con.catalog_tables()
                if database == SYSTEM_SCHEMA and name in SYSTEM_TABLES]

    def _add_new_columns(self, older: list[str]) -> None:
        """A warehouse written by an older mlmon gets the system-table columns added since (as
        on DuckDB); the columns are read from the `older` system tables' schemas, not from every table's."""
        spark = self.con.spark
        existing = {name: {f.name for f in spark.table(f"`{SYSTEM_SCHEMA}`.`{name}`").schema.fields} for name in older}
        for statement in added_column_statements(existing, "duckdb"):
            self.con.execute(statement)

    def _clear_legacy_leftovers(self) -> None:
        super()._clear_legacy_leftovers()
        self._finish_rewrites()

    def _finish_rewrites(self) -> None:
        """DELETE / UPDATE rebuild a table as `<name>__mlmon_rewrite` beside it, drop the table
        and rename the rebuild over it. What a killed command left of that: while the table is
        still there the rebuild never replaced it and is dropped; once the table is gone the
        rebuild holds its rows and the rename is finished."""
        listed = self.con.catalog_tables()
        present = {(db, name) for db, name, _ in listed}
        leftovers = [(db, name) for db, name, kind in listed if kind == "BASE TABLE" and name.endswith(REWRITE_SUFFIX)]
        for database, name in leftovers:
            original, rewrite = name[:-len(REWRITE_SUFFIX)], f"`{database}`.`{name}`"
            if (database, original) in present:
                self.con.spark.sql(f"DROP TABLE {rewrite}")
            else:
                self.con.spark.sql(f"ALTER TABLE {rewrite} RENAME TO `{database}`.`{original}`")
        if leftovers:
            self.con.catalog_changed()

    def _staged_tables(self) -> int:
        return 1  # dropping an empty staging schema costs Spark less than listing it

    def relation_type(self, name: str, schema: str = "main") -> str | None:
        kind = self.con.relation_kind(name, schema)  # the catalog's listing, kept until mlmon changes a table
        return None if kind is None else ("view" if kind == "VIEW" else "table")

    @contextmanager
    def transaction(self) -> Iterator[SparkConnection]:
        yield self.con  # statements apply one by one (module docstring)


def _write_lock(home: Path) -> ExitStack:
    from mlmon.warehouse.lock import LockBusy, exclusive_lock

    held = ExitStack()
    try:
        held.enter_context(exclusive_lock(home / "mlmon.lock"))
    except LockBusy as busy:
        raise WarehouseLockedError(
            f"the Spark warehouse {home} is being written by {busy.holder.describe()}",
            hint="wait for that command to finish, then run this one again",
        ) from None
    return held
