"""Drawing purchases: which card buys what, where, when and for how much, under a month's drift.

`draw` produces every column but the ids and the label, plus the indices the fraud rule needs.
The covariate-drift magnitudes live here because only the drawing uses them; the knobs that
scale them are in `mlmon.demo.drift`.
"""

from __future__ import annotations

import calendar

import numpy as np

from mlmon.demo.catalog import ALL_SUBSECTORS, CITIES, ITEM_TILT, ITEM_WEIGHTS, SUBSECTORS
from mlmon.demo.drift import DriftLevels
from mlmon.demo.population import (
    MERCHANTS_PER_CITY_AND_SUBSECTOR,
    N_CARDS,
    N_NEW_CARDS,
    Pools,
    pick,
)

__all__ = ["draw", "month_span"]

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


def month_span(year: int, month: int) -> tuple[int, int]:
    """First and one-past-last second of the month, UTC epoch seconds."""
    start = calendar.timegm((year, month, 1, 0, 0, 0))
    days = calendar.monthrange(year, month)[1]
    return start, start + days * 86_400


def _haversine_km(
    lat1: np.ndarray, lon1: np.ndarray, lat2: np.ndarray, lon2: np.ndarray
) -> np.ndarray:
    p1, p2 = np.radians(lat1), np.radians(lat2)
    dp, dl = p2 - p1, np.radians(lon2 - lon1)
    a = np.sin(dp / 2) ** 2 + np.cos(p1) * np.cos(p2) * np.sin(dl / 2) ** 2
    return 2 * 6371.0 * np.arcsin(np.sqrt(np.clip(a, 0.0, 1.0)))


def draw(
    rng: np.random.Generator,
    n: int,
    t_from: float,
    t_to: float,
    lv: DriftLevels,
    pools: Pools,
) -> dict[str, np.ndarray]:
    """Every column but the ids and the label, plus the indices the fraud rule needs.

    Every draw has a size fixed by `n` alone, so the stream is consumed identically whatever
    the drift: other knob values move the same purchases instead of reshuffling them.
    """
    cov = lv.covariate
    from_new_segment = rng.random(n) < np.clip(cov * _NEW_SEGMENT_SHARE, 0.0, 1.0)
    card = np.where(
        from_new_segment,
        N_CARDS + rng.integers(0, N_NEW_CARDS, n),
        rng.integers(0, N_CARDS, n),
    )

    weights = np.array([s.weight for s in SUBSECTORS]) * np.exp(
        cov * np.array([s.tilt for s in SUBSECTORS])
    )
    weights = np.append(
        weights / weights.sum() * (1.0 - lv.new_category_share), lv.new_category_share
    )
    sub = pick(rng, weights, n)

    remote = rng.random(n) < np.clip(_REMOTE_RATE + cov * _REMOTE_SHIFT, 0.0, 0.9)
    other_city = pick(rng, CITIES[:, 2], n)
    city = np.where(remote, other_city, pools.card_city[card])
    k = rng.integers(0, MERCHANTS_PER_CITY_AND_SUBSECTOR, n)
    merchant = (city * len(ALL_SUBSECTORS) + sub) * MERCHANTS_PER_CITY_AND_SUBSECTOR + k

    log_amount = np.array([s.log_amount for s in ALL_SUBSECTORS])[sub]
    amount = np.exp(log_amount + cov * _AMOUNT_SHIFT + rng.normal(0.0, 0.7, n))
    amount = np.maximum(np.round(amount, 2), 1.0)

    item = pick(rng, ITEM_WEIGHTS * np.exp(cov * ITEM_TILT), n)
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
