"""Monthly prepared credit-card transactions for the fraud-monitoring example project.

The columns mirror the "transactions_prepared" dataset of the Dataiku MLOps tutorial; the
target `authorized_flag` is 0 for a fraudulent (refused) purchase.

Randomness: the card and merchant reference tables, and the sample used to calibrate the fraud
rate, depend on `seed` alone (a card keeps its FICO score and home town across months). The
rows of a month come from one stream seeded with (seed, year, month), consumed in fixed blocks
of `BLOCK_ROWS`, so a month is the same whatever other months are generated, and a large month
can be written block by block in bounded memory.

    python -m mlmon.demo.generator --out data --rows 2500 --months 1-12 --seed 42
"""

from __future__ import annotations

import argparse
import calendar
import json
import math
import sys
import time
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import IO, Any, Iterable, Iterator, Sequence

import numpy as np
import pandas as pd

from mlmon.demo.drift import PRIOR_FULL_LOGIT_SHIFT, DriftLevels, DriftSettings

__all__ = [
    "BLOCK_ROWS",
    "MANIFEST_NAME",
    "COLUMNS",
    "FEATURES",
    "CATEGORICAL_FEATURES",
    "TARGET",
    "NEW_SUBSECTOR",
    "DriftSettings",
    "file_name",
    "iter_month_chunks",
    "generate_month",
    "generate",
    "main",
]

MANIFEST_NAME = "drift_manifest.json"
BLOCK_ROWS = 100_000  # part of the output's definition: changing it changes months over this size

COLUMNS: tuple[str, ...] = (
    "transaction_id",
    "purchase_date",
    "card_id",
    "merchant_id",
    "item_category",
    "purchase_amount",
    "signature_provided",
    "merchant_subsector_description",
    "card_fico_score",
    "card_age",
    "card_reward_program",
    "card_latitude",
    "card_longitude",
    "merchant_latitude",
    "merchant_longitude",
    "merchant_cardholder_distance",
    "days_active",
    "purchase_weekday",
    "authorized_flag",
)
TARGET = "authorized_flag"
_NOT_FEATURES = {"transaction_id", "card_id", "merchant_id", "purchase_date", TARGET}
FEATURES: tuple[str, ...] = tuple(c for c in COLUMNS if c not in _NOT_FEATURES)
CATEGORICAL_FEATURES: tuple[str, ...] = (
    "item_category",
    "merchant_subsector_description",
    "card_reward_program",
)


@dataclass(frozen=True)
class _Subsector:
    name: str
    weight: float  # share of purchases in the training months
    log_amount: float  # median purchase amount, log dollars
    risk: float  # fraud log-odds contribution before concept drift
    risk_new: float  # ... and once the fraud pattern has changed
    tilt: float  # log-weight change at full covariate drift


_SUBSECTORS: tuple[_Subsector, ...] = (
    _Subsector("gas", 0.14, 3.6, -0.3, 1.4, -2.4),
    _Subsector("groceries", 0.18, 4.0, -0.7, 0.9, -2.3),
    _Subsector("restaurant/dining", 0.13, 3.7, -0.4, -0.3, -0.5),
    _Subsector("fast food", 0.08, 2.7, -0.6, 0.7, 0.7),
    _Subsector("apparel", 0.09, 4.4, 0.0, -0.5, 1.4),
    _Subsector("electronics", 0.07, 5.6, 0.8, 0.1, 2.4),
    _Subsector("luxury goods", 0.03, 6.3, 1.2, -0.4, 2.3),
    _Subsector("travel/airlines", 0.06, 6.0, 0.5, -0.1, 1.7),
    _Subsector("pharmacy", 0.07, 3.5, -0.5, -0.5, -1.0),
    _Subsector("entertainment", 0.06, 4.0, 0.1, 0.7, 2.3),
    _Subsector("books", 0.04, 3.3, -0.4, -0.8, -1.1),
    _Subsector("telecom", 0.05, 4.3, 0.2, 1.2, 2.3),
)
# Absent from the training months; risky under both fraud patterns, unknown to the model.
_NEW = _Subsector("crypto exchange", 0.0, 5.4, 1.5, 2.0, 0.0)
NEW_SUBSECTOR = _NEW.name
_ALL_SUBSECTORS = _SUBSECTORS + (_NEW,)

_ITEM_CATEGORIES = ("A", "B", "C", "D", "E")
_ITEM_WEIGHTS = np.array([0.32, 0.26, 0.20, 0.14, 0.08])
_ITEM_TILT = np.array([-2.3, -1.0, 0.0, 1.7, 3.4])
_ITEM_RISK = np.array([-0.2, 0.0, 0.1, 0.3, 0.5])
_ITEM_RISK_NEW = np.array([0.7, 0.4, 0.0, -0.3, -0.5])

_REWARD_PROGRAMS = ("cash_back", "points", "travel", "dining")

# (latitude, longitude, population in millions); where cardholders live and merchants sit.
_CITIES = np.array(
    [
        (40.7128, -74.0060, 8.3),  # New York
        (34.0522, -118.2437, 3.9),  # Los Angeles
        (41.8781, -87.6298, 2.7),  # Chicago
        (29.7604, -95.3698, 2.3),  # Houston
        (33.4484, -112.0740, 1.6),  # Phoenix
        (39.9526, -75.1652, 1.6),  # Philadelphia
        (29.4241, -98.4936, 1.5),  # San Antonio
        (32.7157, -117.1611, 1.4),  # San Diego
        (32.7767, -96.7970, 1.3),  # Dallas
        (37.3382, -121.8863, 1.0),  # San Jose
        (30.2672, -97.7431, 0.95),  # Austin
        (30.3322, -81.6557, 0.9),  # Jacksonville
        (39.9612, -82.9988, 0.88),  # Columbus
        (37.7749, -122.4194, 0.88),  # San Francisco
        (35.2271, -80.8431, 0.86),  # Charlotte
        (39.7684, -86.1581, 0.86),  # Indianapolis
        (47.6062, -122.3321, 0.72),  # Seattle
        (39.7392, -104.9903, 0.70),  # Denver
        (42.3601, -71.0589, 0.68),  # Boston
        (42.3314, -83.0458, 0.67),  # Detroit
        (36.1627, -86.7816, 0.66),  # Nashville
        (45.5152, -122.6784, 0.65),  # Portland
        (36.1699, -115.1398, 0.64),  # Las Vegas
        (33.7490, -84.3880, 0.47),  # Atlanta
        (25.7617, -80.1918, 0.46),  # Miami
        (44.9778, -93.2650, 0.41),  # Minneapolis
        (29.9511, -90.0715, 0.39),  # New Orleans
        (40.7608, -111.8910, 0.20),  # Salt Lake City
    ]
)

_N_CARDS = 20_000  # the established portfolio
_N_NEW_CARDS = 8_000  # a customer segment acquired after the training months
_MERCHANTS_PER_CITY_AND_SUBSECTOR = 6
_CALIBRATION_ROWS = 40_000
_BASE_FRAUD_RATE = 0.10
# Tags keep the seed-only streams apart from every (seed, year, month) stream.
_POOL_TAG = 0x706F6F6C
_CALIBRATION_TAG = 0x63616C69

# Full covariate drift: 85% of purchases come from the new segment (young cash-back cards,
# lower FICO scores, less active, mostly in the West), amounts x2.7 on top of a shift towards
# pricier subsectors and items, contactless payments replacing signatures, more purchases
# away from home. Sized so that a domain classifier barely notices the first drifted months
# and clearly separates the last ones (see tests/demo).
_NEW_SEGMENT_SHARE = 0.85
_AMOUNT_SHIFT = 1.0
_SIGNATURE_RATE = 0.72
_SIGNATURE_SHIFT = -0.6
_REMOTE_RATE = 0.12
_REMOTE_SHIFT = 0.5


@dataclass(frozen=True)
class _Rule:
    """Fraud log-odds coefficients on standardised inputs."""

    amount: float
    fico: float
    fico_missing: float
    distance: float
    no_signature: float
    card_age: float
    days_active: float
    weekend: float
    travel_rewards: float

    def mix(self, other: _Rule, weight: float) -> _Rule:
        return _Rule(
            *(
                (1.0 - weight) * getattr(self, f) + weight * getattr(other, f)
                for f in self.__dataclass_fields__
            )
        )


# Training months: large, remote, unsigned purchases on weak-credit, young cards.
_RULE = _Rule(1.1, -0.8, 0.6, 0.9, 1.0, -0.3, -0.3, 0.0, 0.0)
# After concept drift: amount, distance and signature matter less; fraud moves to old, active
# cards, weekends, travel-reward cards, everyday subsectors (gas, groceries, telecom) and item
# category A. As strong as the old rule, so a retrained model recovers.
_RULE_NEW = _Rule(0.5, -0.8, 0.6, 0.6, 0.8, 1.0, 0.5, 1.0, 0.9)


@dataclass(frozen=True)
class _Pools:
    """Cards (established ones first, then the new segment) and merchants."""

    card_id: np.ndarray
    card_city: np.ndarray
    card_lat: np.ndarray
    card_lon: np.ndarray
    card_fico: np.ndarray  # float, NaN where unknown
    card_age: np.ndarray
    card_reward: np.ndarray  # object, None where not recorded
    card_activity: np.ndarray
    merchant_id: np.ndarray  # flat, index = (city * n_subsectors + subsector) * per_cell + k
    merchant_lat: np.ndarray
    merchant_lon: np.ndarray


@dataclass(frozen=True)
class _Segment:
    size: int
    west: float  # log-weight per unit of "westness" of a city
    fico_mean: float
    age_shape: float
    age_scale: float  # months
    reward_weights: tuple[float, ...]  # _REWARD_PROGRAMS, then missing
    activity: tuple[float, float]  # beta parameters of the share of days with a purchase


_ESTABLISHED = _Segment(
    _N_CARDS, 0.0, 705.0, 2.0, 22.0, (0.38, 0.30, 0.14, 0.10, 0.08), (2.0, 3.0)
)
_NEW_SEGMENT = _Segment(
    _N_NEW_CARDS, 2.0, 630.0, 1.5, 6.0, (0.70, 0.14, 0.05, 0.05, 0.06), (1.5, 4.0)
)


def _hex_ids(rng: np.random.Generator, prefix: str, n: int) -> np.ndarray:
    # Kaggle/Elo style ids ("C_ID_92a2005557"); redraw until unique so ids never collide.
    values = np.unique(rng.integers(0, 16**10, size=n + n // 10 + 16))
    while values.size < n:
        values = np.unique(np.concatenate([values, rng.integers(0, 16**10, size=n)]))
    values = rng.permutation(values)[:n]
    return np.array([f"{prefix}{v:010x}" for v in values], dtype=object)


def _cards(rng: np.random.Generator, seg: _Segment) -> dict[str, np.ndarray]:
    n = seg.size
    west = np.clip((-90.0 - _CITIES[:, 1]) / 30.0, -1.0, 1.0)
    city = _pick(rng, _CITIES[:, 2] * np.exp(seg.west * west), n)
    fico = np.clip(np.round(rng.normal(seg.fico_mean, 55.0, n)), 450, 850)
    fico[rng.random(n) < 0.02] = np.nan
    age = np.minimum(1 + np.floor(rng.gamma(seg.age_shape, seg.age_scale, n)), 360)
    reward = np.array([*_REWARD_PROGRAMS, None], dtype=object)[
        _pick(rng, np.array(seg.reward_weights), n)
    ]
    return {
        "card_city": city,
        "card_lat": np.round(_CITIES[city, 0] + rng.normal(0.0, 0.12, n), 5),
        "card_lon": np.round(_CITIES[city, 1] + rng.normal(0.0, 0.15, n), 5),
        "card_fico": fico,
        "card_age": age.astype(np.int64),
        "card_reward": reward,
        "card_activity": rng.beta(*seg.activity, n),
    }


@lru_cache(maxsize=8)
def _pools(seed: int) -> _Pools:
    rng = np.random.default_rng(np.random.SeedSequence([seed, _POOL_TAG]))
    established, new = _cards(rng, _ESTABLISHED), _cards(rng, _NEW_SEGMENT)
    cards = {k: np.concatenate([established[k], new[k]]) for k in established}
    n_merchants = len(_CITIES) * len(_ALL_SUBSECTORS) * _MERCHANTS_PER_CITY_AND_SUBSECTOR
    merchant_city = np.arange(n_merchants) // (
        len(_ALL_SUBSECTORS) * _MERCHANTS_PER_CITY_AND_SUBSECTOR
    )
    return _Pools(
        card_id=_hex_ids(rng, "C_ID_", _N_CARDS + _N_NEW_CARDS),
        merchant_id=_hex_ids(rng, "M_ID_", n_merchants),
        merchant_lat=np.round(_CITIES[merchant_city, 0] + rng.normal(0.0, 0.08, n_merchants), 5),
        merchant_lon=np.round(_CITIES[merchant_city, 1] + rng.normal(0.0, 0.10, n_merchants), 5),
        **cards,
    )


def _pick(rng: np.random.Generator, weights: np.ndarray, n: int) -> np.ndarray:
    """Weighted choice by inverse CDF: one uniform per row whatever the weights."""
    cdf = np.cumsum(weights)
    return np.minimum(np.searchsorted(cdf, rng.random(n) * cdf[-1], side="right"), len(cdf) - 1)


def _haversine_km(
    lat1: np.ndarray, lon1: np.ndarray, lat2: np.ndarray, lon2: np.ndarray
) -> np.ndarray:
    p1, p2 = np.radians(lat1), np.radians(lat2)
    dp, dl = p2 - p1, np.radians(lon2 - lon1)
    a = np.sin(dp / 2) ** 2 + np.cos(p1) * np.cos(p2) * np.sin(dl / 2) ** 2
    return 2 * 6371.0 * np.arcsin(np.sqrt(np.clip(a, 0.0, 1.0)))


def _draw(
    rng: np.random.Generator,
    n: int,
    t_from: float,
    t_to: float,
    lv: DriftLevels,
    pools: _Pools,
) -> dict[str, np.ndarray]:
    """Every column but the ids and the label, plus the indices the fraud rule needs.

    Every draw has a size fixed by `n` alone, so the stream is consumed identically whatever
    the drift: other knob values move the same purchases instead of reshuffling them.
    """
    cov = lv.covariate
    from_new_segment = rng.random(n) < np.clip(cov * _NEW_SEGMENT_SHARE, 0.0, 1.0)
    card = np.where(
        from_new_segment,
        _N_CARDS + rng.integers(0, _N_NEW_CARDS, n),
        rng.integers(0, _N_CARDS, n),
    )

    weights = np.array([s.weight for s in _SUBSECTORS]) * np.exp(
        cov * np.array([s.tilt for s in _SUBSECTORS])
    )
    weights = np.append(
        weights / weights.sum() * (1.0 - lv.new_category_share), lv.new_category_share
    )
    sub = _pick(rng, weights, n)

    remote = rng.random(n) < np.clip(_REMOTE_RATE + cov * _REMOTE_SHIFT, 0.0, 0.9)
    other_city = _pick(rng, _CITIES[:, 2], n)
    city = np.where(remote, other_city, pools.card_city[card])
    k = rng.integers(0, _MERCHANTS_PER_CITY_AND_SUBSECTOR, n)
    merchant = (city * len(_ALL_SUBSECTORS) + sub) * _MERCHANTS_PER_CITY_AND_SUBSECTOR + k

    log_amount = np.array([s.log_amount for s in _ALL_SUBSECTORS])[sub]
    amount = np.exp(log_amount + cov * _AMOUNT_SHIFT + rng.normal(0.0, 0.7, n))
    amount = np.maximum(np.round(amount, 2), 1.0)

    item = _pick(rng, _ITEM_WEIGHTS * np.exp(cov * _ITEM_TILT), n)
    signature = rng.random(n) < np.clip(_SIGNATURE_RATE + cov * _SIGNATURE_SHIFT, 0.02, 0.98)
    days_active = rng.binomial(365, pools.card_activity[card])
    seconds = np.sort(rng.uniform(t_from, t_to, n)).astype(np.int64)

    card_lat, card_lon = pools.card_lat[card], pools.card_lon[card]
    m_lat, m_lon = pools.merchant_lat[merchant], pools.merchant_lon[merchant]
    return {
        "card": card,
        "sub": sub,
        "item": item,
        "merchant": merchant,
        "purchase_amount": amount,
        "signature_provided": signature.astype(np.int64),
        "card_fico_score": pools.card_fico[card],
        "card_age": pools.card_age[card],
        "card_latitude": card_lat,
        "card_longitude": card_lon,
        "merchant_latitude": m_lat,
        "merchant_longitude": m_lon,
        "merchant_cardholder_distance": np.round(
            _haversine_km(card_lat, card_lon, m_lat, m_lon), 2
        ),
        "days_active": days_active.astype(np.int64),
        "seconds": seconds,
        # 1970-01-01 was a Thursday: ISO weekday 1 = Monday ... 7 = Sunday.
        "purchase_weekday": ((seconds // 86_400 + 3) % 7 + 1).astype(np.int64),
    }


def _log_odds(d: dict[str, np.ndarray], lv: DriftLevels, pools: _Pools) -> np.ndarray:
    """Fraud log-odds without intercept: the training-months rule blended into the new one."""
    c = lv.concept
    rule = _RULE.mix(_RULE_NEW, c)
    fico = d["card_fico_score"]
    missing = np.isnan(fico)
    risk = (1 - c) * np.array([s.risk for s in _ALL_SUBSECTORS]) + c * np.array(
        [s.risk_new for s in _ALL_SUBSECTORS]
    )
    item_risk = (1 - c) * _ITEM_RISK + c * _ITEM_RISK_NEW
    travel = pools.card_reward[d["card"]] == "travel"
    return (
        rule.amount * (np.log(d["purchase_amount"]) - 4.0)
        + rule.fico * np.where(missing, 0.0, (fico - 705.0) / 55.0)
        + rule.fico_missing * missing
        + rule.distance * (np.log1p(d["merchant_cardholder_distance"]) - 3.0) / 2.0
        + rule.no_signature * (1 - d["signature_provided"])
        + rule.card_age * (np.log(d["card_age"]) - 3.4) / 0.8
        + rule.days_active * (d["days_active"] - 146.0) / 90.0
        + rule.weekend * (d["purchase_weekday"] >= 6)
        + rule.travel_rewards * travel
        + risk[d["sub"]]
        + item_risk[d["item"]]
    )


def _month_span(year: int, month: int) -> tuple[int, int]:
    start = calendar.timegm((year, month, 1, 0, 0, 0))
    days = calendar.monthrange(year, month)[1]
    return start, start + days * 86_400


@lru_cache(maxsize=256)
def _intercept(seed: int, year: int, month: int, lv: DriftLevels) -> float:
    """Intercept giving the month its target fraud rate (10%, raised by prior drift).

    Solved on a fixed calibration sample drawn under the month's drift, so covariate and
    concept drift change who commits fraud but only the prior knob changes how many do.
    """
    rng = np.random.default_rng(np.random.SeedSequence([seed, _CALIBRATION_TAG]))
    t0, t1 = _month_span(year, month)
    pools = _pools(seed)
    score = _log_odds(_draw(rng, _CALIBRATION_ROWS, t0, t1, lv, pools), lv, pools)
    target = _expected_rate(lv)
    lo, hi = -20.0, 20.0
    for _ in range(60):  # bisection: the mean of a logistic is monotone in its intercept
        mid = (lo + hi) / 2
        rate = float(np.mean(1.0 / (1.0 + np.exp(-(score + mid)))))
        lo, hi = (mid, hi) if rate < target else (lo, mid)
    return round((lo + hi) / 2, 9)


_SUBSECTOR_NAMES = np.array([s.name for s in _ALL_SUBSECTORS], dtype=object)
_ITEM_NAMES = np.array(_ITEM_CATEGORIES, dtype=object)


def iter_month_chunks(
    year: int,
    month: int,
    rows: int,
    seed: int = 42,
    drift: DriftSettings = DriftSettings(),
) -> Iterator[pd.DataFrame]:
    """The month's rows as DataFrames of at most BLOCK_ROWS rows, in purchase-date order.

    Block k always holds rows k * BLOCK_ROWS onwards, drawn from the month's stream after the
    blocks before it, so streaming and `generate_month` give the same rows.
    """
    if not 1 <= month <= 12:
        raise ValueError(f"month must be 1..12, got {month}")
    if rows < 0:
        raise ValueError(f"rows must be >= 0, got {rows}")
    if rows >= 10**8:
        raise ValueError("at most 99,999,999 rows per month (transaction ids hold 8 digits)")
    rng = np.random.default_rng(np.random.SeedSequence([seed, year, month]))
    lv = drift.levels(year, month)
    pools = _pools(seed)
    intercept = _intercept(seed, year, month, lv)
    t0, t1 = _month_span(year, month)
    id_base = (year * 100 + month) * 10**8
    for first in range(0, max(rows, 1), BLOCK_ROWS):
        n = min(BLOCK_ROWS, rows - first)
        # Each block covers its own slice of the month, so blocks concatenate in date order.
        lo = t0 + (t1 - t0) * first / max(rows, 1)
        hi = t0 + (t1 - t0) * (first + n) / max(rows, 1)
        d = _draw(rng, n, lo, hi, lv, pools)
        p_fraud = 1.0 / (1.0 + np.exp(-(_log_odds(d, lv, pools) + intercept)))
        fraud = rng.random(n) < p_fraud
        yield pd.DataFrame(
            {
                "transaction_id": id_base + first + 1 + np.arange(n, dtype=np.int64),
                "purchase_date": d["seconds"].astype("datetime64[s]"),
                "card_id": pools.card_id[d["card"]],
                "merchant_id": pools.merchant_id[d["merchant"]],
                "item_category": _ITEM_NAMES[d["item"]],
                "purchase_amount": d["purchase_amount"],
                "signature_provided": d["signature_provided"],
                "merchant_subsector_description": _SUBSECTOR_NAMES[d["sub"]],
                "card_fico_score": d["card_fico_score"],
                "card_age": d["card_age"],
                "card_reward_program": pools.card_reward[d["card"]],
                "card_latitude": d["card_latitude"],
                "card_longitude": d["card_longitude"],
                "merchant_latitude": d["merchant_latitude"],
                "merchant_longitude": d["merchant_longitude"],
                "merchant_cardholder_distance": d["merchant_cardholder_distance"],
                "days_active": d["days_active"],
                "purchase_weekday": d["purchase_weekday"],
                TARGET: (~fraud).astype(np.int64),
            },
            columns=list(COLUMNS),
        )
        if rows == 0:
            return


def generate_month(
    year: int,
    month: int,
    rows: int,
    seed: int = 42,
    drift: DriftSettings = DriftSettings(),
) -> pd.DataFrame:
    """One month of prepared transactions, in memory (use `generate` for large months)."""
    chunks = list(iter_month_chunks(year, month, rows, seed, drift))
    if len(chunks) == 1:
        return chunks[0]
    return pd.concat(chunks, ignore_index=True)


def file_name(year: int, month: int, fmt: str = "csv") -> str:
    return f"transactions_prepared_{year}_{month:02d}.{fmt}"


class _MonthStats:
    """What the manifest reports as observed, accumulated block by block."""

    def __init__(self) -> None:
        self.rows = 0
        self.frauds = 0
        self.new_category = 0
        self.amount_sum = 0.0
        self.log_amount_sum = 0.0
        self.fico_sum = 0.0
        self.fico_count = 0
        self.signature = 0
        self.missing = {"card_fico_score": 0, "card_reward_program": 0}

    def add(self, df: pd.DataFrame) -> None:
        self.rows += len(df)
        self.frauds += int((df[TARGET] == 0).sum())
        self.new_category += int((df["merchant_subsector_description"] == NEW_SUBSECTOR).sum())
        self.amount_sum += float(df["purchase_amount"].sum())
        self.log_amount_sum += float(np.log(df["purchase_amount"]).sum())
        fico = df["card_fico_score"]
        self.fico_sum += float(fico.sum())
        self.fico_count += int(fico.notna().sum())
        self.signature += int(df["signature_provided"].sum())
        for column in self.missing:
            self.missing[column] += int(df[column].isna().sum())

    def as_dict(self) -> dict[str, object]:
        n = max(self.rows, 1)
        return {
            "fraud_rate": round(self.frauds / n, 6),
            "new_category_share": round(self.new_category / n, 6),
            "mean_purchase_amount": round(self.amount_sum / n, 4),
            "geometric_mean_purchase_amount": round(math.exp(self.log_amount_sum / n), 4),
            "mean_card_fico_score": round(self.fico_sum / max(self.fico_count, 1), 4),
            "signature_rate": round(self.signature / n, 6),
            "missing_share": {k: round(v / n, 6) for k, v in self.missing.items()},
        }


def _for_csv(df: pd.DataFrame) -> pd.DataFrame:
    # FICO scores are whole numbers: write "712", not "712.0"; reading back gives float + NaN.
    return df.astype({"card_fico_score": "Int64"})


def _write_csv(chunks: Iterable[pd.DataFrame], path: Path, stats: _MonthStats) -> None:
    import pyarrow as pa
    import pyarrow.csv as pacsv

    # Arrow's writer is an order of magnitude faster than DataFrame.to_csv. No value ever
    # holds a comma, quote or newline, so nothing needs quoting; the header is written by hand
    # because Arrow would quote it.
    options = pacsv.WriteOptions(include_header=False, quoting_style="none")
    with open(path, "wb") as fh:
        fh.write((",".join(COLUMNS) + "\n").encode())
        for df in chunks:
            stats.add(df)
            pacsv.write_csv(pa.Table.from_pandas(_for_csv(df), preserve_index=False), fh, options)


def _write_parquet(chunks: Iterable[pd.DataFrame], path: Path, stats: _MonthStats) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    writer: pq.ParquetWriter | None = None
    try:
        for df in chunks:
            stats.add(df)
            table = pa.Table.from_pandas(df, preserve_index=False)
            if writer is None:
                writer = pq.ParquetWriter(path, table.schema)
            else:
                table = table.cast(writer.schema)
            writer.write_table(table)
    finally:
        if writer is not None:
            writer.close()


def generate(
    out_dir: Path | str,
    year: int = 2017,
    months: Iterable[int] = range(1, 13),
    rows: int = 2500,
    seed: int = 42,
    drift: DriftSettings = DriftSettings(),
    fmt: str = "csv",
) -> list[Path]:
    """Write one file per month and `drift_manifest.json` (the true drift of each month)."""
    if fmt not in ("csv", "parquet"):
        raise ValueError(f"fmt must be 'csv' or 'parquet', got {fmt!r}")
    months = sorted(set(months))
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    write = _write_csv if fmt == "csv" else _write_parquet
    paths: list[Path] = []
    entries: list[dict[str, Any]] = []
    for month in months:
        path = out / file_name(year, month, fmt)
        stats = _MonthStats()
        tmp = path.with_name(path.name + ".tmp")
        write(iter_month_chunks(year, month, rows, seed, drift), tmp, stats)
        tmp.replace(path)  # never leave a half-written month where a build would read it
        lv = drift.levels(year, month)
        entries.append(
            {
                "month": f"{year}_{month:02d}",
                "file": path.name,
                "rows": rows,
                "drift": {k: v for k, v in lv.as_dict().items() if k != "month_index"},
                "month_index": lv.month_index,
                "new_category": NEW_SUBSECTOR if lv.new_category_share > 0 else None,
                "expected_fraud_rate": round(_expected_rate(lv), 6),
                "observed": stats.as_dict(),
            }
        )
        paths.append(path)
    manifest: dict[str, Any] = {
        "generator": "mlmon.demo.generator",
        "seed": seed,
        "year": year,
        "rows_per_month": rows,
        "format": fmt,
        "settings": drift.as_dict(),
        "stationary": drift.is_stationary,
        "target": TARGET,
        "features": list(FEATURES),
        "new_category": NEW_SUBSECTOR,
    }
    manifest_path = out / MANIFEST_NAME
    entries = _merge_entries(manifest_path, manifest, entries)
    manifest["training_months"] = [e["month"] for e in entries if e["month_index"] < drift.start]
    manifest["months"] = entries
    manifest_path.write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    return paths


def _merge_entries(
    path: Path, header: dict[str, Any], entries: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    # Regenerating a few months of a folder made with the same settings keeps the other
    # months' entries; anything else starts the manifest afresh.
    try:
        previous = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return entries
    if not isinstance(previous, dict) or any(previous.get(k) != v for k, v in header.items()):
        return entries
    fresh = {e["month"] for e in entries}
    kept = [
        e
        for e in previous.get("months", [])
        if isinstance(e, dict) and e.get("month") not in fresh
    ]
    return sorted(kept + entries, key=lambda e: str(e["month"]))


def _expected_rate(lv: DriftLevels) -> float:
    base = math.log(_BASE_FRAUD_RATE / (1 - _BASE_FRAUD_RATE))
    return 1.0 / (1.0 + math.exp(-(base + lv.prior * PRIOR_FULL_LOGIT_SHIFT)))


def _parse_months(text: str) -> list[int]:
    """'1-12', '4', '1-3,7' -> sorted month numbers."""
    months: set[int] = set()
    try:
        for part in filter(None, (p.strip() for p in text.split(","))):
            if "-" in part:
                a, b = (int(x) for x in part.split("-", 1))
                months.update(range(a, b + 1))
            else:
                months.add(int(part))
    except ValueError:
        raise ValueError(f"months must look like 1-12, 4 or 1-3,7: {text!r}") from None
    if not months or not all(1 <= m <= 12 for m in months):
        raise ValueError(f"months must lie in 1..12: {text!r}")
    return sorted(months)


def main(argv: Sequence[str] | None = None, out: IO[str] | None = None) -> int:
    out = out or sys.stdout
    parser = argparse.ArgumentParser(
        prog="python -m mlmon.demo.generator",
        description="Generate monthly prepared credit-card transactions with controlled drift.",
    )
    parser.add_argument("--out", default="data", help="output folder (default: data)")
    parser.add_argument("--rows", type=int, default=2500, help="rows per month (default: 2500)")
    parser.add_argument("--months", default="1-12", help="e.g. 1-12, 4, 1-3,7 (default: 1-12)")
    parser.add_argument("--year", type=int, default=2017)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--format", dest="fmt", choices=("csv", "parquet"), default="csv")
    parser.add_argument(
        "--no-drift",
        action="store_true",
        help="stationary data; the knob options below then add back only the drift they name",
    )
    for knob in ("covariate", "prior", "concept", "new-category"):
        parser.add_argument(
            f"--{knob}", type=float, default=None, help=f"{knob} drift multiplier (default 1.0)"
        )
    parser.add_argument(
        "--new-category-from",
        type=int,
        default=None,
        help="month index where the new subsector appears (0 = never; default 7)",
    )
    args = parser.parse_args(argv)
    try:
        months = _parse_months(args.months)
    except ValueError as exc:
        parser.error(str(exc))
    if args.rows < 0:
        parser.error("--rows must be >= 0")

    drift = DriftSettings.none() if args.no_drift else DriftSettings()
    overrides: dict[str, object] = {}
    for knob in ("covariate", "prior", "concept", "new_category"):
        value = getattr(args, knob)
        if value is not None:
            overrides[knob] = value
    if args.new_category_from is not None:
        overrides["new_category_from"] = args.new_category_from or None
        if args.new_category_from and args.no_drift and "new_category" not in overrides:
            overrides["new_category"] = 1.0
    if overrides:
        try:
            drift = DriftSettings(**{**drift.as_dict(), **overrides})
        except ValueError as exc:
            parser.error(str(exc))

    started = time.perf_counter()
    paths = generate(args.out, args.year, months, args.rows, args.seed, drift, args.fmt)
    elapsed = time.perf_counter() - started
    size = sum(p.stat().st_size for p in paths)
    print(
        f"wrote {len(paths)} file(s), {args.rows * len(paths):,} rows, {size / 1e6:.1f} MB "
        f"in {elapsed:.1f}s to {args.out}/ (+ {MANIFEST_NAME})",
        file=out,
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
