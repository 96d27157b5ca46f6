"""The example project's data: monthly credit-card transactions with controlled, documented drift.

`mlmon.demo.generator` writes `data/transactions_prepared_YYYY_MM.csv` and
`data/drift_manifest.json`; `mlmon.demo.drift.DriftSettings` holds the drift knobs.
"""

__all__: list[str] = []
