"""A month of transactions as DataFrames: the month's random stream, ids, labels and blocks.

The rows of a month come from one stream seeded with (seed, year, month), consumed in fixed
blocks of `BLOCK_ROWS`, so a month is the same whatever other months are generated, and a
large month can be written block by block in bounded memory.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pandas as pd

from mlmon.demo.catalog import ITEM_NAMES, SUBSECTOR_NAMES
from mlmon.demo.drift import DriftSettings
from mlmon.demo.fraud import intercept, log_odds
from mlmon.demo.population import pools_for
from mlmon.demo.quality import apply_quality, quality_rng
from mlmon.demo.schema import COLUMNS, TARGET
from mlmon.demo.transactions import draw, month_span

__all__ = ["BLOCK_ROWS", "iter_month_chunks", "generate_month"]

BLOCK_ROWS = 100_000  # part of the output's definition: changing it changes months over this size


def iter_month_chunks(
    year: int,
    month: int,
    rows: int,
    seed: int = 42,
    drift: DriftSettings = DriftSettings(),
) -> Iterator[pd.DataFrame]:
    """The month's rows as DataFrames of at most BLOCK_ROWS rows, in purchase-date order.

    Block k always holds rows k * BLOCK_ROWS onwards, drawn from the month's stream after the
    blocks before it, so streaming and `generate_month` give the same rows.
    """
    if not 1 <= month <= 12:
        raise ValueError(f"month must be 1..12, got {month}")
    if rows < 0:
        raise ValueError(f"rows must be >= 0, got {rows}")
    if rows >= 10**8:
        raise ValueError("at most 99,999,999 rows per month (transaction ids hold 8 digits)")
    rng = np.random.default_rng(np.random.SeedSequence([seed, year, month]))
    lv = drift.levels(year, month)
    pools = pools_for(seed)
    month_intercept = intercept(seed, year, month, lv)
    t0, t1 = month_span(year, month)
    id_base = (year * 100 + month) * 10**8
    accidents = quality_rng(seed, year, month)
    for first in range(0, max(rows, 1), BLOCK_ROWS):
        n = min(BLOCK_ROWS, rows - first)
        # Each block covers its own slice of the month, so blocks concatenate in date order.
        lo = t0 + (t1 - t0) * first / max(rows, 1)
        hi = t0 + (t1 - t0) * (first + n) / max(rows, 1)
        d = draw(rng, n, lo, hi, lv, pools)
        p_fraud = 1.0 / (1.0 + np.exp(-(log_odds(d, lv, pools) + month_intercept)))
        fraud = rng.random(n) < p_fraud
        yield apply_quality(pd.DataFrame(
            {
                "transaction_id": id_base + first + 1 + np.arange(n, dtype=np.int64),
                "purchase_date": d["seconds"].astype("datetime64[s]"),
                "card_id": pools.card_id[d["card"]],
                "merchant_id": pools.merchant_id[d["merchant"]],
                "item_category": ITEM_NAMES[d["item"]],
                "purchase_amount": d["purchase_amount"],
                "signature_provided": d["signature_provided"],
                "merchant_subsector_description": SUBSECTOR_NAMES[d["sub"]],
                "card_fico_score": d["card_fico_score"],
                "card_age": d["card_age"],
                "card_reward_program": pools.card_reward[d["card"]],
                "card_latitude": d["card_latitude"],
                "card_longitude": d["card_longitude"],
                "merchant_latitude": d["merchant_latitude"],
                "merchant_longitude": d["merchant_longitude"],
                "merchant_cardholder_distance": d["merchant_cardholder_distance"],
                "days_active": d["days_active"],
                "purchase_weekday": d["purchase_weekday"],
                TARGET: (~fraud).astype(np.int64),
            },
            columns=list(COLUMNS),
        ), drift, year, month, accidents)
        if rows == 0:
            return


def generate_month(
    year: int,
    month: int,
    rows: int,
    seed: int = 42,
    drift: DriftSettings = DriftSettings(),
) -> pd.DataFrame:
    """One month of prepared transactions, in memory (use `generate` for large months)."""
    chunks = list(iter_month_chunks(year, month, rows, seed, drift))
    if len(chunks) == 1:
        return chunks[0]
    return pd.concat(chunks, ignore_index=True)
