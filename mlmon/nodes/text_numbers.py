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
from mlmon.warehouse.described import described_file_scan

__all__ = ["MAX_MARKERS", "TextNumbers", "count_and_find", "advice"]

MAX_MARKERS = 2  # found exactly by MIN and MAX of the values that are not numbers


@dataclass(frozen=True)
class TextNumbers:
    """A text column whose `numbers` of `present` values are numbers; the others are `markers`."""

    column: str
    present: int
    numbers: int
    markers: tuple[str, ...]


def _text_columns(con: Any, relation: exp.Expression) -> list[str]:
    relation_sql = relation.sql("duckdb")
    described = described_file_scan(con, relation_sql, lambda: [
        (str(r[0]), str(r[1])) for r in con.execute(f"DESCRIBE SELECT * FROM {relation_sql}").fetchall()])
    return [name for name, dtype in described if dtype.upper() == "VARCHAR"]


def count_and_find(con: Any, relation: exp.Expression) -> tuple[int, list[TextNumbers]]:
    """The relation's row count and its text columns that hold numbers and markers, in one scan."""
    columns = _text_columns(con, relation)
    items: list[exp.Expression] = [exp.Count(this=exp.Star())]
    for column in columns:
        value = sql.ident(column)
        number = exp.TryCast(this=value.copy(), to=exp.DataType.build("DOUBLE"))
        marker = exp.Case().when(exp.Is(this=number.copy(), expression=exp.Null()), value.copy())
        items += [exp.Count(this=value.copy()), exp.Count(this=number),
                  exp.Count(this=exp.Distinct(expressions=[marker.copy()])), exp.Min(this=marker.copy()),
                  exp.Max(this=marker)]
    row = con.execute(exp.select(*items).from_(relation).sql("duckdb")).fetchone()
    found = []
    for index, column in enumerate(columns):
        present, numbers, distinct, low, high = row[1 + 5 * index:6 + 5 * index]
        if numbers and 2 * numbers >= present and 0 < distinct <= MAX_MARKERS:
            markers = tuple(dict.fromkeys(str(m) for m in (low, high)))
            found.append(TextNumbers(column, int(present), int(numbers), markers))
    return int(row[0]), found


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
