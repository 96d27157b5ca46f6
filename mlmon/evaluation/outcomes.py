"""Where an evaluation's truth comes from: a column of the data, or outcomes joined by key.

`ground_truth: {data, key}` LEFT JOINs the outcomes onto the evaluated rows, so a row whose
outcome has not arrived yet stays, unlabelled: it counts in `label_coverage` and is left out of
performance. Period bucketing happens in the same statement (`period:`), so the data is read once.
"""

from __future__ import annotations

from typing import Any, Callable, Mapping, Sequence

import duckdb
from sqlglot import exp

from mlmon.errors import Location, NodeError
from mlmon.evaluation.sampling import create_table, table_columns
from mlmon.metrics.types import MetricValue

__all__ = ["PERIOD_COLUMN", "GroundTruth", "coverage_metrics", "joined_rows"]

PERIOD_COLUMN = "__mlmon_period"
_DATE_TYPES = ("DATE", "TIMESTAMP", "TIMESTAMP WITH TIME ZONE", "TIMESTAMP_S", "TIMESTAMP_MS", "TIMESTAMP_NS")

Where = Callable[[str], Location]


class GroundTruth:
    """`ground_truth:` resolved: the outcome node's relation and the join key."""

    def __init__(self, name: str, relation_sql: str, key: Sequence[str] | str):
        self.name = name
        self.relation_sql = relation_sql
        self.key = [key] if isinstance(key, str) else list(key)

    @classmethod
    def from_config(cls, config: Mapping[str, Any] | None, relation_sql: Callable[[str], str]) -> "GroundTruth | None":
        if not config:
            return None
        return cls(str(config["data"]), relation_sql(str(config["data"])), config["key"])


def _q(name: str, table: str | None = None) -> exp.Column:
    return exp.column(name, table=table, quoted=True)


def _check_key(con: duckdb.DuckDBPyConnection, truth: GroundTruth, data_sql: str, dataset: str, target: str,
               where: Where) -> None:
    for side, relation, wanted in ((f"data '{dataset}'", data_sql, truth.key),
                                   (f"ground truth '{truth.name}'", truth.relation_sql, [*truth.key, target])):
        present = {name for name, _ in table_columns(con, relation)}
        missing = [c for c in wanted if c not in present]
        if missing:
            key = "target" if missing == [target] else "ground_truth"
            raise NodeError(f"the {side} has no column {', '.join(repr(c) for c in missing)} "
                            f"(columns: {', '.join(sorted(present))})", location=where(key),
                            hint="fix `ground_truth.key` / `target:` to name columns both sides hold")
    duplicate = con.execute(
        exp.select(*map(_q, truth.key), exp.Count(this=exp.Star()).as_("n", quoted=True))
        .from_(truth.relation_sql, dialect="duckdb").group_by(*map(_q, truth.key))
        .having(exp.GT(this=exp.Count(this=exp.Star()), expression=exp.Literal.number(1)))
        .order_by(exp.column("n", quoted=True).desc()).limit(1).sql("duckdb")).fetchone()
    if duplicate is not None:
        shown = ", ".join(f"{k} = {v!r}" for k, v in zip(truth.key, duplicate[:-1]))
        raise NodeError(f"ground truth '{truth.name}' has {duplicate[-1]} rows for the key {shown}; each "
                        "evaluated row must match at most one outcome", location=where("ground_truth"),
                        hint="deduplicate the outcomes (e.g. keep the latest per key) or use a longer `key`")


def _period_start(con: duckdb.DuckDBPyConnection, data_sql: str, period: Mapping[str, str], where: Where) -> exp.Expression:
    column = period["column"]
    types = dict(table_columns(con, data_sql))
    if column not in types:
        raise NodeError(f"the data has no column '{column}' (columns: {', '.join(sorted(types))})",
                        location=where("period"), hint="set `period.column` to a timestamp or date column")
    if types[column].upper() not in _DATE_TYPES:
        raise NodeError(f"period column '{column}' has type {types[column]}, not a timestamp or date",
                        location=where("period"),
                        hint="name a TIMESTAMP or DATE column, or cast it in a dataset (e.g. CAST(x AS TIMESTAMP))")
    truncated = exp.Anonymous(this="date_trunc", expressions=[exp.Literal.string(period["every"]), _q(column, "d")])
    return exp.alias_(exp.cast(truncated, "DATE"), PERIOD_COLUMN, quoted=True)


def _aliased(relation_sql: str, alias: str) -> exp.Subquery:
    return exp.select("*").from_(relation_sql, dialect="duckdb").subquery(exp.to_identifier(alias, quoted=True))


def joined_rows(con: duckdb.DuckDBPyConnection, data_sql: str, dataset: str, target: str,
                truth: GroundTruth | None, period: Mapping[str, str] | None, table: str, where: Where,
                kind: str = "TABLE") -> str:
    """Create `table`: the data's rows, each with its outcome when `truth` is given (its own
    target column replaced) and its period's first day when `period` is given. Returns `table`.
    `kind` VIEW defines the rows without copying them, for a caller that copies them once itself."""
    columns = [name for name, _ in table_columns(con, data_sql)]
    extra: list[exp.Expression] = []
    if period:
        extra.append(_period_start(con, data_sql, period, where))
    if truth is None:
        query = exp.select(*[_q(c, "d") for c in columns], *extra).from_(_aliased(data_sql, "d"))
        _create(con, table, query, kind)
        return table
    _check_key(con, truth, data_sql, dataset, target, where)
    outcomes = (exp.select(*map(_q, truth.key), _q(target)).from_(truth.relation_sql, dialect="duckdb")
                .subquery("o", copy=False))
    kept = [_q(c, "d") for c in columns if c != target]
    on = exp.and_(*[_q(k, "d").eq(_q(k, "o")) for k in truth.key])
    query = (exp.select(*kept, _q(target, "o"), *extra)
             .from_(_aliased(data_sql, "d"))
             .join(outcomes, on=on, join_type="left"))
    _create(con, table, query, kind)
    return table


def _create(con: duckdb.DuckDBPyConnection, name: str, query: exp.Expression, kind: str) -> None:
    if kind == "TABLE":
        create_table(con, name, query)
    else:
        con.execute(exp.Create(this=exp.to_table(name, dialect="duckdb"), kind="VIEW", expression=query).sql("duckdb"))


def coverage_metrics(n_evaluated: int, n_labelled: int) -> list[MetricValue]:
    """`label_coverage` (labelled rows / evaluated rows) and `n_labelled`."""
    return [MetricValue("label_coverage", n_labelled / n_evaluated if n_evaluated else None),
            MetricValue("n_labelled", float(n_labelled))]
