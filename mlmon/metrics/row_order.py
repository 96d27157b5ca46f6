"""The canonical row order of mlmon.metrics.sqlsample, computed in numpy for rows read whole.

A sample's rows are numbered in the order `ORDER BY c1 ASC NULLS FIRST, c2 ASC NULLS FIRST, ...`
over the orderable columns. Read whole, small data is numbered here instead, without the
engine's window: each column becomes a dense rank (NULL first, NaN after every number, as
both engines order them), and the ranks are sorted lexicographically. Rows tied on every
column are interchangeable, so the numbering equals the engine's up to the order of identical
rows, which does not change which rows a draw takes.

Values whose order could differ from the engine's once in pandas give no numbering (None):
integers or decimals read as doubles that a double cannot tell apart, and columns mixing
types Python cannot compare.
"""

from __future__ import annotations

import re
from typing import Mapping, Sequence

import numpy as np
import pandas as pd

__all__ = ["null_flag", "row_ordinals"]

_EXACT_DOUBLE = 2 ** 53  # integers up to here are exact doubles
_EXACT_DIGITS = 15  # decimals of at most this many digits are told apart as doubles
_INTEGER = re.compile(r"^(TINYINT|SMALLINT|INTEGER|INT|BIGINT|HUGEINT|UTINYINT|USMALLINT|UINTEGER|UBIGINT|UHUGEINT)$")


def null_flag(index: int) -> str:
    """The name of the read column telling whether the index-th ordered column is NULL (pandas
    reads a NULL double as NaN, which the order puts elsewhere)."""
    return f"__mlmon_null_{index}"


def row_ordinals(frame: pd.DataFrame, columns: Sequence[str], types: Mapping[str, str]) -> np.ndarray | None:
    """Each row's ordinal (1..n) in the order of `columns` (DuckDB `types`), NULL first; the
    frame holds each column and its `null_flag`. None when pandas may not order the values as
    the engine does."""
    keys = []
    for index, name in enumerate(columns):
        missing = frame[null_flag(index)].to_numpy(dtype=bool)
        values = frame[name].to_numpy()[~missing]
        if not _exact(values, types[name]):
            return None
        rank = np.zeros(len(frame), dtype=np.int64)
        if len(values):
            try:
                _, inverse = np.unique(values, return_inverse=True)
            except TypeError:  # values Python cannot compare with each other
                return None
            rank[~missing] = inverse + 1
        keys.append(rank)
    ordinals = np.empty(len(frame), dtype=np.int64)
    order = np.lexsort(keys[::-1]) if keys else np.arange(len(frame))  # lexsort's last key sorts first
    ordinals[order] = np.arange(1, len(frame) + 1)
    return ordinals


def _exact(values: np.ndarray, dtype: str) -> bool:
    """Whether `values`, read from a column of DuckDB type `dtype`, order as the engine's do."""
    if values.dtype == object:
        # NaN among objects breaks Python's comparisons (the engines put it after every number)
        return not any(isinstance(v, float) and v != v for v in values)
    if values.dtype.kind != "f":
        return True
    base = dtype.split("(")[0].strip().upper()
    if _INTEGER.match(base):
        return not len(values) or float(np.nanmax(np.abs(values))) <= _EXACT_DOUBLE
    if base == "DECIMAL":
        digits = re.search(r"\((\d+)", dtype)
        return digits is not None and int(digits.group(1)) <= _EXACT_DIGITS
    return True
