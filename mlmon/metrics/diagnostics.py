"""ML diagnostics: plain-language warnings about an evaluation whose numbers deserve suspicion.

They go to the build log and `mlmon.node_results.message`; each names the numbers behind it so
that a reader can judge without opening the warehouse.
"""

from __future__ import annotations

import math
from typing import Any, Mapping, Sequence

__all__ = [
    "MIN_ROWS",
    "MIN_CLASS_SHARE",
    "MAX_MISSING_SHARE",
    "LEAKAGE_AUC",
    "IDENTIFIER_SHARE",
    "IDENTIFIER_NOTE",
    "diagnose",
]

MIN_ROWS = 1_000
MIN_CLASS_SHARE = 0.05
MAX_MISSING_SHARE = 0.5
LEAKAGE_AUC = 0.98
IDENTIFIER_SHARE = 0.9  # distinct values per present reference value, from this many present on
_IDENTIFIER_ROWS = 100
IDENTIFIER_NOTE = "looks like an identifier"  # a property of the feature, said once per evaluation


def _known(value: float | None) -> bool:
    return value is not None and not (isinstance(value, float) and math.isnan(value))


def _pct(share: float, *, below: bool) -> str:
    """A share as a percentage with one decimal, rounded away from the threshold it was compared
    with, so that 4.96% never prints as "5.0% (< 5%)"."""
    # Round off float noise first (0.057 * 1000 is 56.99999...), then away from the threshold.
    scaled = round(share * 1000.0, 6)
    tenths = math.floor(scaled) if below else math.ceil(scaled)
    return f"{tenths / 10:.1f}%"


def _num(value: float, threshold: float) -> str:
    """Four decimals, or as many more as it takes not to print a value equal to its threshold."""
    for digits in range(4, 10):
        text = f"{value:.{digits}f}"
        if float(text) != threshold:
            return text
    return repr(value)


def diagnose(
    n_rows: int,
    class_shares: Mapping[Any, float] | None,
    missing_share_by_feature: Mapping[str, float],
    absent_features: Sequence[str],
    roc_auc: float | None,
    accuracy: float | None,
    majority_share: float | None,
    distinct_by_feature: Mapping[str, tuple[int, int]] | None = None,
) -> list[str]:
    """Warnings for one evaluation, in a fixed order; an empty list when nothing is suspicious.

    `class_shares` maps each class label to its share of rows (ground truth when there is some,
    else predictions); None skips the check, as do None/NaN metrics. `distinct_by_feature` maps a
    categorical feature to its reference's (distinct values, present values).
    """
    warnings: list[str] = []
    if n_rows < MIN_ROWS:
        warnings.append(f"sample has {n_rows:,} rows (< {MIN_ROWS:,}): metrics are noisy")

    for label, share in (class_shares or {}).items():
        if _known(share) and share < MIN_CLASS_SHARE:
            warnings.append(
                f"class {label} is {_pct(share, below=True)} of rows (< {MIN_CLASS_SHARE:.0%}): "
                "its metrics rest on few rows"
            )

    for feature, share in missing_share_by_feature.items():
        if _known(share) and share > MAX_MISSING_SHARE:
            warnings.append(
                f"feature {feature} is {_pct(share, below=False)} missing (> {MAX_MISSING_SHARE:.0%}): "
                "its drift and the model's inputs are mostly imputed"
            )

    for feature, (distinct, present) in (distinct_by_feature or {}).items():
        if present >= _IDENTIFIER_ROWS and distinct >= IDENTIFIER_SHARE * present:
            warnings.append(
                f"feature {feature} {IDENTIFIER_NOTE} ({distinct:,} distinct values in {present:,} reference "
                "rows): its values are new in every evaluation, which is no drift to watch; leave it out of "
                "`features:`"
            )

    for feature in absent_features:
        warnings.append(f"feature {feature} is absent from the data: the model receives it as missing")

    if _known(roc_auc) and roc_auc > LEAKAGE_AUC:
        warnings.append(
            f"ROC AUC is {_num(roc_auc, LEAKAGE_AUC)} (> {LEAKAGE_AUC}): possible target leakage, check that no "
            "feature is derived from the target"
        )

    if _known(accuracy) and _known(majority_share) and accuracy <= majority_share:
        warnings.append(
            f"accuracy {accuracy:.4f} is no better than always predicting the majority class "
            f"({majority_share:.4f}): the model adds nothing"
        )
    return warnings
