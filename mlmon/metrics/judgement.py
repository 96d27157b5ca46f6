"""When a feature counts as drifted (SPEC §4, `drift:` settings of an evaluation).

At a million rows every p-value is tiny, so significance alone is not drift: a p-value counts
only together with an effect size (PSI above `min_psi`), or PSI alone above `psi`. Data-quality
rules (missing values, unseen categories, values outside the reference's range, a column gone
or retyped) make a feature drifted whatever its distribution tests say.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields
from typing import Any, Mapping

__all__ = ["DriftSettings", "DRIFT_KEYS", "is_drifted", "validate_drift_settings"]


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


def is_drifted(values: Mapping[str, float | None], settings: DriftSettings) -> bool:
    """The `drifted` rule over one feature's metrics (absent names count as unknown)."""
    psi = values.get("psi")
    pvalue = values.get("ks_pvalue", values.get("chi2_pvalue"))
    significant = pvalue is not None and not math.isnan(pvalue) and pvalue <= settings.pvalue
    if _above(psi, settings.psi) or (significant and _above(psi, settings.min_psi)):
        return True
    if values.get("feature_missing") or values.get("type_changed"):
        return True
    missing, before = values.get("missing_share"), values.get("missing_share_reference")
    if missing is not None and before is not None and _above(abs(missing - before), settings.missing_share_change):
        return True
    return (_above(values.get("new_category_share"), settings.new_category_share)
            or _above(values.get("out_of_range_share"), settings.out_of_range_share))
