"""The `drifted` rule and its `drift:` settings (mlmon.metrics.judgement), value by value.

Every threshold is tested on both sides of its boundary (the comparisons are strict: a value equal
to a threshold is not drift, a p-value equal to `pvalue` is significant), with thresholds and
values that are exact in binary floating point.
"""

from __future__ import annotations

import math

import pytest

from mlmon.metrics.judgement import CHANCE_DIVISOR, DRIFT_KEYS, DriftSettings, is_drifted, validate_drift_settings

NAN = float("nan")


def test_the_defaults_are_the_specs():
    assert DriftSettings() == DriftSettings(pvalue=0.05, psi=0.2, min_psi=0.1, missing_share_change=0.1,
                                            new_category_share=0.01, out_of_range_share=0.01)
    assert DRIFT_KEYS == ("pvalue", "psi", "min_psi", "missing_share_change", "new_category_share",
                          "out_of_range_share")


def test_nothing_known_is_no_drift():
    assert is_drifted({}, DriftSettings()) is False
    assert is_drifted({"psi": None, "ks_pvalue": None, "missing_share": None}, DriftSettings()) is False


# psi: 0.5 alone; min_psi: 0.25 with a p-value at or below 0.125
SETTINGS = DriftSettings(pvalue=0.125, psi=0.5, min_psi=0.25, missing_share_change=0.25, new_category_share=0.125,
                         out_of_range_share=0.125)


@pytest.mark.parametrize(("psi", "drifted"), [(0.5, False), (0.5000001, True), (4.0, True), (0.0, False)])
def test_psi_alone_above_its_threshold_is_drift(psi, drifted):
    assert is_drifted({"psi": psi}, SETTINGS) is drifted
    # a p-value far from significant changes nothing
    assert is_drifted({"psi": psi, "ks_pvalue": 0.9}, SETTINGS) is drifted


@pytest.mark.parametrize(("pvalue", "psi", "drifted"), [
    (0.125, 0.375, True),  # significant (p-value equal to the threshold counts) with an effect size
    (0.0, 0.2500001, True),
    (0.1250001, 0.375, False),  # not significant, effect below `psi`
    (0.125, 0.25, False),  # significant, but the effect is not above min_psi
    (0.0, 0.0, False),
    (0.0, None, False),  # a p-value without a PSI is never drift on its own
    (0.0, NAN, False),
    (NAN, 0.375, False),  # an unknown p-value is not significant
    (None, 0.375, False),
])
def test_a_significant_pvalue_counts_only_with_psi_above_min_psi(pvalue, psi, drifted):
    assert is_drifted({"psi": psi, "ks_pvalue": pvalue}, SETTINGS) is drifted
    assert is_drifted({"psi": psi, "chi2_pvalue": pvalue}, SETTINGS) is drifted


def test_the_ks_pvalue_is_used_before_the_chi_square_one():
    # a numeric feature's KS p-value decides, whatever a chi-square p-value says
    assert is_drifted({"psi": 0.375, "ks_pvalue": 0.5, "chi2_pvalue": 0.0}, SETTINGS) is False
    assert is_drifted({"psi": 0.375, "ks_pvalue": 0.0, "chi2_pvalue": 0.5}, SETTINGS) is True


def test_a_nan_psi_is_unknown_not_drift():
    assert is_drifted({"psi": NAN}, SETTINGS) is False
    assert is_drifted({"psi": NAN, "ks_pvalue": 0.0}, SETTINGS) is False


@pytest.mark.parametrize("flag", ["feature_missing", "type_changed"])
def test_a_column_gone_or_retyped_is_drift_whatever_the_tests_say(flag):
    assert is_drifted({flag: True, "psi": 0.0, "ks_pvalue": 1.0}, SETTINGS) is True
    assert is_drifted({flag: 1.0}, SETTINGS) is True
    assert is_drifted({flag: False, "psi": 0.0}, SETTINGS) is False
    assert is_drifted({flag: 0.0}, SETTINGS) is False
    assert is_drifted({flag: None}, SETTINGS) is False


@pytest.mark.parametrize(("missing", "before", "drifted"), [
    (0.5, 0.25, False),  # a change equal to the threshold is not drift
    (0.5, 0.125, True),
    (0.125, 0.5, True),  # fewer missing values is a change too
    (0.25, 0.5, False),
    (0.0, 0.0, False),
    (1.0, 0.0, True),
    (0.0, 1.0, True),
    (None, 0.0, False),
    (1.0, None, False),
    (NAN, 0.0, False),
])
def test_a_change_of_the_missing_share_above_its_threshold_is_drift(missing, before, drifted):
    values = {"missing_share": missing, "missing_share_reference": before, "psi": 0.0, "ks_pvalue": 1.0}
    assert is_drifted(values, SETTINGS) is drifted


@pytest.mark.parametrize("name", ["new_category_share", "out_of_range_share"])
@pytest.mark.parametrize(("share", "drifted"), [(0.125, False), (0.1250001, True), (1.0, True), (0.0, False),
                                                (None, False), (NAN, False)])
def test_shares_of_unseen_values_above_their_threshold_are_drift(name, share, drifted):
    assert is_drifted({name: share, "psi": 0.0, "ks_pvalue": 1.0}, SETTINGS) is drifted


def test_each_share_is_compared_with_its_own_threshold():
    settings = DriftSettings(new_category_share=0.5, out_of_range_share=0.125)
    assert is_drifted({"new_category_share": 0.25}, settings) is False
    assert is_drifted({"out_of_range_share": 0.25}, settings) is True
    settings = DriftSettings(new_category_share=0.125, out_of_range_share=0.5)
    assert is_drifted({"new_category_share": 0.25}, settings) is True
    assert is_drifted({"out_of_range_share": 0.25}, settings) is False


def test_the_default_thresholds_decide():
    default = DriftSettings()
    assert is_drifted({"psi": 0.21}, default) and not is_drifted({"psi": 0.19}, default)
    assert is_drifted({"psi": 0.11, "ks_pvalue": 0.05}, default)
    assert not is_drifted({"psi": 0.11, "ks_pvalue": 0.051}, default)
    assert not is_drifted({"psi": 0.09, "ks_pvalue": 0.0}, default)
    assert is_drifted({"missing_share": 0.15, "missing_share_reference": 0.0}, default)
    assert not is_drifted({"missing_share": 0.05, "missing_share_reference": 0.0}, default)
    assert is_drifted({"new_category_share": 0.02}, default) and not is_drifted({"new_category_share": 0.005}, default)
    assert is_drifted({"out_of_range_share": 0.02}, default) and not is_drifted({"out_of_range_share": 0.005}, default)


def test_settings_from_config_keep_known_numeric_keys():
    assert DriftSettings.from_config(None) == DriftSettings()
    assert DriftSettings.from_config({}) == DriftSettings()
    settings = DriftSettings.from_config({"psi": 1, "pvalue": "0.01", "min_psi": None, "colour": 3})
    assert settings == DriftSettings(psi=1.0, pvalue=0.01)
    assert isinstance(settings.psi, float) and isinstance(settings.pvalue, float)
    every = {key: 0.5 for key in DRIFT_KEYS}
    assert DriftSettings.from_config(every) == DriftSettings(**every)


def test_good_settings_have_no_problem():
    assert validate_drift_settings({}) == []
    assert validate_drift_settings({"pvalue": 0.01, "psi": 0, "min_psi": 0.0, "missing_share_change": 1,
                                    "new_category_share": 0.5, "out_of_range_share": 2.5}) == []


@pytest.mark.parametrize(("config", "expected"), [
    ({"colour": 1}, [("colour", "unknown drift setting 'colour'")]),
    ({3: 1}, [("3", "unknown drift setting '3'")]),
    ({"psi": True}, [("psi", "drift setting `psi` must be a number, got True")]),
    ({"psi": "0.2"}, [("psi", "drift setting `psi` must be a number, got '0.2'")]),
    ({"psi": None}, [("psi", "drift setting `psi` must be a number, got None")]),
    ({"min_psi": math.inf}, [("min_psi", "drift setting `min_psi` must be a number, got inf")]),
    ({"min_psi": NAN}, [("min_psi", "drift setting `min_psi` must be a number, got nan")]),
    ({"pvalue": 0}, [("pvalue", "drift setting `pvalue` must be between 0 and 1 (exclusive), got 0")]),
    ({"pvalue": 1.0}, [("pvalue", "drift setting `pvalue` must be between 0 and 1 (exclusive), got 1.0")]),
    ({"pvalue": -0.5}, [("pvalue", "drift setting `pvalue` must be between 0 and 1 (exclusive), got -0.5")]),
    ({"psi": -0.1}, [("psi", "drift setting `psi` must be at least 0, got -0.1")]),
    ({"out_of_range_share": -1}, [("out_of_range_share", "drift setting `out_of_range_share` must be at least 0, got -1")]),
])
def test_bad_settings_are_named_with_their_key(config, expected):
    assert validate_drift_settings(config) == expected


def test_every_bad_setting_is_reported_and_checking_goes_on_after_an_unknown_key():
    problems = validate_drift_settings({"colour": 1, "psi": -1, "pvalue": 2, "min_psi": 0.1})
    assert [key for key, _ in problems] == ["colour", "psi", "pvalue"]


@pytest.mark.parametrize("name,values", [
    ("psi", {"psi": 0.5}),
    ("missing_share", {"missing_share": 0.4, "missing_share_reference": 0.1}),
    ("new_category_share", {"new_category_share": 0.2}),
    ("out_of_range_share", {"out_of_range_share": 0.2}),
])
def test_an_effect_size_alone_counts_only_when_unlikely_by_chance(name, values):
    settings = DriftSettings()
    level = settings.pvalue / CHANCE_DIVISOR
    assert level == 0.0125
    assert is_drifted(values, settings)  # its chance unknown: the effect size decides
    assert is_drifted(values, settings, {name: None})
    assert is_drifted(values, settings, {name: float("nan")})
    assert is_drifted(values, settings, {name: level})
    assert not is_drifted(values, settings, {name: level * 1.001})
    assert is_drifted(values, DriftSettings(pvalue=0.2), {name: 0.049})  # the level follows `pvalue`
    # another effect's chance does not excuse this one
    assert is_drifted(values, settings, {other: 0.9 for other in ("psi", "missing_share", "new_category_share",
                                                                   "out_of_range_share") if other != name})


def test_a_significant_test_with_an_effect_needs_no_chance_of_its_own():
    values = {"psi": 0.15, "ks_pvalue": 0.01}
    assert is_drifted(values, DriftSettings(), {"psi": 0.9})


def test_a_column_empty_on_one_side_only_is_drift_whatever_its_chance():
    settings = DriftSettings()
    for missing, before in ((1.0, 0.5), (0.5, 1.0)):
        assert is_drifted({"missing_share": missing, "missing_share_reference": before}, settings, {"missing_share": 0.5})
    assert not is_drifted({"missing_share": 0.9, "missing_share_reference": 0.5}, settings, {"missing_share": 0.5})
    assert not is_drifted({"missing_share": 1.0, "missing_share_reference": 0.95}, settings, {"missing_share": 0.5})
