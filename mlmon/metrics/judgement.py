"""When a feature counts as drifted (SPEC §4, `drift:` settings of an evaluation).

At a million rows every p-value is tiny, so significance alone is not drift: a p-value counts
only together with an effect size (PSI above `min_psi`), or PSI alone above `psi`. Data-quality
rules (missing values, unseen categories, values outside the reference's range, a column gone
or retyped) make a feature drifted whatever its distribution tests say.

In small samples the converse holds: every effect size is large by chance (mlmon.metrics.noise),
so an effect size alone counts only when its own p-value under no change, when known, is at or
below `pvalue` too. Large samples are judged as before: their effect sizes above a threshold
come with tiny p-values.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields
from typing import Any, Mapping

__all__ = ["CHANCE_DIVISOR", "DriftSettings", "DRIFT_KEYS", "is_drifted", "validate_drift_settings"]

# An effect size's own p-value is held to `pvalue / CHANCE_DIVISOR`. With the KS / chi-square
# rule at `pvalue`, a small sample has four ways to be flagged by chance alone; held to this, the
# four together flagged 2-6% of features on seeded random splits of one population, 30 to 2,000
# rows a side (each at `pvalue`: up to 9%).
CHANCE_DIVISOR = 4


@dataclass(frozen=True)
class DriftSettings:
    """The thresholds of `drift:`; the defaults are the SPEC's."""

    pvalue: float = 0.05  # a KS / chi-square p-value at or below it...
    psi: float = 0.2  # a PSI above it is drift on its own
    min_psi: float = 0.1  # ...counts when the PSI is above this
    missing_share_change: float = 0.1  # |missing share - reference's| above it
    new_category_share: float = 0.01  # share of values in categories the reference never saw
    out_of_range_share: float = 0.01  # share of numbers outside the reference's [min, max]

    @classmethod
    def from_config(cls, config: Mapping[str, Any] | None) -> "DriftSettings":
        return cls(**{k: float(v) for k, v in (config or {}).items() if k in DRIFT_KEYS and v is not None})


DRIFT_KEYS: tuple[str, ...] = tuple(f.name for f in fields(DriftSettings))


def validate_drift_settings(config: Mapping[str, Any]) -> list[tuple[str | None, str]]:
    """Problems of a `drift:` mapping as (key, message); the key is None for the whole mapping."""
    problems: list[tuple[str | None, str]] = []
    for key, value in config.items():
        if key not in DRIFT_KEYS:
            problems.append((str(key), f"unknown drift setting '{key}'"))
            continue
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            problems.append((key, f"drift setting `{key}` must be a number, got {value!r}"))
        elif key == "pvalue" and not 0 < value < 1:
            problems.append((key, f"drift setting `pvalue` must be between 0 and 1 (exclusive), got {value!r}"))
        elif value < 0:
            problems.append((key, f"drift setting `{key}` must be at least 0, got {value!r}"))
    return problems


def _above(value: float | None, threshold: float) -> bool:
    return value is not None and not math.isnan(value) and value > threshold


def is_drifted(values: Mapping[str, float | None], settings: DriftSettings,
               chance: Mapping[str, float | None] | None = None) -> bool:
    """The `drifted` rule over one feature's metrics (absent names count as unknown). `chance`
    holds, per effect size (`psi`, `missing_share`, `new_category_share`, `out_of_range_share`),
    its p-value under no change: an effect above its threshold counts only when that is at or
    below `settings.pvalue / CHANCE_DIVISOR` (or unknown)."""
    chance = chance or {}

    def real(name: str) -> bool:
        p = chance.get(name)
        return p is None or math.isnan(p) or p <= settings.pvalue / CHANCE_DIVISOR

    psi = values.get("psi")
    pvalue = values.get("ks_pvalue", values.get("chi2_pvalue"))
    significant = pvalue is not None and not math.isnan(pvalue) and pvalue <= settings.pvalue
    if (_above(psi, settings.psi) and real("psi")) or (significant and _above(psi, settings.min_psi)):
        return True
    if values.get("feature_missing") or values.get("type_changed"):
        return True
    missing, before = values.get("missing_share"), values.get("missing_share_reference")
    if missing is not None and before is not None and _above(abs(missing - before), settings.missing_share_change):
        if real("missing_share") or 1.0 in (missing, before):  # empty on one side only: a broken column
            return True
    return any(_above(values.get(name), getattr(settings, name)) and real(name)
               for name in ("new_category_share", "out_of_range_share"))
