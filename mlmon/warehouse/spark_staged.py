"""Staging and scratch tables on Spark: cached temporary views, not metastore tables.

Every `CREATE [OR REPLACE] TABLE "mlmon_staging"."x" AS <query>` mlmon sends (an evaluation's
scratch rows, a dataset's staging copy before the swap) would cost Spark a parquet write plus
metastore round trips to create and later drop the table, and every later read a parquet scan.
Here it becomes a temporary view of this session, cached in memory (spilling to disk) by an
eager `CACHE TABLE`: the query runs once, at the CREATE, so it fails where the CTAS would have
failed, before anything visible changes; later reads hit the cache, and DROP frees it.

Scoring's output in the staging schema (an evaluation's scored rows) is cached the same way,
from the scoring's DataFrame (`SparkConnection.stage_frame`).

A temporary view is invisible to every other session and dies with this one: no reader ever
sees a staged relation, a killed build leaves nothing behind, and `close` drops what is left.
A `CREATE VIEW` of the staging schema (a period's rows read in place from a staged table)
becomes an uncached temporary view the same way: Spark refuses a metastore view over a
temporary one. Statements name the relation as before (`"mlmon_staging"."x"`); `StagedViews.substitute`
points them at the view.
"""

from __future__ import annotations

from typing import Any, Iterator

from sqlglot import exp

from mlmon.warehouse.tables import STAGING_SCHEMA

__all__ = ["StagedViews", "VIEW_PREFIX"]

VIEW_PREFIX = "__mlmon_staged_"


class StagedViews:
    """The staging schema's relations that live as cached temporary views of one session."""

    def __init__(self, spark: Any):
        self.spark = spark
        self._views: dict[str, str] = {}  # relation name in the staging schema → view name
        self._rows: dict[str, int] = {}  # its row count, known from caching it
        self._created = 0

    @staticmethod
    def staged_name(table: exp.Table) -> str | None:
        """The relation's name when `table` is in the staging schema (as DuckDB SQL names it)."""
        return table.name if isinstance(table, exp.Table) and table.db == STAGING_SCHEMA and table.name else None

    def __contains__(self, name: str) -> bool:
        return name in self._views

    def names(self) -> Iterator[str]:
        return iter(list(self._views))

    def create(self, name: str, query_sql: str, cache: bool = True) -> None:
        """Run `query_sql` (Spark SQL) once into the cache under `name`, replacing any earlier one;
        with `cache=False` (a staged VIEW: rows of a staged table read in place) only name it.

        The view is built from a DataFrame, so it keeps its analysed plan: dropping a view it
        reads from later does not change it. Caching counts the rows (as `CACHE TABLE` does), and
        the count is kept: `SELECT count(*)` of a staged table needs no job."""
        self.create_from(name, self.spark.sql(query_sql), cache)

    def create_from(self, name: str, frame: Any, cache: bool = True) -> int | None:
        """`create` of a DataFrame (rows computed outside SQL: scoring's); its row count when cached."""
        self._created += 1
        view = f"{VIEW_PREFIX}{self._created}_{name}"[:200]
        self.drop(name)
        frame.createOrReplaceTempView(view)
        self._views[name] = view
        if not cache:
            return None
        try:
            self.spark.catalog.cacheTable(view)
            self._rows[name] = int(self.spark.table(f"`{view}`").count())
        except BaseException:
            self.drop(name)
            raise
        return self._rows[name]

    def drop(self, name: str) -> bool:
        """Uncache and drop the view of `name`; False when `name` has none."""
        view = self._views.pop(name, None)
        self._rows.pop(name, None)
        if view is None:
            return False
        self.spark.catalog.dropTempView(view)  # uncaches it too
        return True

    def drop_all(self) -> None:
        for name in list(self._views):
            self.drop(name)

    def substitute(self, statement: exp.Expression) -> None:
        """Point every reference to a staged relation at its view."""
        for table in list(statement.find_all(exp.Table)):
            name = self.staged_name(table)
            if name is not None and name in self._views:
                table.replace(exp.Table(this=exp.to_identifier(self._views[name], quoted=True),
                                        alias=table.args.get("alias")))

    def count(self, statement: exp.Expression) -> int | None:
        """The answer to `SELECT count(*) FROM <staged table> [AS t]`, known since it was cached;
        None for any other statement."""
        if not isinstance(statement, exp.Select) or len(statement.expressions) != 1:
            return None
        if any(value for key, value in statement.args.items() if key not in ("expressions", "from", "from_")):
            return None  # a WHERE, a join, a GROUP BY...
        column = statement.expressions[0]
        if not (isinstance(column, exp.Count) and isinstance(column.this, exp.Star)):
            return None
        source = statement.args.get("from") or statement.args.get("from_")
        table = source.this if source is not None else None
        name = self.staged_name(table) if isinstance(table, exp.Table) else None
        return self._rows.get(name) if name is not None else None

    def schema(self, name: str) -> list[Any]:
        return list(self.spark.table(f"`{self._views[name]}`").schema.fields)
