"""JSON that any strict parser reads: missing and non-finite numbers become null.

Python's `json.dumps` writes NaN and Infinity, which are not JSON, and pandas hands a missing
value over as NaN, NaT or pd.NA. Every JSON mlmon writes for scripts goes through `dumps`.
"""

from __future__ import annotations

import datetime as dt
import json
import math
from decimal import Decimal
from typing import Any

__all__ = ["dumps", "plain"]


def plain(value: Any) -> Any:
    """`value` with every missing or non-finite number as None and numpy / pandas scalars as
    Python ones, containers walked."""
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [plain(v) for v in value]
    if value is None or isinstance(value, (str, bool)):
        return value
    if isinstance(value, (dt.datetime, dt.date, dt.time)):
        return None if _missing(value) else value.isoformat()
    if hasattr(value, "item") and callable(value.item) and getattr(value, "ndim", 0) == 0:
        value = value.item()  # a numpy scalar
    if isinstance(value, bool):
        return value
    if isinstance(value, (int, float, Decimal)):
        number = float(value) if isinstance(value, Decimal) else value
        return number if isinstance(number, int) or math.isfinite(number) else None
    if hasattr(value, "tolist"):  # an array
        return plain(value.tolist())
    if _missing(value):
        return None
    return value


def _missing(value: Any) -> bool:
    try:
        import pandas as pd
    except ImportError:  # pragma: no cover - pandas is a dependency
        return False
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return False


def dumps(value: Any, indent: int | None = 2) -> str:
    """Strict JSON text of `value` (non-JSON types written as their text)."""
    return json.dumps(plain(value), indent=indent, default=str, allow_nan=False)
