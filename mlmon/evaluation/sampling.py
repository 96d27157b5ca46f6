"""The rows an evaluation looks at: a sample of the data copied into a scratch table.

The copy is a real table of the warehouse (in the staging schema, where no reader looks), not a
TEMP table: scoring reads its input through a second cursor, which cannot see another cursor's
TEMP objects. Every scratch table is dropped when the evaluation ends, and leftovers of a killed
build are dropped by the next command that opens the warehouse for writing.

Random samples take the rows with the smallest seeded draws (mlmon.metrics.sqlsample): the
same data and seed give the same rows whatever the file order, the number of threads or the
engine (DuckDB's REPEATABLE reservoir sample promises that only on one thread, on DuckDB), and
identical rows are distinct draws.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Mapping, Sequence

import duckdb
from sqlglot import exp

from mlmon.errors import Location, NodeError, did_you_mean
from mlmon.warehouse.described import relation_columns
from mlmon.metrics.sqlsample import draw_hash_sample, sample_query
from mlmon.warehouse import sql
from mlmon.warehouse.tables import SCRATCH_SCHEMA

__all__ = [
    "SCRATCH_SCHEMA", "Sampling", "SampleCounts", "Scratch", "sample_into", "draw_sample", "hashed_columns", "table_columns",
    "count_rows", "create_table", "with_missing_columns", "drop_columns",
]


@dataclass(frozen=True)
class Sampling:
    """`sampling:` of an evaluation: full | head (first `size` rows) | random (`size`, `seed`),
    `key`: the columns that identify a row (default: the whole row)."""

    method: str = "full"
    size: int | None = None
    seed: int = 0
    key: tuple[str, ...] = ()

    @classmethod
    def from_config(cls, config: Mapping[str, Any] | None) -> "Sampling":
        config = dict(config or {})
        key = config.get("key") or ()
        key = (key,) if isinstance(key, str) else tuple(str(k) for k in key)
        return cls(config.get("method", "full"), config.get("size"), int(config.get("seed", 0) or 0), key)

    def describe(self) -> str:
        if self.method == "full":
            return "all rows"
        if self.method == "head":
            return f"first {self.size:,} rows"
        return f"random {self.size:,} rows (seed {self.seed})"


@dataclass(frozen=True)
class SampleCounts:
    n_rows: int  # rows in the data
    n_evaluated: int  # rows in the sample
    relation: str  # SQL of the sampled rows


class Scratch:
    """Scratch tables of one evaluation; all dropped on exit, whether it succeeded or not."""

    def __init__(self, con: duckdb.DuckDBPyConnection, owner: str):
        self.con = con
        self.owner = owner
        self._token = uuid.uuid4().hex[:8]
        self._tables: list[tuple[str, str]] = []  # (name, TABLE | VIEW)

    def __enter__(self) -> "Scratch":
        self.con.execute(sql.create_schema(SCRATCH_SCHEMA).sql("duckdb"))
        for name, kind in self._stale():
            self._drop(name, kind)
        return self

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None,
                 traceback: TracebackType | None) -> None:
        # Views first: a view over a scratch table goes before the table.
        for name, kind in sorted(reversed(self._tables), key=lambda t: t[1] != "VIEW"):
            self._drop(name, kind)
        self._tables.clear()

    def table(self, role: str) -> str:
        """A fresh scratch table name for `role`, as SQL (schema-qualified, quoted)."""
        return self._name(role, "TABLE")

    def view(self, role: str) -> str:
        """A fresh scratch view name for `role`: rows of a scratch table read in place, not copied."""
        return self._name(role, "VIEW")

    def _name(self, role: str, kind: str) -> str:
        name = f"{self.owner}__{role}_{self._token}"
        if (name, kind) not in self._tables:  # a role named twice is one relation, dropped once
            self._tables.append((name, kind))
        return sql.table(name, SCRATCH_SCHEMA).sql("duckdb")

    def _stale(self) -> list[tuple[str, str]]:
        rows = self.con.execute(
            "SELECT table_name, table_type FROM information_schema.tables WHERE table_schema = ?", [SCRATCH_SCHEMA]
        ).fetchall()
        kinds = [(r[0], "VIEW" if str(r[1]).upper() == "VIEW" else "TABLE") for r in rows if r[0].startswith(f"{self.owner}__")]
        return sorted(kinds, key=lambda k: k[1] != "VIEW")

    def _drop(self, name: str, kind: str = "TABLE") -> None:
        self.con.execute(sql.drop_relation(name, kind, SCRATCH_SCHEMA).sql("duckdb"))


def table_columns(con: duckdb.DuckDBPyConnection, relation_sql: str) -> list[tuple[str, str]]:
    """(name, DuckDB type) of a relation's columns, without reading rows (a scan of unchanged
    files answered from mlmon.warehouse.described)."""
    return relation_columns(con, relation_sql)


def count_rows(con: duckdb.DuckDBPyConnection, relation_sql: str) -> int:
    query = exp.select(exp.Count(this=exp.Star())).from_(relation_sql, dialect="duckdb")
    return int(con.execute(query.sql("duckdb")).fetchone()[0])


def create_table(con: duckdb.DuckDBPyConnection, target_sql: str, query: exp.Expression) -> None:
    """CREATE TABLE <target_sql> AS <query>, the target given as (quoted) SQL text."""
    target = exp.to_table(target_sql, dialect="duckdb")
    con.execute(exp.Create(this=target, kind="TABLE", expression=query).sql("duckdb"))


def _base_table(con: duckdb.DuckDBPyConnection, relation_sql: str) -> bool:
    """Whether `relation_sql` names a stored table (not a view, a file scan or a subquery)."""
    try:
        relation = exp.maybe_parse(relation_sql, into=exp.Table, dialect="duckdb")
    except Exception:  # a subquery or table function is not a plain table name
        return False
    if not isinstance(relation, exp.Table) or not isinstance(relation.this, exp.Identifier):
        return False
    row = con.execute(
        "SELECT 1 FROM information_schema.tables WHERE table_schema = ? AND table_name = ? "
        "AND table_type = 'BASE TABLE'", [relation.db or "main", relation.name]
    ).fetchone()
    return row is not None


def sample_into(con: duckdb.DuckDBPyConnection, source_sql: str, target_sql: str, sampling: Sampling,
                location: Location | None = None) -> SampleCounts:
    """Copy the sampled rows of `source_sql` into the new table `target_sql`.

    `full` over a stored table copies nothing: the counts' `relation` is the table itself, which
    nothing changes while the build holds the warehouse. Files and views are copied, so that
    the many scans of an evaluation do not parse a CSV or run a view's query each time.
    """
    if sampling.key:
        # The evaluated data must hold its key (a reference built elsewhere may not: its draws
        # fall back to the whole row), or a misspelt key would silently sample whole rows.
        present = [name for name, _ in table_columns(con, source_sql)]
        missing = [name for name in sampling.key if name not in present]
        if missing:
            raise NodeError(f"sampling key column '{missing[0]}' is not a column of the data", location=location,
                            hint=did_you_mean(missing[0], present) or "name the columns that identify a row in `sampling.key`")
    if sampling.method == "full":
        if _base_table(con, source_sql):
            n = count_rows(con, source_sql)
            return SampleCounts(n, n, source_sql)
        query: exp.Expression = exp.select("*").from_(source_sql, dialect="duckdb")
    elif sampling.method == "head":
        query = sql.head_rows(source_sql, int(sampling.size or 0))
    elif sampling.method == "random":
        columns = [name for name, _ in table_columns(con, source_sql)]
        query = sample_query(con, source_sql, columns, hashed_columns(columns, sampling.key),
                             int(sampling.size or 0), sampling.seed)
    else:
        raise ValueError(f"unknown sampling method {sampling.method!r}")
    create_table(con, target_sql, query)
    n_evaluated = count_rows(con, target_sql)
    n_rows = n_evaluated if sampling.method == "full" else count_rows(con, source_sql)
    return SampleCounts(n_rows, n_evaluated, target_sql)


def with_missing_columns(con: duckdb.DuckDBPyConnection, source_sql: str, target_sql: str,
                         columns: Mapping[str, str]) -> None:
    """A copy of `source_sql` with the absent `columns` ({name: type}) added as NULLs."""
    added = [exp.alias_(exp.cast(exp.null(), dtype), name, quoted=True) for name, dtype in columns.items()]
    create_table(con, target_sql, exp.select("*", *added).from_(source_sql, dialect="duckdb"))


def drop_columns(con: duckdb.DuckDBPyConnection, table_sql: str, columns: Sequence[str]) -> None:
    table = exp.to_table(table_sql, dialect="duckdb")
    for name in columns:
        drop = exp.Drop(tables=[exp.column(name, quoted=True)], kind="COLUMN")
        con.execute(exp.Alter(this=table.copy(), kind="TABLE", actions=[drop]).sql("duckdb"))


def hashed_columns(columns: Sequence[str], key: Sequence[str] = ()) -> list[str]:
    """The columns a row's draw is computed from: the key when the relation holds all of it
    (a reference built elsewhere may not), else the whole row."""
    present = set(columns)
    return list(key) if key and all(k in present for k in key) else list(columns)


def draw_sample(con: duckdb.DuckDBPyConnection, relation_sql: str, columns: Sequence[str], size: int,
                seed: int, key: Sequence[str] = (), rows: int | None = None) -> Any:
    """At most `size` rows of `columns` as a pandas DataFrame, the rows with the smallest seeded
    draws over `key` (when the relation holds it) or over `columns`. `rows`: the relation's row
    count, when the caller knows it."""
    available = [name for name, _ in table_columns(con, relation_sql)] if key else list(columns)
    return draw_hash_sample(con, relation_sql, columns, hashed_columns(available, key) if key else columns, size, seed,
                            rows=rows)
