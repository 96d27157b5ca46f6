"""Whether a relation can be scored: the model's feature columns present, numeric ones numbers.

Shared by DuckDB scoring (mlmon.ml.scoring) and Spark scoring (mlmon.ml.spark_scoring), which
check the same Arrow schema before they read a row.
"""

from __future__ import annotations

import pyarrow as pa

from mlmon.errors import NodeError, did_you_mean

__all__ = ["check_source"]

_NUMERIC_ARROW = (pa.types.is_integer, pa.types.is_floating, pa.types.is_decimal, pa.types.is_boolean, pa.types.is_null)


def check_source(
    schema: pa.Schema, duck_types: dict[str, str], needed: list[str], numeric: list[str], source_sql: str
) -> None:
    available = schema.names
    missing = [c for c in needed if c not in available]
    if missing:
        hints = [h for h in (did_you_mean(c, available) for c in missing) if h]
        raise NodeError(
            f"{source_sql} lacks feature column(s) {', '.join(map(repr, missing))} that the model needs; "
            f"its columns: {', '.join(available)}",
            hint="; ".join(hints) or None,
        )
    for name in numeric:
        arrow_type = schema.field(name).type
        if not any(test(arrow_type) for test in _NUMERIC_ARROW):
            raise NodeError(
                f"column '{name}' of {source_sql} has type {duck_types.get(name, arrow_type)}, "
                "but the model was trained on it as a number",
                hint=f"cast it, e.g. CAST({name} AS DOUBLE), in the dataset that feeds the scoring",
            )
