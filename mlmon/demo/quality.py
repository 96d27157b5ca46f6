"""Data-quality accidents of the demo months: what a monitor must catch besides drift.

Three knobs of `DriftSettings`, each off when its month is None:
- missing values: from `missing_from` on, a further `missing_share` of `card_fico_score` is
  blank (a credit bureau feed that starts failing);
- an export bug in month `out_of_range_month`: `out_of_range_share` of the purchase amounts are
  written in cents, a hundred times too large, far outside anything the model saw;
- a dropped column in month `dropped_month`: the export loses `dropped_column`.

They draw from their own random stream, so the rest of a month is the same with or without them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    from mlmon.demo.drift import DriftSettings

__all__ = ["MISSING_COLUMN", "OUT_OF_RANGE_COLUMN", "quality_rng", "apply_quality", "quality_entry"]

MISSING_COLUMN = "card_fico_score"
OUT_OF_RANGE_COLUMN = "purchase_amount"
_STREAM = 7  # the accidents' own stream, beside the month's


def quality_rng(seed: int, year: int, month: int) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence([seed, year, month, _STREAM]))


def _active(month_index: int, first: int | None, *, from_on: bool = False) -> bool:
    if first is None:
        return False
    return month_index >= first if from_on else month_index == first


def apply_quality(df: pd.DataFrame, settings: "DriftSettings", year: int, month: int,
                  rng: np.random.Generator) -> pd.DataFrame:
    """The block with this month's accidents applied (the same rows drawn whatever they are)."""
    index = settings.month_index(year, month)
    blank = rng.random(len(df)) < settings.missing_share
    cents = rng.random(len(df)) < settings.out_of_range_share
    if _active(index, settings.missing_from, from_on=True) and settings.missing_share > 0:
        df[MISSING_COLUMN] = df[MISSING_COLUMN].mask(blank)
    if _active(index, settings.out_of_range_month):
        df[OUT_OF_RANGE_COLUMN] = np.where(cents, df[OUT_OF_RANGE_COLUMN] * 100.0, df[OUT_OF_RANGE_COLUMN])
    if _active(index, settings.dropped_month) and settings.dropped_column in df.columns:
        df = df.drop(columns=[settings.dropped_column])
    return df


def quality_entry(settings: "DriftSettings", year: int, month: int) -> dict[str, Any]:
    """The manifest's record of the month's accidents (empty when there is none)."""
    index = settings.month_index(year, month)
    entry: dict[str, Any] = {}
    if _active(index, settings.missing_from, from_on=True) and settings.missing_share > 0:
        entry["extra_missing"] = {MISSING_COLUMN: settings.missing_share}
    if _active(index, settings.out_of_range_month):
        entry["out_of_range"] = {OUT_OF_RANGE_COLUMN: settings.out_of_range_share}
    if _active(index, settings.dropped_month) and settings.dropped_column:
        entry["dropped_column"] = settings.dropped_column
    return entry
