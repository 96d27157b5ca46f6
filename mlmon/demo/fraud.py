"""The fraud (authorization) rule: who commits fraud, and how often, in a given month.

A logistic rule on standardised purchase and card features, blended from the training months'
pattern into a new one as concept drift grows. Its intercept is calibrated per month so that
only prior drift moves the fraud rate.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from mlmon.demo.catalog import ALL_SUBSECTORS
from mlmon.demo.drift import PRIOR_FULL_LOGIT_SHIFT, DriftLevels
from mlmon.demo.population import Pools, pools_for
from mlmon.demo.transactions import draw, month_span

__all__ = ["Rule", "log_odds", "intercept", "expected_rate"]

_BASE_FRAUD_RATE = 0.10
_CALIBRATION_ROWS = 40_000
# Keeps the calibration sample's seed-only stream apart from every (seed, year, month) stream.
_CALIBRATION_TAG = 0x63616C69

_ITEM_RISK = np.array([-0.2, 0.0, 0.1, 0.3, 0.5])
_ITEM_RISK_NEW = np.array([0.7, 0.4, 0.0, -0.3, -0.5])


@dataclass(frozen=True)
class Rule:
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

    def mix(self, other: Rule, weight: float) -> Rule:
        return Rule(
            *(
                (1.0 - weight) * getattr(self, f) + weight * getattr(other, f)
                for f in self.__dataclass_fields__
            )
        )


# Training months: large, remote, unsigned purchases on weak-credit, young cards.
_RULE = Rule(1.1, -0.8, 0.6, 0.9, 1.0, -0.3, -0.3, 0.0, 0.0)
# After concept drift: amount, distance and signature matter less; fraud moves to old, active
# cards, weekends, travel-reward cards, everyday subsectors (gas, groceries, telecom) and item
# category A. As strong as the old rule, so a retrained model recovers.
_RULE_NEW = Rule(0.5, -0.8, 0.6, 0.6, 0.8, 1.0, 0.5, 1.0, 0.9)


def log_odds(d: dict[str, np.ndarray], lv: DriftLevels, pools: Pools) -> np.ndarray:
    """Fraud log-odds without intercept: the training-months rule blended into the new one."""
    c = lv.concept
    rule = _RULE.mix(_RULE_NEW, c)
    fico = d["card_fico_score"]
    missing = np.isnan(fico)
    risk = (1 - c) * np.array([s.risk for s in ALL_SUBSECTORS]) + c * np.array(
        [s.risk_new for s in ALL_SUBSECTORS]
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


def expected_rate(lv: DriftLevels) -> float:
    """The month's target fraud rate: 10%, raised by prior drift."""
    base = math.log(_BASE_FRAUD_RATE / (1 - _BASE_FRAUD_RATE))
    return 1.0 / (1.0 + math.exp(-(base + lv.prior * PRIOR_FULL_LOGIT_SHIFT)))


@lru_cache(maxsize=256)
def intercept(seed: int, year: int, month: int, lv: DriftLevels) -> float:
    """Intercept giving the month its target fraud rate (10%, raised by prior drift).

    Solved on a fixed calibration sample drawn under the month's drift, so covariate and
    concept drift change who commits fraud but only the prior knob changes how many do.
    """
    rng = np.random.default_rng(np.random.SeedSequence([seed, _CALIBRATION_TAG]))
    t0, t1 = month_span(year, month)
    pools = pools_for(seed)
    score = log_odds(draw(rng, _CALIBRATION_ROWS, t0, t1, lv, pools), lv, pools)
    target = expected_rate(lv)
    lo, hi = -20.0, 20.0
    for _ in range(60):  # bisection: the mean of a logistic is monotone in its intercept
        mid = (lo + hi) / 2
        rate = float(np.mean(1.0 / (1.0 + np.exp(-(score + mid)))))
        lo, hi = (mid, hi) if rate < target else (lo, mid)
    return round((lo + hi) / 2, 9)
