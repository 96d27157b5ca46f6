"""The demo data generator: shape, determinism, streaming output, and drift calibration.

Calibration is measured the way the spec defines data drift (a domain classifier's test
accuracy, reference = the model's held-out 20% of January-March) and the way a user sees model
decay (ROC AUC of a January-March HistGradientBoosting model, month by month).
"""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import HistGradientBoostingClassifier, RandomForestClassifier
from sklearn.impute import SimpleImputer
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import train_test_split
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import OneHotEncoder
from threadpoolctl import threadpool_limits

from mlmon.demo import generator as gen
from mlmon.demo.drift import DriftSettings
from mlmon.demo.generator import (
    BLOCK_ROWS,
    CATEGORICAL_FEATURES,
    COLUMNS,
    FEATURES,
    NEW_SUBSECTOR,
    TARGET,
    generate,
    generate_month,
    iter_month_chunks,
    main,
)

ROOT = Path(__file__).resolve().parents[2]
ROWS = 2500  # what the example project commits
NUMERIC = [c for c in FEATURES if c not in CATEGORICAL_FEATURES]
LATER = range(4, 13)


# --- measurement helpers -------------------------------------------------------------------


def _features(df: pd.DataFrame) -> pd.DataFrame:
    x = df[list(FEATURES)].copy()
    for column in CATEGORICAL_FEATURES:  # sklearn wants object columns with None for missing
        x[column] = x[column].astype(object).where(x[column].notna(), None)
    return x


def _preprocess(impute_numbers: bool) -> ColumnTransformer:
    categories = make_pipeline(
        SimpleImputer(strategy="constant", fill_value="(missing)"),
        OneHotEncoder(handle_unknown="ignore", sparse_output=False),
    )
    numbers = SimpleImputer(strategy="mean") if impute_numbers else "passthrough"
    return ColumnTransformer(
        [("num", numbers, NUMERIC), ("cat", categories, list(CATEGORICAL_FEATURES))]
    )


def data_drift(reference: pd.DataFrame, current: pd.DataFrame, seed: int = 0) -> float:
    """SPEC section 4 "Data drift (global)": test accuracy of a reference-vs-current classifier."""
    rng = np.random.default_rng(seed)
    n = min(len(reference), len(current))
    ref = reference.iloc[rng.permutation(len(reference))[:n]]
    cur = current.iloc[rng.permutation(len(current))[:n]]
    x = _features(pd.concat([ref, cur], ignore_index=True))
    y = np.r_[np.zeros(n), np.ones(n)]
    x_train, x_test, y_train, y_test = train_test_split(
        x, y, test_size=0.3, random_state=seed, stratify=y
    )
    domain = make_pipeline(
        _preprocess(impute_numbers=True),
        RandomForestClassifier(n_estimators=100, max_depth=5, random_state=1337),
    )
    domain.fit(x_train, y_train)
    return float((domain.predict(x_test) == y_test).mean())


def _measure(drift: DriftSettings) -> dict[str, object]:
    # One thread: on a few thousand rows OpenMP workers only spin, and on a busy machine the
    # spinning costs several times the work itself.
    with threadpool_limits(limits=1):
        return _measure_unthreaded(drift)


def _measure_unthreaded(drift: DriftSettings) -> dict[str, object]:
    months = {m: generate_month(2017, m, ROWS, drift=drift) for m in range(1, 13)}
    training = pd.concat([months[m] for m in (1, 2, 3)], ignore_index=True)
    train, test = train_test_split(
        training, test_size=0.2, random_state=0, stratify=training[TARGET]
    )
    model: Pipeline = make_pipeline(
        _preprocess(impute_numbers=False), HistGradientBoostingClassifier(max_iter=200)
    )
    model.fit(_features(train), train[TARGET])

    def auc(df: pd.DataFrame) -> float:
        return float(roc_auc_score(df[TARGET], model.predict_proba(_features(df))[:, 1]))

    return {
        "months": months,
        "held_out_auc": auc(test),
        "drift": {m: data_drift(test, months[m]) for m in LATER},
        "auc": {m: auc(months[m]) for m in LATER},
        "fraud_rate": {m: float(1 - months[m][TARGET].mean()) for m in range(1, 13)},
    }


# The drift's calibration is measured without the data-quality accidents of the late months
# (a dropped column, amounts in cents), which have tests of their own below.
NO_ACCIDENTS = DriftSettings(missing_from=None, out_of_range_month=None, dropped_month=None)


@pytest.fixture(scope="module")
def drifting() -> dict[str, object]:
    return _measure(NO_ACCIDENTS)


@pytest.fixture(scope="module")
def stationary() -> dict[str, object]:
    return _measure(DriftSettings.none())


# --- the data itself -----------------------------------------------------------------------


def test_columns_types_and_values(drifting: dict) -> None:
    months: dict[int, pd.DataFrame] = drifting["months"]
    jan = months[1]
    assert tuple(jan.columns) == COLUMNS
    assert len(jan) == ROWS
    assert set(FEATURES) == set(COLUMNS) - {
        "transaction_id", "card_id", "merchant_id", "purchase_date", TARGET
    }
    for column in ("transaction_id", "signature_provided", "card_age", "days_active", TARGET):
        assert pd.api.types.is_integer_dtype(jan[column]), column
    assert pd.api.types.is_datetime64_any_dtype(jan["purchase_date"])

    all_ids = pd.concat([m["transaction_id"] for m in months.values()])
    assert all_ids.is_unique
    for m, df in months.items():
        assert (df["purchase_date"].dt.to_period("M") == pd.Period(f"2017-{m:02d}")).all()
        assert df["purchase_date"].is_monotonic_increasing
        assert (df["purchase_weekday"] == df["purchase_date"].dt.day_of_week + 1).all()

    assert set(jan["item_category"]) <= set("ABCDE")
    assert {"gas", "groceries", "luxury goods"} <= set(jan["merchant_subsector_description"])
    assert set(jan[TARGET]) == {0, 1}
    assert set(jan["signature_provided"]) == {0, 1}
    amount = jan["purchase_amount"]
    assert (amount > 0).all() and amount.mean() > 1.5 * amount.median()  # right-skewed
    assert jan["card_fico_score"].dropna().between(300, 850).all()
    assert jan["card_id"].str.match(r"^C_ID_[0-9a-f]{10}$").all()
    assert jan["merchant_id"].str.match(r"^M_ID_[0-9a-f]{10}$").all()
    # A few realistic gaps, not holes.
    for column in ("card_fico_score", "card_reward_program"):
        assert 0.005 < jan[column].isna().mean() < 0.15, column
    assert jan.drop(columns=["card_fico_score", "card_reward_program"]).notna().all().all()


def test_entities_are_consistent_across_months(drifting: dict) -> None:
    rows = pd.concat(drifting["months"].values(), ignore_index=True)
    per_card = rows.groupby("card_id")[["card_fico_score", "card_age", "card_latitude"]].nunique()
    assert (per_card <= 1).all().all()  # a card keeps its attributes
    per_merchant = rows.groupby("merchant_id")[
        ["merchant_subsector_description", "merchant_latitude", "merchant_longitude"]
    ].nunique()
    assert (per_merchant == 1).all().all()
    # The distance column is the great-circle distance of the two positions.
    lat1, lon1, lat2, lon2 = (
        np.radians(rows[c])
        for c in ("card_latitude", "card_longitude", "merchant_latitude", "merchant_longitude")
    )
    a = np.sin((lat2 - lat1) / 2) ** 2
    a += np.cos(lat1) * np.cos(lat2) * np.sin((lon2 - lon1) / 2) ** 2
    km = 2 * 6371.0 * np.arcsin(np.sqrt(a))
    assert np.allclose(km, rows["merchant_cardholder_distance"], atol=0.01)


def test_training_months_fraud_rate_and_signal(drifting: dict) -> None:
    for m in (1, 2, 3):
        assert 0.07 < drifting["fraud_rate"][m] < 0.13
    assert 0.85 <= drifting["held_out_auc"] <= 0.95


# --- determinism and streaming -------------------------------------------------------------


def test_same_seed_same_rows_other_seed_other_rows() -> None:
    a = generate_month(2017, 5, 500)
    pd.testing.assert_frame_equal(a, generate_month(2017, 5, 500))
    b = generate_month(2017, 5, 500, seed=7)
    assert not a["purchase_amount"].equals(b["purchase_amount"])
    # Caches (card pool, fraud-rate calibration) hold no state that changes the output.
    gen._pools.cache_clear()
    gen._intercept.cache_clear()
    pd.testing.assert_frame_equal(a, generate_month(2017, 5, 500))


def test_months_are_independent_streams(tmp_path: Path) -> None:
    alone, together = tmp_path / "alone", tmp_path / "together"
    generate(alone, months=[5], rows=300)
    generate(together, months=range(1, 13), rows=300)
    name = gen.file_name(2017, 5)
    assert (alone / name).read_bytes() == (together / name).read_bytes()
    # Without drift two months follow one distribution but share no draws.
    none = DriftSettings.none()
    april = generate_month(2017, 4, 2000, drift=none)
    may = generate_month(2017, 5, 2000, drift=none)
    assert abs(np.corrcoef(april["purchase_amount"], may["purchase_amount"])[0, 1]) < 0.1
    assert (april["card_id"] == may["card_id"]).mean() < 0.01


def test_large_months_stream_in_blocks(tmp_path: Path) -> None:
    rows = BLOCK_ROWS + 1234
    chunks = list(iter_month_chunks(2017, 2, rows))
    assert [len(c) for c in chunks] == [BLOCK_ROWS, 1234]
    whole = pd.concat(chunks, ignore_index=True)
    first_id = 2017_02 * 10**8 + 1
    assert (whole["transaction_id"] == np.arange(first_id, first_id + rows)).all()
    assert whole["purchase_date"].is_monotonic_increasing
    assert whole["purchase_date"].iloc[-1] >= pd.Timestamp("2017-02-28")

    generate(tmp_path, months=[2], rows=rows, fmt="parquet")
    back = pd.read_parquet(tmp_path / gen.file_name(2017, 2, "parquet"))
    pd.testing.assert_frame_equal(back, generate_month(2017, 2, rows), check_dtype=False)


def test_csv_round_trips_exactly(tmp_path: Path) -> None:
    generate(tmp_path, months=[11], rows=1000)
    back = pd.read_csv(tmp_path / gen.file_name(2017, 11), parse_dates=["purchase_date"])
    pd.testing.assert_frame_equal(back, generate_month(2017, 11, 1000), check_dtype=False)


def test_committed_files_equal_regeneration(tmp_path: Path) -> None:
    paths = generate(tmp_path)  # the defaults are what data/ holds
    assert [p.name for p in paths] == [gen.file_name(2017, m) for m in range(1, 13)]
    for path in paths + [tmp_path / gen.MANIFEST_NAME]:
        committed = ROOT / "data" / path.name
        assert committed.exists(), f"{committed} missing: python -m mlmon.demo.generator --out data"
        assert committed.read_bytes() == path.read_bytes(), f"{committed} differs from regeneration"


def test_manifest_reports_true_drift(tmp_path: Path) -> None:
    generate(tmp_path, rows=1000)
    manifest = json.loads((tmp_path / gen.MANIFEST_NAME).read_text())
    assert manifest["training_months"] == ["2017_01", "2017_02", "2017_03"]
    assert manifest["stationary"] is False
    months = {e["month"]: e for e in manifest["months"]}
    assert len(months) == 12
    for m in ("2017_01", "2017_02", "2017_03"):
        assert months[m]["drift"] == {
            "ramp": 0.0, "covariate": 0.0, "prior": 0.0, "concept": 0.0, "new_category_share": 0.0
        }
    ramps = [months[f"2017_{m:02d}"]["drift"]["ramp"] for m in LATER]
    assert ramps == sorted(ramps) and ramps[-1] == 1.0
    for m in range(1, 13):
        entry = months[f"2017_{m:02d}"]
        seen = entry["observed"]["new_category_share"]
        assert (seen > 0) == (m >= 7) == (entry["new_category"] == NEW_SUBSECTOR)
    assert months["2017_12"]["expected_fraud_rate"] == pytest.approx(0.2)
    assert months["2017_12"]["observed"]["fraud_rate"] > 0.15

    # Regenerating one month with the same settings keeps the other months' entries.
    generate(tmp_path, months=[4], rows=1000)
    assert len(json.loads((tmp_path / gen.MANIFEST_NAME).read_text())["months"]) == 12
    generate(tmp_path, months=[4], rows=1000, drift=DriftSettings.none())
    redone = json.loads((tmp_path / gen.MANIFEST_NAME).read_text())
    assert [e["month"] for e in redone["months"]] == ["2017_04"] and redone["stationary"] is True


def test_drift_settings() -> None:
    none = DriftSettings.none()
    assert none.is_stationary and not DriftSettings().is_stationary
    for m in range(1, 13):
        lv = none.levels(2017, m)
        assert (lv.covariate, lv.prior, lv.concept, lv.new_category_share) == (0, 0, 0, 0)
    d = DriftSettings(covariate=2.0, concept=0.5)
    assert d.levels(2017, 3).ramp == 0.0
    assert d.levels(2017, 12).covariate == 2.0 and d.levels(2017, 12).concept == 0.5
    assert d.levels(2018, 6).ramp == 1.0  # later years stay at full drift
    assert DriftSettings(new_category_from=None).levels(2017, 12).new_category_share == 0.0
    with pytest.raises(ValueError):
        DriftSettings(start=9, full=5)
    with pytest.raises(ValueError):
        DriftSettings(new_category=-1.0)
    with pytest.raises(ValueError):
        generate_month(2017, 13, 10)


def test_cli(tmp_path: Path) -> None:
    out = io.StringIO()
    code = main(
        ["--out", str(tmp_path), "--rows", "50", "--months", "1-2,12", "--no-drift",
         "--concept", "1", "--format", "parquet", "--seed", "3"],
        out=out,
    )
    assert code == 0 and "3 file(s)" in out.getvalue()
    assert sorted(p.name for p in tmp_path.glob("*.parquet")) == [
        gen.file_name(2017, m, "parquet") for m in (1, 2, 12)
    ]
    manifest = json.loads((tmp_path / gen.MANIFEST_NAME).read_text())
    assert manifest["seed"] == 3 and manifest["settings"]["concept"] == 1.0
    assert manifest["settings"]["covariate"] == 0.0
    with pytest.raises(SystemExit) as exc:
        main(["--out", str(tmp_path), "--months", "0-13"], out=out)
    assert exc.value.code == 2


# --- calibration ---------------------------------------------------------------------------


def test_default_drift_data_drift_calibration(drifting: dict) -> None:
    acc: dict[int, float] = drifting["drift"]
    for m in (4, 5, 6):
        assert acc[m] <= 0.57, (m, acc)
    for m in (10, 11, 12):
        assert acc[m] >= 0.75, (m, acc)
    values = [acc[m] for m in LATER]
    # Roughly monotone: sampling noise may dip a month by a little, never by much.
    assert all(b >= a - 0.03 for a, b in zip(values, values[1:])), acc
    assert np.corrcoef(list(LATER), values)[0, 1] > 0.9


def test_default_drift_degrades_the_model(drifting: dict) -> None:
    auc: dict[int, float] = drifting["auc"]
    assert auc[12] <= auc[4] - 0.05, auc
    assert np.corrcoef(list(LATER), [auc[m] for m in LATER])[0, 1] < -0.8, auc
    # Prior shift: the fraud rate climbs.
    assert drifting["fraud_rate"][12] > drifting["fraud_rate"][4] + 0.05


def test_no_drift_stays_stationary(stationary: dict) -> None:
    acc: dict[int, float] = stationary["drift"]
    assert max(acc.values()) <= 0.58, acc
    auc: dict[int, float] = stationary["auc"]
    assert all(abs(auc[m] - auc[4]) <= 0.03 for m in LATER), auc
    assert all(0.07 < stationary["fraud_rate"][m] < 0.13 for m in range(1, 13))
    assert not any(
        (df["merchant_subsector_description"] == NEW_SUBSECTOR).any()
        for df in stationary["months"].values()
    )


# --- data-quality accidents ----------------------------------------------------------------


def test_late_months_carry_the_data_quality_accidents(tmp_path: Path) -> None:
    generate(tmp_path, months=[10, 11, 12], rows=4000)
    month = {m: pd.read_csv(tmp_path / gen.file_name(2017, m)) for m in (10, 11, 12)}
    clean = {m: generate_month(2017, m, 4000, drift=NO_ACCIDENTS) for m in (11, 12)}
    assert "merchant_cardholder_distance" in month[11] and "merchant_cardholder_distance" not in month[12]
    # 15% more blank FICO scores from November; 5% of November's amounts in cents
    extra = month[11]["card_fico_score"].isna().mean() - clean[11]["card_fico_score"].isna().mean()
    assert 0.12 < extra < 0.18
    ratio = month[11]["purchase_amount"] / clean[11]["purchase_amount"]
    assert set(np.round(ratio.unique(), 9)) == {1.0, 100.0} and 0.04 < (ratio == 100).mean() < 0.06
    assert month[10]["card_fico_score"].isna().mean() < 0.05  # October is untouched
    # the accidents use their own stream: everything else is the month as it would be
    same = [c for c in clean[12].columns if c not in ("card_fico_score", "merchant_cardholder_distance")]
    pd.testing.assert_frame_equal(month[12][same], clean[12][same].assign(
        purchase_date=clean[12]["purchase_date"].astype(str)), check_dtype=False)
    manifest = {e["month"]: e for e in json.loads((tmp_path / gen.MANIFEST_NAME).read_text())["months"]}
    assert manifest["2017_10"]["quality"] == {}
    assert manifest["2017_11"]["quality"] == {"extra_missing": {"card_fico_score": 0.15},
                                              "out_of_range": {"purchase_amount": 0.05}}
    assert manifest["2017_12"]["quality"]["dropped_column"] == "merchant_cardholder_distance"


def test_accident_knobs_on_the_command_line(tmp_path: Path) -> None:
    out = io.StringIO()
    assert main(["--out", str(tmp_path), "--rows", "200", "--months", "3", "--no-drift", "--dropped-month", "3",
                 "--dropped-column", "card_age", "--out-of-range-month", "0"], out=out) == 0
    frame = pd.read_csv(tmp_path / gen.file_name(2017, 3))
    assert "card_age" not in frame and len(frame) == 200
    settings = json.loads((tmp_path / gen.MANIFEST_NAME).read_text())["settings"]
    assert settings["dropped_month"] == 3 and settings["out_of_range_month"] is None
    with pytest.raises(ValueError):
        DriftSettings(missing_share=1.5)
