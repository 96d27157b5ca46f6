"""The domain classifier's samples are uniform when rows repeat: data split at random shows no drift.

Rows drawn from a small pool of feature vectors (most rows share their vector with others),
split at random into a larger reference and a smaller current side, both cut to `drift_sample`:
data_drift must hover around 0.5 and its p-value must be uniform. A sample ordered by a hash of
the rows' contents takes all copies of a vector or none, and the classifier learns that artefact.
"""

from __future__ import annotations

import duckdb
import numpy as np
import pandas as pd

from mlmon.evaluation.evaluate import EvaluationPlan, _data_drift
from mlmon.evaluation.reference import Reference

SPLITS = 60


def _pool_rows(rng: np.random.Generator, n_rows: int, n_distinct: int) -> pd.DataFrame:
    pool = pd.DataFrame({
        "amount": np.round(rng.lognormal(3.0, 1.0, n_distinct), 2),
        "items": rng.integers(1, 6, n_distinct),
        "country": rng.choice(["fr", "de", "es", "it"], n_distinct),
    })
    return pool.iloc[rng.integers(0, n_distinct, n_rows)].reset_index(drop=True)


def test_random_splits_of_repeated_rows_show_no_drift() -> None:
    con = duckdb.connect()
    plan = EvaluationPlan(store="s", task="binary", target="y", classes=(0, 1), positive_class=1, threshold=0.5,
                          numeric=("amount", "items"), categorical=("country",), drift_sample=150)
    values, pvalues = [], []
    for seed in range(SPLITS):
        rng = np.random.default_rng(seed)
        rows = _pool_rows(rng, 1_000, 120)
        current = rng.random(len(rows)) < 0.35  # unequal sides
        con.register("ref_rows", rows[~current])
        con.register("cur_rows", rows[current])
        reference = Reference(kind="training", sql="ref_rows", source="training", labelled_sql="ref_rows",
                              performance={})
        metrics, reason = _data_drift(con, "cur_rows", reference, plan, ["amount", "items"], ["country"],
                                      int((~current).sum()), int(current.sum()))
        assert reason is None
        by_name = {m.metric: m.value for m in metrics if m.feature is None}
        values.append(by_name["data_drift"])
        pvalues.append(by_name["data_drift_pvalue"])
    assert abs(np.mean(values) - 0.5) < 0.02, np.mean(values)
    # Uniform p-values: about 5% below 0.05 (binomial(60, 0.05) exceeds 7 with probability ~3%).
    assert sum(p < 0.05 for p in pvalues) <= 7, sorted(pvalues)[:10]
