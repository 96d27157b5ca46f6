"""Which features an evaluation compares, and the drift of the ones it cannot (mlmon.evaluation.quality),
on small DuckDB relations with hand-counted values."""

from __future__ import annotations

from dataclasses import dataclass, field

import duckdb
import pytest

from mlmon.evaluation.quality import compare_features, present_counts, unknown_labels
from mlmon.metrics.judgement import DriftSettings
from mlmon.metrics.types import MetricValue


@dataclass
class Plan:
    features: list[str]
    numeric: tuple[str, ...] = ()
    categorical: tuple[str, ...] = ()
    drift: DriftSettings = field(default_factory=DriftSettings)


@pytest.fixture
def con():
    c = duckdb.connect()
    # reference: 4 rows; current: 5 rows
    c.execute("CREATE TABLE ref AS SELECT * FROM (VALUES "
              "(1.0, 'a', 10, DATE '2026-01-01', 'x', 1.5), (NULL, 'b', 11, DATE '2026-01-02', 'y', 2.5), "
              "(3.0, NULL, 12, NULL, 'z', 3.5), ('NaN'::DOUBLE, 'a', 13, DATE '2026-01-04', NULL, 4.5)"
              ") AS t(num, cat, n, d, same_text, only_ref)")
    c.execute("CREATE TABLE cur AS SELECT * FROM (VALUES "
              "(1.0, 'a', 'ten', DATE '2026-02-01', 'x', 7), (2.0, 'b', NULL, DATE '2026-02-02', 'y', 8), "
              "(NULL, 'c', 'twelve', DATE '2026-02-03', 'z', 9), (4.0, 'a', NULL, DATE '2026-02-04', 'w', 10), "
              "(5.0, NULL, 'x', NULL, 'v', 11)"
              ") AS t(num, cat, n, d, same_text, only_cur)")
    yield c
    c.close()


def test_present_counts_treat_null_and_nan_as_missing(con):
    types = {"num": "DOUBLE", "cat": "VARCHAR", "d": "DATE"}
    assert present_counts(con, "ref", ["num", "cat", "d"], types) == (4, {"num": 2, "cat": 3, "d": 3})
    assert present_counts(con, "cur", ["num", "cat"], {"num": "DOUBLE", "cat": "VARCHAR"}) == (5, {"num": 4, "cat": 4})
    assert present_counts(con, "(SELECT * FROM cur WHERE false)", ["num"], {"num": "DOUBLE"}) == (0, {"num": 0})
    assert present_counts(con, "ref", [], {}) == (4, {})


def test_comparable_features_absent_and_retyped_ones(con):
    plan = Plan(features=["num", "cat", "n", "d", "same_text", "only_ref", "only_cur", "gone"],
                numeric=("num", "n", "d", "only_ref", "only_cur"), categorical=("cat", "same_text", "gone"))
    compared = compare_features(con, "cur", "ref", plan)
    assert compared.numeric == ["num"]  # n changed type; d is a date on both sides
    assert compared.categorical == ["cat", "same_text"]
    assert compared.absent == ["only_ref", "gone"]
    assert compared.notes == [
        "feature only_cur is not in the reference rows: its drift is not computed",
        "feature d has type DATE, not a number: its drift is not computed",
        "feature n changed type: INTEGER in the reference, VARCHAR in the data; it counts as drifted",
    ]
    broken = {(m.feature, m.metric): m.value for m in compared.broken}
    # only_ref: missing from the data (share 1), none missing in the reference; gone: on neither side
    assert broken[("only_ref", "feature_missing")] == 1.0 and broken[("only_ref", "type_changed")] == 0.0
    assert broken[("only_ref", "missing_share")] == 1.0 and broken[("only_ref", "missing_share_reference")] == 0.0
    assert broken[("gone", "missing_share_reference")] is None
    # n: 2 of 5 missing in the data, 0 of 4 in the reference
    assert broken[("n", "type_changed")] == 1.0 and broken[("n", "feature_missing")] == 0.0
    assert broken[("n", "missing_share")] == pytest.approx(2 / 5, abs=1e-15)
    assert broken[("n", "missing_share_reference")] == 0.0
    assert all(broken[(f, "drifted")] == 1.0 for f in ("only_ref", "gone", "n"))
    assert {f for f, _ in broken} == {"only_ref", "gone", "n"}


def test_a_side_without_any_value_has_no_type(con):
    """A month whose column holds no value at all (read from CSV as text) is not a type change."""
    plan = Plan(features=["num", "cat"], numeric=("num",), categorical=("cat",))
    empty_num = "(SELECT CAST(NULL AS VARCHAR) AS num, cat FROM cur)"
    compared = compare_features(con, empty_num, "ref", plan)
    # the reference's type decides: num is still compared as a number (every value missing)
    assert compared.numeric == ["num"] and compared.categorical == ["cat"]
    assert compared.broken == [] and compared.absent == [] and compared.notes == []
    empty_ref = "(SELECT CAST(NULL AS VARCHAR) AS num, cat FROM ref)"
    assert compare_features(con, "cur", empty_ref, plan).broken == []


def test_the_missing_share_of_a_retyped_feature_on_no_rows_is_unknown(con):
    plan = Plan(features=["n"], numeric=("n",))
    compared = compare_features(con, "(SELECT * FROM cur WHERE n = 'ten')", "(SELECT * FROM ref WHERE false)", plan)
    assert compared.broken == []  # no reference value: no type to compare with
    compared = compare_features(con, "(SELECT * FROM cur WHERE false)", "ref", plan)
    assert compared.broken == []  # no current value: no type either
    compared = compare_features(con, "cur", "(SELECT * FROM ref)", Plan(features=["gone"]))
    assert {m.metric: m.value for m in compared.broken}["missing_share_reference"] is None


def test_a_broken_feature_is_drifted_whatever_the_thresholds(con):
    lenient = DriftSettings(psi=100.0, min_psi=100.0, missing_share_change=100.0, new_category_share=100.0,
                            out_of_range_share=100.0)
    plan = Plan(features=["gone", "n"], numeric=("n",), drift=lenient)
    compared = compare_features(con, "cur", "ref", plan)
    assert [m for m in compared.broken if m.metric == "drifted"] == [MetricValue("drifted", 1.0, "gone"),
                                                                    MetricValue("drifted", 1.0, "n")]


def test_every_broken_feature_keeps_its_metrics_and_the_reference_missing_share(con):
    """num is absent from the data (half its reference values missing: a NULL and a NaN); n changed type."""
    plan = Plan(features=["num", "n"], numeric=("num", "n"))
    compared = compare_features(con, "(SELECT cat, n FROM cur)", "ref", plan)
    assert compared.absent == ["num"] and compared.numeric == []
    broken = {(m.feature, m.metric): m.value for m in compared.broken}
    assert broken[("num", "missing_share_reference")] == 0.5 and broken[("num", "missing_share")] == 1.0
    assert broken[("n", "type_changed")] == 1.0 and broken[("n", "missing_share")] == pytest.approx(0.4, abs=1e-15)
    assert [m.feature for m in compared.broken if m.metric == "drifted"] == ["num", "n"]


def test_a_text_feature_listed_as_numeric_is_not_compared_as_a_number(con):
    plan = Plan(features=["same_text", "num"], numeric=("same_text", "num"))
    compared = compare_features(con, "cur", "ref", plan)
    assert compared.numeric == ["num"] and compared.broken == []
    assert compared.notes == ["feature same_text has type VARCHAR, not a number: its drift is not computed"]


def test_unknown_labels_share_and_warning():
    metrics, warnings = unknown_labels("y", [0, 1], {"0": 6, "1": 2, "2": 1, "7": 1})
    assert metrics == [MetricValue("unknown_label_share", 0.2)]
    assert warnings == ["target y holds classes the reference does not know: 2, 7 (20.00% of labelled rows); "
                        "those rows are left out of performance"]
    metrics, warnings = unknown_labels("y", [0.0, 1.0], {"0": 3, "1": 0, "yes": 1})
    assert metrics == [MetricValue("unknown_label_share", 0.25)]
    assert warnings == ["target y holds a class the reference does not know: yes (25.00% of labelled rows); "
                        "those rows are left out of performance"]
    assert unknown_labels("y", [True, False], {"true": 3, "false": 1}) == ([MetricValue("unknown_label_share", 0.0)], [])
    assert unknown_labels("y", [0, 1], {}) == ([], [])
    assert unknown_labels("y", [0, 1], {"0": 0}) == ([], [])
