"""Row fingerprints: the same row whatever its column order, number type or missing-value form."""

from __future__ import annotations

import numpy as np
import pandas as pd

from mlmon.ml.fingerprints import data_fingerprint, fingerprint_columns, row_fingerprints

COLUMNS = fingerprint_columns(["amount", "city"], "y")


def test_same_rows_same_fingerprints_across_types_and_column_order():
    as_read = pd.DataFrame({"amount": [1, 2, None], "city": ["a", "b", None], "y": [0, 1, 1]})
    as_stored = pd.DataFrame({"y": [0.0, 1.0, 1.0], "city": ["a", "b", None], "amount": [1.0, 2.0, np.nan]})
    as_other_missing = as_read.assign(city=pd.Series(["a", "b", np.nan], dtype="str"), y=[False, True, True])
    expected = row_fingerprints(as_read, COLUMNS, "y")
    assert expected.dtype == np.int64 and len(set(expected)) == 3
    assert (row_fingerprints(as_stored, COLUMNS, "y") == expected).all()
    assert (row_fingerprints(as_other_missing, COLUMNS, "y") == expected).all()


def test_any_changed_value_changes_the_fingerprint():
    base = pd.DataFrame({"amount": [1.0] * 4, "city": ["a"] * 4, "y": [0] * 4})
    changed = base.copy()
    changed.loc[1, "amount"] = 1.0000001
    changed.loc[2, "city"] = "A"
    changed.loc[3, "y"] = 1
    first, second = row_fingerprints(base, COLUMNS, "y"), row_fingerprints(changed, COLUMNS, "y")
    assert (first == second).tolist() == [True, False, False, False]
    # a column outside the fingerprint (an id) does not count
    assert (row_fingerprints(base.assign(id=[1, 2, 3, 4]), COLUMNS, "y") == first).all()


def test_data_fingerprint_ignores_order_and_duplicates():
    prints = np.array([5, -3, 9], dtype=np.int64)
    assert data_fingerprint(prints) == data_fingerprint(np.array([9, 5, -3, 5], dtype=np.int64))
    assert data_fingerprint(prints) != data_fingerprint(prints[:2])
    assert len(data_fingerprint(prints)) == 16
