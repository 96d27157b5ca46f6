"""The published copy: a read-only snapshot of the warehouse for BI tools and notebooks.

DuckDB lets one process write a file and nobody else open it meanwhile, so a BI tool pointed
at the warehouse itself would block every build (and be blocked by it). Instead, after every
command that changed the warehouse, mlmon writes a new file holding schema `mlmon`, the store
views and the user relations whose node sets `publish: true`, then renames it over
`target/published/<warehouse file name>`. A reader that holds the old file open keeps reading
it (the rename does not touch an open file) and sees the new one on its next connection.

Only named objects are copied, so staging tables and scratch schemas never reach readers. The
copy is written in the target's storage format (DuckDB 1.4 by default) whatever the
warehouse's own format, and its views name no catalog: they work under any file name.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Mapping

import sqlglot
from sqlglot import exp

from mlmon.warehouse import sql
from mlmon.warehouse.tables import CATALOG, LEGACY_STAGING_SUFFIX, SYSTEM_SCHEMA

if TYPE_CHECKING:
    from mlmon.warehouse.duckdb import Warehouse

__all__ = ["PublishPlan", "publish_copy", "store_views"]

_COPY = "mlmon_publishing"  # the new copy's catalog while it is written


@dataclass(frozen=True)
class PublishPlan:
    """What a warehouse publishes and where: built from the project when it opens the warehouse."""

    path: Path  # target/published/<warehouse file name>
    stores: tuple[str, ...] = ()  # evaluation stores: their views are published
    # `publish: true` nodes: the SQL relation to copy (a file scan), or None for their warehouse table
    relations: Mapping[str, str | None] = field(default_factory=lambda: MappingProxyType({}))
    storage_version: str | None = None
    # The views mlmon itself creates for the stores, from its own tables alone, names no node may
    # take: published without parsing their SQL (a wide store view takes sqlglot tens of ms).
    own_views: frozenset[str] = frozenset()


def _literal(text: str) -> str:
    return exp.Literal.string(text).sql("duckdb")


def _reads_only_system_tables(view_sql: str) -> bool:
    try:
        statement = sqlglot.parse_one(view_sql, read="duckdb")
    except sqlglot.errors.ParseError:
        return False
    query = statement.expression if isinstance(statement, exp.Create) else statement
    tables = list(query.find_all(exp.Table)) if query is not None else []
    return bool(tables) and all(t.db == SYSTEM_SCHEMA and not t.catalog for t in tables)


def store_views(warehouse: "Warehouse", stores: tuple[str, ...],
                own_views: frozenset[str] = frozenset()) -> list[tuple[str, str]]:
    """(name, CREATE VIEW statement) of every view of the given stores: `<store>` and
    `<store>_<suffix>` views in schema main that read nothing but mlmon's tables (which
    `own_views`, mlmon's own, do by construction)."""
    rows = warehouse.con.execute(
        "SELECT view_name, sql FROM duckdb_views() WHERE database_name = ? AND schema_name = 'main' "
        "AND NOT internal ORDER BY view_name", [CATALOG],
    ).fetchall()
    wanted = set(stores)
    return [(name, text) for name, text in rows
            if (name in wanted or any(name.startswith(store + "_") for store in wanted))
            and (name in own_views or _reads_only_system_tables(text))]


def _system_tables(warehouse: "Warehouse") -> list[str]:
    rows = warehouse.con.execute(
        "SELECT table_name FROM duckdb_tables() WHERE database_name = ? AND schema_name = ? ORDER BY table_name",
        [CATALOG, SYSTEM_SCHEMA],
    ).fetchall()
    return [name for (name,) in rows if not name.endswith(LEGACY_STAGING_SUFFIX)]


def publish_copy(warehouse: "Warehouse") -> Path:
    """Write the published copy of `warehouse` (through its open connection) and swap it in."""
    plan = warehouse.publish
    assert plan is not None
    final = plan.path
    final.parent.mkdir(parents=True, exist_ok=True)
    # We hold the warehouse's write lock, so no other publisher is running: anything left by
    # one that died is garbage.
    for leftover in final.parent.glob(f".{final.name}.*.tmp*"):
        leftover.unlink(missing_ok=True)
    fresh = final.with_name(f".{final.name}.{os.getpid()}.tmp")
    con = warehouse.con
    version = f", STORAGE_VERSION {_literal(plan.storage_version)}" if plan.storage_version else ""
    con.execute(f"ATTACH {_literal(str(fresh))} AS {_COPY} (READ_WRITE{version})")
    try:
        con.execute(f'CREATE SCHEMA {_COPY}."{SYSTEM_SCHEMA}"')
        for table in _system_tables(warehouse):
            source = exp.table_(table, db=SYSTEM_SCHEMA, catalog=CATALOG, quoted=True)
            con.execute(_copy_table(table, SYSTEM_SCHEMA, sql.select_star(source).sql("duckdb")))
        for name, relation in sorted(plan.relations.items()):
            if relation is None and warehouse.relation_type(name) is None:
                continue  # not built yet
            source = relation or exp.table_(name, db="main", catalog=CATALOG, quoted=True).sql("duckdb")
            con.execute(_copy_table(name, "main", f"SELECT * FROM {source}"))
        views = store_views(warehouse, plan.stores, plan.own_views)
        # Views are created from inside the copy so that their names bind there.
        con.execute(f"USE {_COPY}")
        for _, statement in views:
            con.execute(statement)
        con.execute(f"USE {CATALOG}")
        con.execute(f"CHECKPOINT {_COPY}")
    except BaseException:
        con.execute(f"USE {CATALOG}")
        con.execute(f"DETACH {_COPY}")
        _remove(fresh)
        raise
    con.execute(f"DETACH {_COPY}")
    os.replace(fresh, final)  # atomic: readers see the old file or the new one, never a mix
    return final


def _copy_table(name: str, schema: str, select_sql: str) -> str:
    target = exp.table_(name, db=schema, catalog=_COPY, quoted=True).sql("duckdb")
    return f"CREATE TABLE {target} AS {select_sql}"


def _remove(path: Path) -> None:
    for leftover in (path, path.with_name(path.name + ".wal")):
        leftover.unlink(missing_ok=True)

