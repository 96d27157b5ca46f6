"""Monthly prepared credit-card transactions for the fraud-monitoring example project.

The columns mirror the "transactions_prepared" dataset of the Dataiku MLOps tutorial; the
target `authorized_flag` is 0 for a fraudulent (refused) purchase.

Randomness: the card and merchant reference tables, and the sample used to calibrate the fraud
rate, depend on `seed` alone (a card keeps its FICO score and home town across months). The
rows of a month come from one stream seeded with (seed, year, month), consumed in fixed blocks
of `BLOCK_ROWS`, so a month is the same whatever other months are generated, and a large month
can be written block by block in bounded memory.

    python -m mlmon.demo.generator --out data --rows 2500 --months 1-12 --seed 42

This module is the generator's public face and entry point; the work is done in:

    schema        column layout, target and features
    catalog       fixed reference data: subsectors, item categories, reward programs, cities
    population    cards and merchants drawn from the seed
    transactions  drawing one block of purchases under a month's drift
    fraud         the fraud rule and its per-month calibration
    months        a month's rows as DataFrames, block by block
    manifest      drift_manifest.json
    writers       CSV / Parquet files per month
    cli           the command line
    drift         the drift knobs (DriftSettings)
"""

from __future__ import annotations

from mlmon.demo.catalog import NEW_SUBSECTOR
from mlmon.demo.cli import main
from mlmon.demo.drift import DriftSettings
from mlmon.demo.fraud import intercept as _intercept  # noqa: F401
from mlmon.demo.manifest import MANIFEST_NAME
from mlmon.demo.months import BLOCK_ROWS, generate_month, iter_month_chunks
from mlmon.demo.population import pools_for as _pools  # noqa: F401
from mlmon.demo.schema import CATEGORICAL_FEATURES, COLUMNS, FEATURES, TARGET
from mlmon.demo.writers import file_name, generate

# `_pools` and `_intercept` stay reachable here for callers (tests) that clear their caches.
__all__ = [
    "BLOCK_ROWS",
    "MANIFEST_NAME",
    "COLUMNS",
    "FEATURES",
    "CATEGORICAL_FEATURES",
    "TARGET",
    "NEW_SUBSECTOR",
    "DriftSettings",
    "file_name",
    "iter_month_chunks",
    "generate_month",
    "generate",
    "main",
]

if __name__ == "__main__":
    raise SystemExit(main())
