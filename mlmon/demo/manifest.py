"""The drift manifest: `drift_manifest.json`, the true drift and observed statistics per month.

It records what each month was generated with (settings, effective drift levels, expected
fraud rate) next to what was actually written, so monitors can be checked against ground truth.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from mlmon.demo.catalog import NEW_SUBSECTOR
from mlmon.demo.drift import DriftSettings
from mlmon.demo.fraud import expected_rate
from mlmon.demo.quality import quality_entry
from mlmon.demo.schema import FEATURES, TARGET

__all__ = ["MANIFEST_NAME", "MonthStats", "month_entry", "write_manifest"]

MANIFEST_NAME = "drift_manifest.json"


class MonthStats:
    """What the manifest reports as observed, accumulated block by block."""

    def __init__(self) -> None:
        self.rows = 0
        self.frauds = 0
        self.new_category = 0
        self.amount_sum = 0.0
        self.log_amount_sum = 0.0
        self.fico_sum = 0.0
        self.fico_count = 0
        self.signature = 0
        self.missing = {"card_fico_score": 0, "card_reward_program": 0}

    def add(self, df: pd.DataFrame) -> None:
        self.rows += len(df)
        self.frauds += int((df[TARGET] == 0).sum())
        self.new_category += int((df["merchant_subsector_description"] == NEW_SUBSECTOR).sum())
        self.amount_sum += float(df["purchase_amount"].sum())
        self.log_amount_sum += float(np.log(df["purchase_amount"]).sum())
        fico = df["card_fico_score"]
        self.fico_sum += float(fico.sum())
        self.fico_count += int(fico.notna().sum())
        self.signature += int(df["signature_provided"].sum())
        for column in self.missing:
            self.missing[column] += int(df[column].isna().sum())

    def as_dict(self) -> dict[str, object]:
        n = max(self.rows, 1)
        return {
            "fraud_rate": round(self.frauds / n, 6),
            "new_category_share": round(self.new_category / n, 6),
            "mean_purchase_amount": round(self.amount_sum / n, 4),
            "geometric_mean_purchase_amount": round(math.exp(self.log_amount_sum / n), 4),
            "mean_card_fico_score": round(self.fico_sum / max(self.fico_count, 1), 4),
            "signature_rate": round(self.signature / n, 6),
            "missing_share": {k: round(v / n, 6) for k, v in self.missing.items()},
        }


def month_entry(
    year: int, month: int, rows: int, file: str, drift: DriftSettings, stats: MonthStats
) -> dict[str, Any]:
    """The manifest's record of one written month."""
    lv = drift.levels(year, month)
    return {
        "month": f"{year}_{month:02d}",
        "file": file,
        "rows": rows,
        "drift": {k: v for k, v in lv.as_dict().items() if k != "month_index"},
        "month_index": lv.month_index,
        "new_category": NEW_SUBSECTOR if lv.new_category_share > 0 else None,
        "expected_fraud_rate": round(expected_rate(lv), 6),
        "observed": stats.as_dict(),
        "quality": quality_entry(drift, year, month),
    }


def write_manifest(
    out: Path,
    seed: int,
    year: int,
    rows: int,
    fmt: str,
    drift: DriftSettings,
    entries: list[dict[str, Any]],
) -> Path:
    """Write `out/drift_manifest.json`, keeping entries of other months made the same way."""
    manifest: dict[str, Any] = {
        "generator": "mlmon.demo.generator",
        "seed": seed,
        "year": year,
        "rows_per_month": rows,
        "format": fmt,
        "settings": drift.as_dict(),
        "stationary": drift.is_stationary,
        "target": TARGET,
        "features": list(FEATURES),
        "new_category": NEW_SUBSECTOR,
    }
    manifest_path = out / MANIFEST_NAME
    entries = _merge_entries(manifest_path, manifest, entries)
    manifest["training_months"] = [e["month"] for e in entries if e["month_index"] < drift.start]
    manifest["months"] = entries
    manifest_path.write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    return manifest_path


def _merge_entries(
    path: Path, header: dict[str, Any], entries: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    # Regenerating a few months of a folder made with the same settings keeps the other
    # months' entries; anything else starts the manifest afresh.
    try:
        previous = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return entries
    if not isinstance(previous, dict) or any(previous.get(k) != v for k, v in header.items()):
        return entries
    fresh = {e["month"] for e in entries}
    kept = [
        e for e in previous.get("months", []) if isinstance(e, dict) and e.get("month") not in fresh
    ]
    return sorted(kept + entries, key=lambda e: str(e["month"]))
