"""Column layout of the prepared transactions: what every generated month holds, in file order.

The columns mirror the "transactions_prepared" dataset of the Dataiku MLOps tutorial; the
target `authorized_flag` is 0 for a fraudulent (refused) purchase.
"""

from __future__ import annotations

__all__ = ["COLUMNS", "TARGET", "FEATURES", "CATEGORICAL_FEATURES"]

COLUMNS: tuple[str, ...] = (
    "transaction_id",
    "purchase_date",
    "card_id",
    "merchant_id",
    "item_category",
    "purchase_amount",
    "signature_provided",
    "merchant_subsector_description",
    "card_fico_score",
    "card_age",
    "card_reward_program",
    "card_latitude",
    "card_longitude",
    "merchant_latitude",
    "merchant_longitude",
    "merchant_cardholder_distance",
    "days_active",
    "purchase_weekday",
    "authorized_flag",
)
TARGET = "authorized_flag"
_NOT_FEATURES = {"transaction_id", "card_id", "merchant_id", "purchase_date", TARGET}
FEATURES: tuple[str, ...] = tuple(c for c in COLUMNS if c not in _NOT_FEATURES)
CATEGORICAL_FEATURES: tuple[str, ...] = (
    "item_category",
    "merchant_subsector_description",
    "card_reward_program",
)
