"""Cards and merchants: the reference tables every month's purchases are drawn against.

They depend on the seed alone, so a card keeps its FICO score, home town and reward program
across months; the established portfolio comes first, then the customer segment acquired
after the training months, which covariate drift brings in.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from mlmon.demo.catalog import ALL_SUBSECTORS, CITIES, REWARD_PROGRAMS

__all__ = [
    "N_CARDS",
    "N_NEW_CARDS",
    "MERCHANTS_PER_CITY_AND_SUBSECTOR",
    "Pools",
    "pools_for",
    "pick",
]

N_CARDS = 20_000  # the established portfolio
N_NEW_CARDS = 8_000  # a customer segment acquired after the training months
MERCHANTS_PER_CITY_AND_SUBSECTOR = 6
# Keeps this seed-only stream apart from every (seed, year, month) stream.
_POOL_TAG = 0x706F6F6C


@dataclass(frozen=True)
class Pools:
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
    reward_weights: tuple[float, ...]  # REWARD_PROGRAMS, then missing
    activity: tuple[float, float]  # beta parameters of the share of days with a purchase


_ESTABLISHED = _Segment(N_CARDS, 0.0, 705.0, 2.0, 22.0, (0.38, 0.30, 0.14, 0.10, 0.08), (2.0, 3.0))
_NEW_SEGMENT = _Segment(
    N_NEW_CARDS, 2.0, 630.0, 1.5, 6.0, (0.70, 0.14, 0.05, 0.05, 0.06), (1.5, 4.0)
)


def pick(rng: np.random.Generator, weights: np.ndarray, n: int) -> np.ndarray:
    """Weighted choice by inverse CDF: one uniform per row whatever the weights."""
    cdf = np.cumsum(weights)
    return np.minimum(np.searchsorted(cdf, rng.random(n) * cdf[-1], side="right"), len(cdf) - 1)


def _hex_ids(rng: np.random.Generator, prefix: str, n: int) -> np.ndarray:
    # Kaggle/Elo style ids ("C_ID_92a2005557"); redraw until unique so ids never collide.
    values = np.unique(rng.integers(0, 16**10, size=n + n // 10 + 16))
    while values.size < n:
        values = np.unique(np.concatenate([values, rng.integers(0, 16**10, size=n)]))
    values = rng.permutation(values)[:n]
    return np.array([f"{prefix}{v:010x}" for v in values], dtype=object)


def _cards(rng: np.random.Generator, seg: _Segment) -> dict[str, np.ndarray]:
    n = seg.size
    west = np.clip((-90.0 - CITIES[:, 1]) / 30.0, -1.0, 1.0)
    city = pick(rng, CITIES[:, 2] * np.exp(seg.west * west), n)
    fico = np.clip(np.round(rng.normal(seg.fico_mean, 55.0, n)), 450, 850)
    fico[rng.random(n) < 0.02] = np.nan
    age = np.minimum(1 + np.floor(rng.gamma(seg.age_shape, seg.age_scale, n)), 360)
    reward = np.array([*REWARD_PROGRAMS, None], dtype=object)[
        pick(rng, np.array(seg.reward_weights), n)
    ]
    return {
        "card_city": city,
        "card_lat": np.round(CITIES[city, 0] + rng.normal(0.0, 0.12, n), 5),
        "card_lon": np.round(CITIES[city, 1] + rng.normal(0.0, 0.15, n), 5),
        "card_fico": fico,
        "card_age": age.astype(np.int64),
        "card_reward": reward,
        "card_activity": rng.beta(*seg.activity, n),
    }


@lru_cache(maxsize=8)
def pools_for(seed: int) -> Pools:
    """The seed's cards and merchants; cached because every month and calibration reuses them."""
    rng = np.random.default_rng(np.random.SeedSequence([seed, _POOL_TAG]))
    # The draw order (established cards, new cards, card ids, merchant ids, merchant places)
    # defines the pools: reordering these calls changes every generated file.
    established, new = _cards(rng, _ESTABLISHED), _cards(rng, _NEW_SEGMENT)
    cards = {k: np.concatenate([established[k], new[k]]) for k in established}
    n_merchants = len(CITIES) * len(ALL_SUBSECTORS) * MERCHANTS_PER_CITY_AND_SUBSECTOR
    merchant_city = np.arange(n_merchants) // (
        len(ALL_SUBSECTORS) * MERCHANTS_PER_CITY_AND_SUBSECTOR
    )
    return Pools(
        card_id=_hex_ids(rng, "C_ID_", N_CARDS + N_NEW_CARDS),
        merchant_id=_hex_ids(rng, "M_ID_", n_merchants),
        merchant_lat=np.round(CITIES[merchant_city, 0] + rng.normal(0.0, 0.08, n_merchants), 5),
        merchant_lon=np.round(CITIES[merchant_city, 1] + rng.normal(0.0, 0.10, n_merchants), 5),
        **cards,
    )
