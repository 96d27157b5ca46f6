"""Drift knobs of the demo generator and the month-by-month magnitudes they produce.

Every knob is a multiplier of a built-in "full" drift, reached at month index `full`; before
month index `start` nothing drifts. Month indices count from January of `origin_year` (= 1), so
the knobs keep their meaning when the generator is asked for other years.

The ramp is convex ((k / 9) ** 3 for the k-th month after March by default): drift creeps in
right after the training period and accelerates, so early months pass a drift check and late
months clearly fail it. The new merchant subsector follows its own linear ramp from its first
month.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

__all__ = ["DriftSettings", "DriftLevels", "NEW_CATEGORY_FULL_SHARE", "PRIOR_FULL_LOGIT_SHIFT"]

# Share of transactions going to the new merchant subsector once its ramp is complete.
NEW_CATEGORY_FULL_SHARE = 0.12
# logit(0.20) - logit(0.10): at full prior drift the fraud rate doubles from 10% to 20%.
PRIOR_FULL_LOGIT_SHIFT = math.log(0.20 / 0.80) - math.log(0.10 / 0.90)


@dataclass(frozen=True)
class DriftLevels:
    """The effective drift of one month: what the knobs amount to at that point of the ramp."""

    month_index: int
    ramp: float
    covariate: float
    prior: float
    concept: float
    new_category_share: float

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class DriftSettings:
    """How much the generated months drift away from the training months.

    covariate: inputs move (a new customer segment with young, lower-FICO cards takes over,
        amounts inflate, merchant and item mix shift, fewer signatures, more remote
        purchases). Above 1.0 the shifts extrapolate; shares are clipped to [0, 1].
    prior: the fraud rate rises (1.0 = doubles from 10% to 20% at full drift).
    concept: the fraud pattern itself changes (1.0 = completely replaced at full drift).
    new_category: scale of the share taken by a merchant subsector unseen in training.
    new_category_from: month index where that subsector appears; None = never.
    start, full, power: the ramp, (k / (full - start + 1)) ** power for the k-th drifted month
        (month index start - 1 + k), 1.0 from `full` on.
    origin_year: the year whose January is month index 1.
    missing_share, missing_from: from that month index on, this further share of FICO scores
        is blank. out_of_range_share, out_of_range_month: in that month, this share of amounts
        is exported in cents. dropped_column, dropped_month: that month's export lacks the
        column. (mlmon.demo.quality; a month of None turns the accident off.)
    """

    covariate: float = 1.0
    prior: float = 1.0
    concept: float = 1.0
    new_category: float = 1.0
    new_category_from: int | None = 7
    start: int = 4
    full: int = 12
    power: float = 3.0
    origin_year: int = 2017
    missing_share: float = 0.15
    missing_from: int | None = 11
    out_of_range_share: float = 0.05
    out_of_range_month: int | None = 11
    dropped_column: str | None = "merchant_cardholder_distance"
    dropped_month: int | None = 12

    def __post_init__(self) -> None:
        for name in ("missing_share", "out_of_range_share"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"DriftSettings.{name} is a share of rows: between 0 and 1")
        for name in ("covariate", "prior", "concept", "new_category", "power"):
            value = getattr(self, name)
            if not math.isfinite(value):
                raise ValueError(f"DriftSettings.{name} must be finite, got {value!r}")
        if self.new_category < 0:
            raise ValueError("DriftSettings.new_category is a share scale and cannot be negative")
        if self.power <= 0:
            raise ValueError("DriftSettings.power must be positive")
        if self.full < self.start:
            raise ValueError(
                f"DriftSettings.full ({self.full}) must not come before start ({self.start})"
            )

    @classmethod
    def none(cls) -> DriftSettings:
        """Stationary data: every month is drawn from the training months' distribution."""
        return cls(covariate=0.0, prior=0.0, concept=0.0, new_category=0.0, new_category_from=None,
                   missing_from=None, out_of_range_month=None, dropped_month=None)

    @property
    def is_stationary(self) -> bool:
        return (
            self.covariate == 0.0
            and self.prior == 0.0
            and self.concept == 0.0
            and (self.new_category == 0.0 or self.new_category_from is None)
            and self.missing_from is None
            and self.out_of_range_month is None
            and self.dropped_month is None
        )

    def month_index(self, year: int, month: int) -> int:
        return 12 * (year - self.origin_year) + month

    def ramp(self, year: int, month: int) -> float:
        """0 up to the month before `start`, 1 from `full` on, convex in between."""
        k = self.month_index(year, month) - self.start + 1
        if k <= 0:
            return 0.0
        return min(k / (self.full - self.start + 1), 1.0) ** self.power

    def new_category_share(self, year: int, month: int) -> float:
        # Grows linearly from its first month: a new business line ramping up, not an accident.
        if self.new_category_from is None or self.new_category == 0.0:
            return 0.0
        k = self.month_index(year, month) - self.new_category_from + 1
        if k <= 0:
            return 0.0
        span = max(self.full - self.new_category_from + 1, 1)
        return min(self.new_category * NEW_CATEGORY_FULL_SHARE * min(k / span, 1.0), 0.9)

    def levels(self, year: int, month: int) -> DriftLevels:
        ramp = self.ramp(year, month)
        return DriftLevels(
            month_index=self.month_index(year, month),
            ramp=round(ramp, 6),
            covariate=round(self.covariate * ramp, 6),
            prior=round(self.prior * ramp, 6),
            concept=round(self.concept * ramp, 6),
            new_category_share=round(self.new_category_share(year, month), 6),
        )

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)
