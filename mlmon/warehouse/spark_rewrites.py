"""Statements Spark has no form of, run as others: CREATE TABLE as parquet, UPDATE and DELETE
as a rebuild of the table renamed over it, a RENAME's target in its table's database.

Spark tables written by mlmon are managed parquet tables. DELETE and UPDATE rewrite the table
as `<name>__mlmon_rewrite` beside it, drop the table and rename the rebuild over it: a command
killed between the drop and the rename leaves the rebuild, which the next writer renames into
place (`mlmon.warehouse.spark.SparkWarehouse._finish_rewrites`).
"""

from __future__ import annotations

from typing import Any

from sqlglot import exp

from mlmon.warehouse.spark_catalog import created_table

__all__ = ["REWRITE_SUFFIX", "as_parquet_table", "delete_by_rebuild", "json_as_text", "qualify_rename",
           "update_by_rebuild"]

REWRITE_SUFFIX = "__mlmon_rewrite"


def as_parquet_table(spark: Any, create: exp.Create) -> exp.Create:
    """CREATE [OR REPLACE] TABLE as a parquet table; the replaced table is dropped first."""
    if create.args.get("replace"):
        create.set("replace", False)
        spark.sql(f"DROP TABLE IF EXISTS {created_table(create).sql('spark')}")
    properties = create.args.get("properties") or exp.Properties(expressions=[])
    properties.append("expressions", exp.FileFormatProperty(this=exp.Var(this="PARQUET")))
    create.set("properties", properties)
    return create


def qualify_rename(alter: exp.Alter) -> None:
    """`ALTER TABLE db.t RENAME TO u` renames within db (Spark would move it to the current one)."""
    for action in alter.args.get("actions") or []:
        if isinstance(action, exp.AlterRename) and not action.this.db and alter.this.db:
            action.this.set("db", exp.to_identifier(alter.this.db, quoted=True))


def json_as_text(statement: exp.Expression) -> None:
    """Spark tables have no JSON type: JSON documents are stored as STRING."""
    for dtype in statement.find_all(exp.DataType):
        if dtype.this == exp.DataType.Type.JSON:
            dtype.replace(exp.DataType.build("STRING"))


def delete_by_rebuild(spark: Any, delete: exp.Delete) -> None:
    where = delete.args.get("where")
    deleted = where.this if where is not None else exp.true()
    _rebuild(spark, delete.this, keep=exp.not_(exp.func("COALESCE", deleted, exp.false())))


def update_by_rebuild(spark: Any, update: exp.Update) -> None:
    table = update.this
    assigned = {eq.this.name: eq.expression for eq in update.expressions}
    condition = update.args["where"].this if update.args.get("where") else exp.true()
    projection = []
    for field in spark.table(table.sql("spark")).schema.fields:
        column = exp.column(field.name, quoted=True)
        if field.name in assigned:
            value = exp.If(this=condition.copy(), true=assigned[field.name].copy(), false=column)
            column = exp.cast(value, exp.DataType.build(field.dataType.simpleString(), dialect="spark"))
        projection.append(exp.alias_(column, field.name, quoted=True))
    _rebuild(spark, table, projection=projection)


def _rebuild(spark: Any, table: exp.Table, keep: exp.Expression | None = None,
             projection: list[exp.Expression] | None = None) -> None:
    """Rewrite `table` as SELECT projection FROM table WHERE keep, swapped in by rename."""
    staging = exp.table_(table.name + REWRITE_SUFFIX, db=table.db, quoted=True)
    query = exp.select(*(projection or [exp.Star()])).from_(table.copy())
    if keep is not None:
        query = query.where(keep)
    spark.sql(f"DROP TABLE IF EXISTS {staging.sql('spark')}")
    spark.sql(f"CREATE TABLE {staging.sql('spark')} USING PARQUET AS {query.sql('spark')}")
    spark.sql(f"DROP TABLE {table.sql('spark')}")
    spark.sql(f"ALTER TABLE {staging.sql('spark')} RENAME TO {table.sql('spark')}")
