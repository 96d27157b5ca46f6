"""The status rules alone: every bound at, just inside and just beyond its value."""

from __future__ import annotations

import math

import pytest

from mlmon.checks import Bounds, CheckStatus, apply_severity, check_bounds, check_rows, check_values, node_status

OK, WARNING, ERROR, EMPTY = CheckStatus.OK, CheckStatus.WARNING, CheckStatus.ERROR, CheckStatus.EMPTY
ALL = Bounds(min=0.2, soft_min=0.4, soft_max=0.6, max=0.8)
EPS = 1e-9


@pytest.mark.parametrize(("value", "status"), [
    (0.2 - EPS, ERROR), (0.2, WARNING), (0.3, WARNING), (0.4 - EPS, WARNING), (0.4, OK), (0.5, OK),
    (0.6, OK), (0.6 + EPS, WARNING), (0.7, WARNING), (0.8, WARNING), (0.8 + EPS, ERROR), (-5.0, ERROR), (99.0, ERROR),
])
def test_four_bounds(value, status):
    assert check_bounds("m", value, ALL).status is status


@pytest.mark.parametrize(("bounds", "value", "status"), [
    (Bounds(max=0.7), 0.7, OK), (Bounds(max=0.7), 0.7 + EPS, ERROR),
    (Bounds(min=0.7), 0.7, OK), (Bounds(min=0.7), 0.7 - EPS, ERROR),
    (Bounds(soft_max=0.6), 0.6, OK), (Bounds(soft_max=0.6), 0.6 + EPS, WARNING), (Bounds(soft_max=0.6), 100.0, WARNING),
    (Bounds(soft_min=0.6), 0.6, OK), (Bounds(soft_min=0.6), 0.6 - EPS, WARNING),
    (Bounds(soft_max=0.6, max=0.7), 0.65, WARNING), (Bounds(soft_max=0.6, max=0.7), 0.71, ERROR),
    (Bounds(min=0.0, max=0.0), 0.0, OK),
])
def test_each_bound_alone(bounds, value, status):
    assert check_bounds("m", value, bounds).status is status


def test_messages_name_the_value_and_the_bound_crossed():
    assert check_bounds("data_drift", 0.812, Bounds(soft_max=0.6, max=0.7)).message == "data_drift = 0.812 > max 0.7"
    assert check_bounds("data_drift", 0.65, Bounds(soft_max=0.6, max=0.7)).message == "data_drift = 0.65 > soft_max 0.6"
    assert check_bounds("auc", 0.5, Bounds(min=0.7)).message == "auc = 0.5 < min 0.7"
    assert check_bounds("psi[amount]", 0.1, Bounds(max=0.2)).message == "psi[amount] = 0.1 (within max 0.2)"


@pytest.mark.parametrize("value", [None, math.nan])
def test_a_missing_value_is_empty(value):
    assert check_bounds("m", value, ALL).status is EMPTY
    assert check_values("m", value, [1]).status is EMPTY


def test_values_in_set_compare_as_numbers():
    assert check_values("drifted", 1.0, [0, 1]).status is OK
    assert check_values("drifted", 0.0, [False]).status is OK
    verdict = check_values("classes", 3.0, [2, 4])
    assert verdict.status is ERROR and verdict.message == "classes = 3 not in [2, 4]"


def test_failing_rows():
    assert check_rows(0, [], []).status is OK
    verdict = check_rows(5, ["id", "amount"], [(1, -2.5), (2, None), (3, "x" * 100), (4, 0)])
    assert verdict.status is ERROR
    assert verdict.message.startswith("5 failing rows (first 3): (id=1, amount=-2.5); (id=2, amount=NULL); (id=3, amount=xxx")
    assert "id=4" not in verdict.message and "…" in verdict.message
    assert check_rows(1, ["id"], [(7,)]).message == "1 failing row: (id=7)"


def test_severity_warn_downgrades_only_errors():
    error = check_bounds("m", 1.0, Bounds(max=0.5))
    assert apply_severity(error, "warn").status is WARNING and apply_severity(error, "warn").message.endswith("(severity warn)")
    assert apply_severity(error, "error") is error
    for verdict in (check_bounds("m", 0.1, Bounds(max=0.5)), check_bounds("m", None, ALL)):
        assert apply_severity(verdict, "warn") is verdict


def test_node_statuses():
    assert [node_status(s) for s in (OK, WARNING, ERROR, EMPTY)] == ["success", "warn", "fail", "warn"]


def test_a_value_just_past_a_bound_never_prints_as_the_bound():
    assert check_bounds("m", 0.8000001, ALL).message == "m = 0.8000001 > max 0.8"
    assert check_bounds("m", 0.19999999, ALL).message == "m = 0.19999999 < min 0.2"
