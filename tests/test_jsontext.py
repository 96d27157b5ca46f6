"""Strict JSON for scripts (mlmon.jsontext): missing and non-finite numbers are null."""

from __future__ import annotations

import datetime as dt
import json
import math
from decimal import Decimal
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from mlmon.jsontext import dumps, plain


@pytest.mark.parametrize("missing", [float("nan"), math.inf, -math.inf, np.float64("nan"), np.float32("inf"),
                                     np.array(np.nan), Decimal("NaN"), Decimal("Infinity"), pd.NA, pd.NaT, None])
def test_missing_and_non_finite_numbers_are_none(missing):
    assert plain(missing) is None


@pytest.mark.parametrize(("value", "expected"), [
    (np.int64(3), 3),
    (np.float64(0.25), 0.25),
    (np.float32(1.5), 1.5),
    (np.array(2.5), 2.5),  # a 0-d array is a scalar
    (Decimal("1.25"), 1.25),
    (10**30, 10**30),  # integers are exact, not floats
    (-0.0, -0.0),
    (1e308, 1e308),
])
def test_numbers_are_python_numbers(value, expected):
    result = plain(value)
    assert result == expected and type(result) is type(expected)


def test_booleans_stay_booleans():
    for value in (True, np.bool_(True), np.array(True)):
        assert plain(value) is True
    assert plain(np.bool_(False)) is False


def test_text_and_times_are_text():
    assert plain("nan") == "nan"  # text is never a number
    assert plain(dt.datetime(2026, 1, 2, 3, 4, 5)) == "2026-01-02T03:04:05"
    assert plain(pd.Timestamp("2026-01-02 03:04")) == "2026-01-02T03:04:00"
    assert plain(dt.date(2026, 1, 2)) == "2026-01-02"
    assert plain(dt.time(1, 2)) == "01:02:00"


def test_containers_are_walked():
    value = {1: [np.float64(0.5), float("nan")], "t": (np.int64(2), {"inner": math.inf}),
             "a": np.array([1.0, np.nan]), "s": pd.Series([1.5, None])}
    assert plain(value) == {"1": [0.5, None], "t": [2, {"inner": None}], "a": [1.0, None], "s": [1.5, None]}
    assert plain({"k": {np.nan}}) == {"k": [None]}
    assert plain(frozenset({np.int64(7)})) == [7]
    assert plain([]) == [] and plain({}) == {}


def test_other_objects_are_left_for_their_text():
    path = Path("a/b.csv")
    assert plain(path) is path
    frame = pd.DataFrame({"x": [1.0, None]})  # not a scalar: whether it is missing has no single answer
    assert plain(frame) is frame
    assert json.loads(dumps({"p": path, "f": frame})) == {"p": "a/b.csv", "f": str(frame)}


def test_dumps_is_strict_json_indented_by_two_by_default():
    value = {"a": [1, float("nan")], "b": np.float64("inf"), "c": pd.NA}
    text = dumps(value)
    assert text == '{\n  "a": [\n    1,\n    null\n  ],\n  "b": null,\n  "c": null\n}'
    assert json.loads(text, parse_constant=lambda name: pytest.fail(f"non-JSON constant {name}")) == {
        "a": [1, None], "b": None, "c": None}
    assert dumps(value, indent=None) == '{"a": [1, null], "b": null, "c": null}'
    assert dumps([1, 2], indent=4) == "[\n    1,\n    2\n]"


def test_a_scalar_offering_item_without_a_shape_is_unwrapped():
    class Scalar:
        def item(self):
            return 0.75

    class Shaped:
        ndim = 1

        def item(self):
            raise AssertionError("an array is not a scalar")

        def tolist(self):
            return [1, float("nan")]

    assert plain(Scalar()) == 0.75
    assert plain(Shaped()) == [1, None]
