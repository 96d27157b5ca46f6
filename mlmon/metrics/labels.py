"""Canonical class labels (SPEC §4): the one text a class is stored and matched under.

Labels reach mlmon from numpy (a model's `classes_`), from JSON (the registry), from YAML
(`positive_class:`) and from columns whose type may differ between the reference and the data
(an outcome 1 against a reference target 1.0). They are compared, and written to `feature`,
to `proba_<class>` column names and to check labels, by this text only.
"""

from __future__ import annotations

import decimal
import math
from typing import Any, Iterable

import numpy as np

__all__ = ["canonical_label", "add_label_counts"]


def canonical_label(label: Any) -> str:
    """`1` for 1, 1.0, np.int64(1), Decimal("1.00") (integral numbers lose their fraction),
    `true` / `false` for booleans, else the value's own text."""
    if isinstance(label, np.generic):
        label = label.item()
    if isinstance(label, bool):
        return "true" if label else "false"
    if isinstance(label, (float, decimal.Decimal)):
        if math.isfinite(label) and label == int(label):
            return str(int(label))
        return str(label)
    return str(label)


def add_label_counts(into: dict[str, int], labels: Iterable[Any], counts: Iterable[Any]) -> dict[str, int]:
    """Add each (label, count) pair to `into` under its canonical label (values that spell
    one class, 1 and 1.0, add up); returns `into`."""
    for label, n in zip(labels, counts):
        key = canonical_label(label)
        into[key] = into.get(key, 0) + int(n)
    return into
