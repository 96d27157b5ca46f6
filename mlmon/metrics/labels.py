"""Canonical class labels (SPEC §4): the one text a class is stored and matched under.

Labels reach mlmon from numpy (a model's `classes_`), from JSON (the registry), from YAML
(`positive_class:`) and from columns whose type may differ between the reference and the data
(an outcome 1 against a reference target 1.0). They are compared, and written to `feature`,
to `proba_<class>` column names and to check labels, by this text only.
"""

from __future__ import annotations

import decimal
import math
from typing import Any

import numpy as np

__all__ = ["canonical_label"]


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
