"""Canonical class labels (SPEC §4): one text per class whatever type the label arrived as."""

from __future__ import annotations

import decimal

import numpy as np
import pytest

from mlmon.metrics.labels import canonical_label


@pytest.mark.parametrize("label, text", [
    (1, "1"), (1.0, "1"), (np.int64(1), "1"), (np.float32(1.0), "1"), ("1", "1"), (decimal.Decimal("1.00"), "1"),
    (-3.0, "-3"), (0.5, "0.5"), (np.float64(2.25), "2.25"),
    (True, "true"), (False, "false"), (np.True_, "true"), (np.bool_(False), "false"),
    ("bus", "bus"), ("True", "True"), ("1.0", "1.0"),
    (float("nan"), "nan"), (float("inf"), "inf"),
])
def test_canonical_text(label, text) -> None:
    assert canonical_label(label) == text


def test_booleans_are_not_numbers() -> None:
    # bool is an int subclass in Python: True must not become "1".
    assert canonical_label(True) != canonical_label(1)
