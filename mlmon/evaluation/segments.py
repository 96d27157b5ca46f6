"""Metrics per segment (`segments: [columns]`): each value of a segment column is evaluated on
its own rows against the reference's rows of the same value, by the same engine as the whole.

A segment value is data, never code: it reaches SQL only as a string literal built by sqlglot
(quotes escaped), and never a name. Its label `column=value` uses the value as the warehouse
casts it to text. Segments with fewer than MIN_SEGMENT_ROWS rows on either side are named in a
warning and not computed: their statistics would be noise.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Callable, Sequence

import duckdb
from sqlglot import exp

from mlmon.errors import Location, NodeError, did_you_mean
from mlmon.evaluation.evaluate import EvaluationPlan, evaluate, labelled_rows
from mlmon.evaluation.task import task_metrics
from mlmon.evaluation.reference import Reference, ReferenceCache
from mlmon.evaluation.sampling import table_columns
from mlmon.metrics.diagnostics import IDENTIFIER_NOTE
from mlmon.metrics.types import MetricValue

__all__ = ["MIN_SEGMENT_ROWS", "Segment", "segment_label", "segment_relation", "find_segments",
           "require_segment_columns", "evaluate_segments"]

MIN_SEGMENT_ROWS = 100
_SKIPPED_IN_SEGMENTS = ("model_importance",)  # a property of the model, the same for every segment


@dataclass(frozen=True)
class Segment:
    column: str
    value: str  # the column's value as text
    n_current: int
    n_reference: int

    @property
    def label(self) -> str:
        return segment_label(self.column, self.value)


def segment_label(column: str, value: str) -> str:
    return f"{column}={value}"


def _as_text(column: str) -> exp.Expression:
    return exp.cast(exp.column(column, quoted=True), "VARCHAR")


def segment_relation(relation_sql: str, column: str, value: str) -> str:
    """The rows of `relation_sql` whose `column`, as text, equals `value` (a quoted literal)."""
    condition = _as_text(column).eq(exp.Literal.string(value)).sql("duckdb")
    return f"(SELECT * FROM {relation_sql} AS s WHERE {condition})"


def _value_counts(con: duckdb.DuckDBPyConnection, relation_sql: str, column: str) -> dict[str, int]:
    text = _as_text(column).sql("duckdb")
    rows = con.execute(f"SELECT {text}, COUNT(*) FROM {relation_sql} AS s "
                       f"WHERE {exp.column(column, quoted=True).sql('duckdb')} IS NOT NULL GROUP BY {text}").fetchall()
    return {str(v): int(n) for v, n in rows}


def require_segment_columns(con: duckdb.DuckDBPyConnection, segments: Sequence[str], current_sql: str,
                            reference_sql: str, location: Location | None = None) -> None:
    """Every segment column must be in the data and in the reference rows (checked before
    anything is written)."""
    for side, relation in (("the data", current_sql), ("the reference rows", reference_sql)):
        columns = {name for name, _ in table_columns(con, relation)}
        missing = [c for c in segments if c not in columns]
        if missing:
            raise NodeError(f"segment column{'s' if len(missing) > 1 else ''} {', '.join(missing)} not in {side}",
                            location=location,
                            hint=did_you_mean(missing[0], columns) or "segment by columns the data and reference both hold")


def find_segments(con: duckdb.DuckDBPyConnection, column: str, current_sql: str,
                  reference_sql: str) -> tuple[list[Segment], list[Segment]]:
    """(segments to compute, segments too small), each in the order of their values as text;
    a NULL value is no segment."""
    current, reference = _value_counts(con, current_sql, column), _value_counts(con, reference_sql, column)
    found = [Segment(column, v, current.get(v, 0), reference.get(v, 0)) for v in sorted({*current, *reference})]
    big = [s for s in found if min(s.n_current, s.n_reference) >= MIN_SEGMENT_ROWS]
    return big, [s for s in found if s not in big]


def _small_warning(column: str, small: list[Segment]) -> str:
    listed = "; ".join(f"{s.label} ({s.n_current:,} row{'' if s.n_current == 1 else 's'}, {s.n_reference:,} in the reference)" for s in small)
    return f"segments of {column} under {MIN_SEGMENT_ROWS} rows on a side are not computed: {listed}"


def _segment_reference(con: duckdb.DuckDBPyConnection, reference: Reference, plan: EvaluationPlan,
                       segment: Segment) -> Reference:
    """The reference's rows of the segment, with their own performance for `<metric>_drift`."""
    rows = segment_relation(reference.sql, segment.column, segment.value)
    labelled = reference.labelled_sql
    if segment.column in {name for name, _ in table_columns(con, labelled)}:
        labelled = segment_relation(labelled, segment.column, segment.value)
    columns = {name for name, _ in table_columns(con, rows)}
    performance: dict[str, float | None] = {}
    if set(plan.outputs) <= columns and labelled_rows(con, rows, plan.target):
        empty = replace(reference, performance={})
        measured = task_metrics(plan.task).performance(con, rows, plan, empty)
        performance = {m.metric: m.value for m in measured if m.feature is None and not m.metric.endswith("_drift")}
    return replace(reference, sql=rows, labelled_sql=labelled, performance=performance, warnings=[],
                   source=f"{reference.source}#{segment.label}")


def evaluate_segments(con: duckdb.DuckDBPyConnection, current_sql: str, reference: Reference, plan: EvaluationPlan,
                      cache: ReferenceCache, progress: Callable[[str], None] | None = None
                      ) -> tuple[list[MetricValue], list[str]]:
    """Every metric of every large-enough segment, tagged with its `segment`, and the warnings."""
    say = progress or (lambda message: None)
    metrics: list[MetricValue] = []
    warnings: list[str] = []
    for column in plan.segments:
        segments, small = find_segments(con, column, current_sql, reference.sql)
        if small:
            warnings.append(_small_warning(column, small))
        for segment in segments:
            say(f"segment {segment.label}")
            result = evaluate(con, segment_relation(current_sql, column, segment.value),
                              _segment_reference(con, reference, plan, segment), plan, cache)
            metrics += [replace(m, segment=segment.label) for m in result.metrics
                        if m.metric not in _SKIPPED_IN_SEGMENTS]
            # what a feature is was said of the whole data, not again per segment
            warnings += [f"segment {segment.label}: {w}" for w in result.warnings if IDENTIFIER_NOTE not in w]
    return metrics, warnings

