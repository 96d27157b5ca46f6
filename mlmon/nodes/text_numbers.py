"""Numbers read as text: a CSV column whose values are numbers but for a marker of missing values.

A reader types a column from its values, and one value that is not a number, such as R's
`NA`, makes the whole column text: a model then one-hot encodes every measurement and drift
compares categories instead of distributions. Nothing fails, the numbers are just wrong, so a
file dataset's build looks for such columns in the scan that counts its rows and says how to
read the marker as missing (`options: {nullstr: [...]}`).

A column is reported when at least half of its present values are numbers and the others are
at most `MAX_MARKERS` distinct strings: a few markers in a numeric column, not codes such as
`A1, 12, 13` (which would have more) nor a text column holding the odd number.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlglot import exp

from mlmon.warehouse import sql
from mlmon.warehouse.described import relation_columns

__all__ = ["MAX_MARKERS", "TextNumbers", "count_and_find", "advice"]

MAX_MARKERS = 2  # a column's markers are its smallest and largest value that is not a number


@dataclass(frozen=True)
class TextNumbers:
    """A text column whose `numbers` of `present` values are numbers; the others are `markers`."""

    column: str
    present: int
    numbers: int
    markers: tuple[str, ...]


def _text_columns(con: Any, relation: exp.Expression) -> list[str]:
    return [name for name, dtype in relation_columns(con, relation.sql("duckdb")) if dtype.upper() == "VARCHAR"]


def _marker(column: str) -> exp.Expression:
    """The column's value where it is not a number, else NULL."""
    value = sql.ident(column)
    number = exp.TryCast(this=value.copy(), to=exp.DataType.build("DOUBLE"))
    return exp.Case().when(exp.Is(this=number, expression=exp.Null()), value)


def count_and_find(con: Any, relation: exp.Expression) -> tuple[int, list[TextNumbers]]:
    """The relation's row count and its text columns that hold numbers and markers: one scan of
    plain counts, minima and maxima (a DISTINCT over every text value would cost more than the
    scan), and a second over the few columns whose values are mostly numbers, to check that
    their markers are only their smallest and largest."""
    columns = _text_columns(con, relation)
    items: list[exp.Expression] = [exp.Count(this=exp.Star())]
    for column in columns:
        marker = _marker(column)
        items += [exp.Count(this=sql.ident(column)), exp.Count(this=marker.copy()), exp.Min(this=marker.copy()),
                  exp.Max(this=marker)]
    row = con.execute(exp.select(*items).from_(relation).sql("duckdb")).fetchone()
    candidates = {}
    for index, column in enumerate(columns):
        present, markers, low, high = row[1 + 4 * index:5 + 4 * index]
        numbers = present - markers
        if numbers and markers and 2 * numbers >= present:
            candidates[column] = TextNumbers(column, int(present), int(numbers), tuple(dict.fromkeys((str(low), str(high)))))
    if not candidates:
        return int(row[0]), []
    others = [exp.Count(this=exp.Case().when(
        exp.Not(this=exp.In(this=_marker(c), expressions=[exp.Literal.string(m) for m in found.markers])), exp.Literal.number(1)))
        for c, found in candidates.items()]
    extra = con.execute(exp.select(*others).from_(relation).sql("duckdb")).fetchone()
    return int(row[0]), [found for found, n in zip(candidates.values(), extra) if n == 0]


def advice(found: list[TextNumbers]) -> list[str]:
    """One warning per set of markers, naming its columns and the option that reads the markers
    as missing."""
    by_markers: dict[tuple[str, ...], list[TextNumbers]] = {}
    for column in found:
        by_markers.setdefault(column.markers, []).append(column)
    out = []
    for markers, columns in by_markers.items():
        shown = " and ".join(repr(m) for m in markers)
        tokens = ", ".join(repr(m) for m in (*markers, ""))
        counts = ", ".join(f"{c.column!r} ({c.numbers:,} of {c.present:,} values)" for c in columns)
        noun, its = ("column is", "its") if len(columns) == 1 else (f"{len(columns)} columns are", "their")
        out.append(f"{noun} read as text though {its} values are numbers but for {shown}: {counts}; "
                   f"if {shown} {'marks' if len(markers) == 1 else 'mark'} a missing value, "
                   f"add `options: {{nullstr: [{tokens}]}}` to the dataset")
    return out
