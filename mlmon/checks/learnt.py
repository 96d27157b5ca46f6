"""Learnt bounds: a check's min and max taken from the metric's own history.

`bounds: {history: N, std: k}` = mean ± k standard deviations of the metric over the up to N
evaluations before the checked one that hold a value for it. The standard deviation is the
sample standard deviation (ddof = 1, `statistics.stdev`, as pandas' `std()`): the history is a
sample of the metric's natural variation, not the whole population. Fewer than MIN_HISTORY
values learn nothing, and the check is EMPTY. Pure functions: the check node reads the history.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final, Mapping, Sequence

from mlmon.checks.evaluate import Bounds, CheckStatus, Verdict, check_bounds, empty, format_value
from mlmon.errors import did_you_mean

__all__ = ["BOUNDS_KEYS", "MIN_HISTORY", "History", "Learnt", "LearntBounds", "bounds_problems", "check_learnt",
           "history_of", "learn"]

BOUNDS_KEYS: Final = ("history", "std")
MIN_HISTORY: Final = 3


@dataclass(frozen=True)
class LearntBounds:
    history: int  # at most this many earlier evaluations
    std: float  # the half-width, in standard deviations

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> "LearntBounds | None":
        raw = config.get("bounds")
        return None if raw is None else cls(int(raw["history"]), float(raw["std"]))


def bounds_problems(raw: Any) -> list[tuple[str, str | None]]:
    """(problem, hint) for each thing wrong with a `bounds:` value, as written in YAML."""
    if not isinstance(raw, Mapping):
        return [(f"`bounds` must be a mapping like {{history: 12, std: 3}}, got {raw!r}", None)]
    problems: list[tuple[str, str | None]] = []
    for key in raw:
        if key not in BOUNDS_KEYS:
            problems.append((f"unknown key `{key}` in `bounds`", did_you_mean(str(key), BOUNDS_KEYS)
                             or "`bounds` takes history (evaluations) and std (standard deviations)"))
    history, std = raw.get("history"), raw.get("std")
    if history is None or std is None:
        missing = " and ".join(f"`{k}`" for k in BOUNDS_KEYS if raw.get(k) is None)
        problems.append((f"`bounds` needs {missing}", "e.g. bounds: {history: 12, std: 3}"))
    if history is not None and (isinstance(history, bool) or not isinstance(history, int) or history < MIN_HISTORY):
        problems.append((f"`bounds.history` must be a whole number of at least {MIN_HISTORY} evaluations, "
                         f"got {history!r}",
                         "fewer earlier values cannot give a standard deviation worth a bound"))
    if std is not None and (isinstance(std, bool) or not isinstance(std, (int, float)) or not std > 0):
        problems.append((f"`bounds.std` must be a number above 0, got {std!r}", "e.g. std: 3"))
    return problems


@dataclass(frozen=True)
class History:
    """The metric's values in the evaluations before the checked one, newest first."""

    values: tuple[float, ...]
    created: tuple[datetime | None, ...] = ()


@dataclass(frozen=True)
class Learnt:
    lower: float
    upper: float
    mean: float
    sd: float
    k: float
    n: int
    first: datetime | None
    last: datetime | None

    def describe(self) -> str:
        span = ""
        if self.first is not None and self.last is not None:
            span = f", created {self.first:%Y-%m-%d %H:%M} to {self.last:%Y-%m-%d %H:%M}"
        return (f"learnt min {format_value(self.lower)} and max {format_value(self.upper)} = mean "
                f"{format_value(self.mean)} ± {format_value(self.k)} × sample std {format_value(self.sd)} "
                f"of the {self.n} evaluations before this one{span}")


def learn(history: History, k: float) -> Learnt | None:
    """mean ± k·sd of the history (sample sd), or None below MIN_HISTORY values."""
    values = list(history.values)
    if len(values) < MIN_HISTORY:
        return None
    mean, sd = statistics.fmean(values), statistics.stdev(values)
    dates = [d for d in history.created if d is not None]
    return Learnt(mean - k * sd, mean + k * sd, mean, sd, k, len(values), min(dates, default=None),
                  max(dates, default=None))


def check_learnt(label: str, value: float | None, learnt_bounds: LearntBounds, history: History,
                 soft: Bounds) -> Verdict:
    """The status with learnt min and max (ERROR outside) and the check's fixed soft bounds."""
    learnt = learn(history, learnt_bounds.std)
    if learnt is None:
        return empty(f"learnt bounds need {MIN_HISTORY} earlier evaluations holding {label}, "
                     f"found {len(history.values)}")
    verdict = check_bounds(label, value, Bounds(learnt.lower, soft.soft_min, soft.soft_max, learnt.upper))
    if verdict.status is CheckStatus.EMPTY:
        return verdict
    return Verdict(verdict.status, f"{verdict.message}; {learnt.describe()}")


def history_of(rows: Sequence[tuple[float, datetime | None]]) -> History:
    """A History from (value, created_at) rows, newest first."""
    return History(tuple(float(v) for v, _ in rows), tuple(c for _, c in rows))
