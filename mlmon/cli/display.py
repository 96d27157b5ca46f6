"""Printing tables and JSON for people and for scripts."""

from __future__ import annotations

import json
import math
from typing import Any

import pandas as pd
from rich.console import Console
from rich.table import Table

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


def print_frame(frame: pd.DataFrame, title: str | None = None, total: int | None = None) -> None:
    table = Table(title=title, show_lines=False, header_style="bold")
    for column in frame.columns:
        table.add_column(str(column), overflow="fold")
    for row in frame.itertuples(index=False):
        table.add_row(*(_cell(v) for v in row))
    stdout.print(table)
    if total is not None and total > len(frame):
        stdout.print(f"{len(frame)} of {total:,} rows shown (use --limit)")


def print_json(data: Any) -> None:
    print(json.dumps(data, indent=2, default=str))
