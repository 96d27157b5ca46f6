"""A partner's fraud-scoring service, for the example of monitoring a model mlmon did not train.

The partner scores transactions with its own model (a logistic regression fitted on January to
March) and logs, per transaction, the features it saw, its fraud probability, its decision and
when it scored: `partner_scores_<year>_MM.csv`. Whether a transaction was fraud is known only
when the chargeback window closes, one to two months later: `chargebacks_<year>_MM.csv` holds
the outcomes reported in month MM (outcomes reported after the year are in no file yet), so
coverage of the latest months is low, as in real life.

The partner's transactions are drawn like the example's (same drift, another stream), with
transaction ids of their own; `PARTNER_ROWS` a month keeps the files small.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd

from mlmon.demo.drift import DriftSettings
from mlmon.demo.months import generate_month
from mlmon.demo.schema import TARGET

__all__ = ["PARTNER_ROWS", "PARTNER_FEATURES", "partner_months", "write_partner_files"]

PARTNER_ROWS = 250  # logged transactions a month
PARTNER_FEATURES = ("purchase_amount", "card_fico_score", "merchant_cardholder_distance", "signature_provided",
                    "item_category")
THRESHOLD = 0.3  # the partner blocks a transaction at this score
_TRAIN_ROWS = 3000  # per training month (January to March), never written
_ID_OFFSET = 90_000_000  # partner transaction ids never clash with the example's


def _design(frame: pd.DataFrame, fico_fill: float, categories: list[str]) -> np.ndarray:
    numeric = np.c_[np.log1p(frame["purchase_amount"]), frame["card_fico_score"].fillna(fico_fill) / 100.0,
                    np.log1p(frame["merchant_cardholder_distance"]), frame["signature_provided"]]
    one_hot = np.c_[[frame["item_category"].to_numpy() == c for c in categories]].T.astype(float)
    return np.c_[numeric, one_hot]


def _partner_model(year: int, seed: int, drift: DriftSettings) -> tuple:
    from sklearn.linear_model import LogisticRegression

    train = pd.concat([generate_month(year, m, _TRAIN_ROWS, seed + 1000, drift) for m in (1, 2, 3)], ignore_index=True)
    fico_fill = float(train["card_fico_score"].median())
    categories = sorted(train["item_category"].unique())
    model = LogisticRegression(max_iter=1000).fit(_design(train, fico_fill, categories), (train[TARGET] == 0).astype(int))
    return model, fico_fill, categories


def partner_months(year: int = 2017, months: range = range(1, 13), seed: int = 42,
                   drift: DriftSettings = DriftSettings()) -> tuple[dict[int, pd.DataFrame], dict[int, pd.DataFrame]]:
    """({month: logged scores}, {report month: chargebacks reported then})."""
    # The partner's service scores what it receives, before mlmon's export accidents (blank
    # scores, amounts in cents, a dropped column) reach the monitored files.
    drift = replace(drift, missing_from=None, out_of_range_month=None, dropped_month=None)
    model, fico_fill, categories = _partner_model(year, seed, drift)
    rng = np.random.default_rng(np.random.SeedSequence([seed, year, 7]))
    scores: dict[int, pd.DataFrame] = {}
    outcomes = []
    for month in months:
        rows = generate_month(year, month, PARTNER_ROWS, seed + 2000, drift)
        score = model.predict_proba(_design(rows, fico_fill, categories))[:, 1].round(6)
        logged = rows[["transaction_id", *PARTNER_FEATURES]].assign(
            transaction_id=rows["transaction_id"] + _ID_OFFSET, partner_score=score,
            partner_decision=(score >= THRESHOLD).astype(np.int64), scored_at=rows["purchase_date"])
        scores[month] = logged
        delay = pd.to_timedelta(rng.uniform(30, 62, len(rows)) * 86_400, unit="s").round("s")
        outcomes.append(pd.DataFrame({"transaction_id": logged["transaction_id"],
                                      "is_fraud": (rows[TARGET] == 0).astype(np.int64),
                                      "reported_at": logged["scored_at"] + delay}))
    reported = pd.concat(outcomes, ignore_index=True).sort_values(["reported_at", "transaction_id"])
    by_month = {m: part.reset_index(drop=True) for (y, m), part in
                reported.groupby([reported["reported_at"].dt.year, reported["reported_at"].dt.month]) if y == year}
    return scores, by_month


def write_partner_files(out: Path, year: int = 2017, seed: int = 42, drift: DriftSettings = DriftSettings()) -> list[Path]:
    """Write `partner_scores_<year>_MM.csv` and `chargebacks_<year>_MM.csv` for the whole year."""
    scores, chargebacks = partner_months(year, range(1, 13), seed, drift)
    paths = []
    for kind, frames in (("partner_scores", scores), ("chargebacks", chargebacks)):
        for month, frame in frames.items():
            path = out / f"{kind}_{year}_{month:02d}.csv"
            frame.astype({"card_fico_score": "Int64"} if "card_fico_score" in frame else {}).to_csv(path, index=False)
            paths.append(path)
    return paths
