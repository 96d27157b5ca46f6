"""Which periods of a store to evaluate: rows and labelled rows per period in one grouped
scan, against the counts of each period's newest evaluation in the store."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date
from typing import Any, Callable, Mapping, Sequence

import duckdb
from sqlglot import exp

from mlmon.evaluation.outcomes import PERIOD_COLUMN
from mlmon.evaluation.sampling import table_columns
from mlmon.evaluation.store import PERIOD_LABEL

__all__ = ["PeriodCount", "evaluated_before", "period_counts", "period_labels", "stale_periods"]


@dataclass(frozen=True)
class PeriodCount:
    start: date | None  # None: the data as one window (no `period:`)
    n_rows: int
    n_labelled: int


def _q(name: str) -> exp.Column:
    return exp.column(name, quoted=True)


def period_counts(con: duckdb.DuckDBPyConnection, joined: str, target: str,
                  by_period: bool) -> tuple[list[PeriodCount], int]:
    """Rows and labelled rows per period, oldest first, and the rows in no period (a NULL
    period), in one grouped scan."""
    present = {name for name, _ in table_columns(con, joined)}
    labelled = exp.Count(this=_q(target)) if target in present else exp.Literal.number(0)
    query = exp.select(exp.Count(this=exp.Star()), labelled).from_(joined, dialect="duckdb")
    if not by_period:
        n, n_labelled = con.execute(query.sql("duckdb")).fetchone()
        return [PeriodCount(None, int(n), int(n_labelled))], 0
    query = query.select(_q(PERIOD_COLUMN), append=True).group_by(_q(PERIOD_COLUMN)).order_by(_q(PERIOD_COLUMN))
    rows = con.execute(query.sql("duckdb")).fetchall()
    undated = sum(int(n) for n, _, start in rows if start is None)
    return [PeriodCount(start, int(n), int(nl)) for n, nl, start in rows if start is not None], undated


def period_labels(labels: Mapping[str, Any], start: date | None) -> dict[str, Any]:
    return dict(labels) if start is None else {**labels, PERIOD_LABEL: start.isoformat()}


def evaluated_before(con: duckdb.DuckDBPyConnection, store: str, dataset: str) -> bool:
    """Whether the store holds an evaluation of this data (on its first build every period is stale)."""
    return con.execute("SELECT 1 FROM mlmon.evaluations WHERE store = ? AND dataset = ? LIMIT 1",
                       [store, dataset]).fetchone() is not None


def stale_periods(con: duckdb.DuckDBPyConnection, store: str, dataset: str, labels: Mapping[str, Any],
                  counts: Sequence[PeriodCount], full_refresh: bool,
                  sample_labelled: Callable[[PeriodCount], int] | None = None) -> list[PeriodCount]:
    """The periods to evaluate: new ones, and those whose newest evaluation in the store (same
    data, same labels) saw another row or label count. All of them with --full-refresh.

    A period evaluated on a sample recorded the labelled rows of its sample: its label count is
    compared with `sample_labelled(period)`, the sample drawn again (the period's own count
    when not given)."""
    if full_refresh or not counts or counts[0].start is None:
        return list(counts)
    rows = con.execute(
        "SELECT e.labels, e.n_rows, e.n_evaluated, m.value FROM mlmon.evaluations AS e LEFT JOIN mlmon.metrics AS m "
        "ON m.evaluation_id = e.evaluation_id AND m.metric = 'n_labelled' AND m.feature IS NULL "
        "WHERE e.store = ? AND e.dataset = ? ORDER BY e.created_at, e.evaluation_id", [store, dataset]).fetchall()
    latest: dict[str, tuple[int, bool, float | None]] = {}
    for text, n_rows, n_evaluated, n_labelled in rows:
        sampled = n_evaluated is not None and n_evaluated < n_rows
        latest[_labels_key(json.loads(text) if text else {})] = (int(n_rows), sampled, n_labelled)
    todo = []
    for count in counts:
        seen = latest.get(_labels_key(period_labels(labels, count.start)))
        if seen is None or seen[0] != count.n_rows:
            todo.append(count)
            continue
        _, sampled, n_labelled = seen
        labelled = sample_labelled(count) if sampled and sample_labelled is not None else count.n_labelled
        if int(n_labelled or 0) != labelled:
            todo.append(count)
    return todo


def _labels_key(labels: Mapping[str, Any]) -> str:
    return json.dumps({str(k): str(v) for k, v in labels.items()}, sort_keys=True)
