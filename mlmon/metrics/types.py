"""The value every metric function returns, one row of `mlmon.metrics` before it is stored."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["MetricValue"]


@dataclass(frozen=True)
class MetricValue:
    metric: str
    value: float | None
    feature: str | None = None  # None for a global metric
    lower: float | None = None
    upper: float | None = None
    segment: str | None = None  # `column=value` for a segment's metric, None for the whole data
