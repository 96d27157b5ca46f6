"""Printing tables and JSON for people and for scripts."""

from __future__ import annotations

import math
from typing import Any

import pandas as pd
from rich.console import Console
from rich.table import Table

from mlmon.jsontext import dumps

__all__ = ["print_frame", "print_json", "stdout"]

stdout = Console(highlight=False, soft_wrap=True)
if not stdout.is_terminal:  # piped output: no reason to squeeze tables into 80 columns
    stdout.width = 200


def _cell(value: Any) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    if isinstance(value, float):
        return f"{value:.6g}"
    return str(value)


_MIN_COLUMN_WIDTH = 12


def print_frame(frame: pd.DataFrame, title: str | None = None, total: int | None = None) -> None:
    """A table; too wide for the terminal (a store has dozens of metric columns), one block per row."""
    if len(frame.columns) * _MIN_COLUMN_WIDTH > stdout.width:
        _print_vertical(frame, title)
    else:
        _print_table(frame, title)
    if total is not None and total > len(frame):
        stdout.print(f"{len(frame)} of {total:,} rows shown (use --limit)")


def _print_vertical(frame: pd.DataFrame, title: str | None) -> None:
    for number, row in enumerate(frame.itertuples(index=False), 1):
        table = Table(title=f"{title} — row {number}" if title else f"row {number}", show_header=False)
        table.add_column("column", style="bold")
        table.add_column("value", overflow="fold")
        for column, value in zip(frame.columns, row):
            table.add_row(str(column), _cell(value))
        stdout.print(table)


def _print_table(frame: pd.DataFrame, title: str | None) -> None:
    table = Table(title=title, show_lines=False, header_style="bold")
    for column in frame.columns:
        table.add_column(str(column), overflow="fold")
    for row in frame.itertuples(index=False):
        table.add_row(*(_cell(v) for v in row))
    stdout.print(table)


def print_json(data: Any) -> None:
    """Strict JSON: NULL, NaN and infinities are null (mlmon.jsontext)."""
    print(dumps(data))
