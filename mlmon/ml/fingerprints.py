"""Row fingerprints: which rows a model version was trained on, recognised wherever they reappear.

A fingerprint is a 64-bit hash of a row's content over the version's features and target, so
the same transaction read from a CSV, a warehouse table or a store's kept rows gets the same
value whatever the column order or the engine's number type (integers, floats and booleans are
hashed as floats; NaN, NA and None are one missing value). Comparing a challenger with a champion on rows that
neither learnt from needs exactly this: a set per version, and a membership test.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

import numpy as np
import pandas as pd

__all__ = ["fingerprint_columns", "row_fingerprints", "data_fingerprint"]


def fingerprint_columns(features: Sequence[str], target: str) -> list[str]:
    """The columns a version's fingerprints cover, in a fixed order."""
    return sorted({*map(str, features), str(target)})


def _canonical(column: pd.Series) -> pd.Series:
    dtype = column.dtype
    if dtype == np.float64:
        return column
    if pd.api.types.is_bool_dtype(dtype) or pd.api.types.is_numeric_dtype(dtype):
        return column.astype("float64")
    if pd.api.types.is_datetime64_any_dtype(dtype):
        return column.astype("string")
    # Text as it is: pandas hashes text columns by their distinct values, and every missing
    # value (NaN, NA, None) to one code, whether the column is `object` or a string dtype.
    return column


def row_fingerprints(frame: pd.DataFrame, columns: Sequence[str], target: str) -> np.ndarray:
    """One int64 per row of `frame`, over `columns` (which must all be present)."""
    if len(frame) == 0:
        return np.empty(0, dtype=np.int64)
    canonical = pd.DataFrame({c: _canonical(frame[c].reset_index(drop=True)) for c in columns})
    hashed = pd.util.hash_pandas_object(canonical, index=False).to_numpy(dtype=np.uint64)
    return hashed.view(np.int64)


def data_fingerprint(fingerprints: np.ndarray) -> str:
    """A short digest of a set of rows (order and duplicates ignored): equal data, equal digest."""
    unique = np.unique(np.asarray(fingerprints, dtype=np.int64))
    return hashlib.sha256(unique.tobytes()).hexdigest()[:16]
