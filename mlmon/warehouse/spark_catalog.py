"""The metastore's listing of mlmon's databases, kept between statements.

Listing the tables and views of a database costs Spark two metastore calls, and every
question a build asks of the catalog (does this table exist, is it a view, what are its
columns) would otherwise list it again. The listing is kept; a CREATE or DROP of one table
or view that mlmon runs itself updates it in place, and any other change (or a statement that
failed half-way) makes the next question list the catalog again.
"""

from __future__ import annotations

from typing import Any, Callable, NamedTuple

from sqlglot import exp

__all__ = ["Change", "CatalogListing", "created_table", "ddl_targets", "keeps_listing"]


def ddl_targets(statement: exp.Expression) -> list[exp.Expression] | None:
    """The relations a CREATE or DROP of tables or views names (a CREATE's may be a Schema: the
    table with its columns); None for any other statement."""
    if isinstance(statement, exp.Create) and statement.kind in ("TABLE", "VIEW"):
        return [statement.this]
    if isinstance(statement, exp.Drop) and statement.kind in ("TABLE", "VIEW"):
        return list(statement.args.get("tables") or [])
    return None


def keeps_listing(statement: exp.Expression) -> bool:
    """Whether a DDL statement leaves every database's tables and views as they were: a
    database it creates holds none (every evaluation's scratch asks for its schema)."""
    return isinstance(statement, exp.Create) and statement.kind == "SCHEMA"


def created_table(create: exp.Create) -> exp.Expression:
    """The relation a CREATE names, without the column list a `CREATE TABLE t (...)` carries."""
    return create.this.this if isinstance(create.this, exp.Schema) else create.this


class Change(NamedTuple):
    """One relation of the listing created or replaced (`kind` 'BASE TABLE' or 'VIEW') or
    dropped (`kind` None); names in lower case, as the metastore stores them."""

    database: str
    name: str
    kind: str | None


class CatalogListing:
    """(database, name, 'BASE TABLE' | 'VIEW') of the `databases` mlmon writes, and the columns
    of those asked for."""

    def __init__(self, spark: Any, databases: Callable[[], set[str]], column_types: Callable[[Any], list[tuple[str, str]]]):
        self.spark = spark
        self._databases = databases  # the Spark databases mlmon writes (a cluster's catalog holds others)
        self._column_types = column_types  # (name, DuckDB type) of a Spark DataFrame's columns
        self._tables: list[tuple[str, str, str]] | None = None
        self._columns: dict[tuple[str, str], list[tuple[str, str]]] = {}

    def tables(self) -> list[tuple[str, str, str]]:
        if self._tables is None:
            mine = self._databases()
            found = []
            for database in sorted(r[0] for r in self.spark.sql("SHOW DATABASES").collect() if r[0] in mine):
                views = {r[1] for r in self.spark.sql(f"SHOW VIEWS IN `{database}`").collect() if not r[2]}
                for row in self.spark.sql(f"SHOW TABLES IN `{database}`").collect():
                    if not row[2]:  # isTemporary
                        found.append((database, row[1], "VIEW" if row[1] in views else "BASE TABLE"))
            self._tables = found
        return self._tables

    def kind(self, database: str, name: str) -> str | None:
        """'BASE TABLE', 'VIEW' or None (the metastore stores names in lower case)."""
        return next((kind for db, table, kind in self.tables()
                     if db.lower() == database.lower() and table.lower() == name.lower()), None)

    def columns(self, database: str, name: str) -> list[tuple[str, str]]:
        if (database, name) not in self._columns:
            self._columns[(database, name)] = self._column_types(self.spark.table(f"`{database}`.`{name}`"))
        return self._columns[(database, name)]

    def forget(self) -> None:
        """List again at the next question: the catalog changed in a way not followed here."""
        self._tables = None
        self._columns.clear()

    def change_of(self, statement: exp.Expression, schema_map: dict[str, str]) -> Change | None:
        """What the statement (DuckDB dialect) does to the listing when it creates or drops one
        table or view of mlmon's databases; None for any other change."""
        targets = ddl_targets(statement)
        if targets is None or len(targets) != 1 or statement.find(exp.TemporaryProperty):
            return None
        table = created_table(statement) if isinstance(statement, exp.Create) else targets[0]
        kind = None if isinstance(statement, exp.Drop) else ("VIEW" if statement.kind == "VIEW" else "BASE TABLE")
        if not isinstance(table, exp.Table) or table.args.get("catalog") is not None:
            return None
        database = schema_map.get(table.db or "main", table.db or "main")
        return Change(database.lower(), table.name.lower(), kind) if database in self._databases() else None

    def changing(self, change: Change | None) -> None:
        """Before a statement changes the catalog: forget what it may make stale."""
        if change is None:
            self.forget()
            return
        self._columns = {k: v for k, v in self._columns.items() if (k[0].lower(), k[1].lower()) != change[:2]}

    def changed(self, change: Change) -> None:
        """After the statement of `change` succeeded."""
        if self._tables is None:
            return
        self._tables = [t for t in self._tables if (t[0].lower(), t[1].lower()) != change[:2]]
        if change.kind is not None:
            self._tables.append((change.database, change.name, change.kind))
