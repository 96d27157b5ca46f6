"""`sql_changed` triggers: a canonical hash of a query's result and its comparison.

A check compares the query's current fingerprint with the one saved at the previous check;
the first check only records a baseline.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any, Mapping, Sequence

from mlmon.automation.trigger_specs import SqlChangedTrigger, TriggerCheck
from mlmon.errors import MlmonError

__all__ = [
    "sql_fingerprint",
    "check_sql",
]


def _canonical(value: Any) -> Any:
    # JSON has no dates, decimals or bytes: encode them with a type tag so 1 and "1" differ.
    if hasattr(value, "isoformat"):  # date, time, datetime, pandas Timestamp
        return {"$" + type(value).__name__: value.isoformat()}
    if isinstance(value, (bytes, bytearray, memoryview)):
        return {"$bytes": bytes(value).hex()}
    if isinstance(value, (set, frozenset)):
        return sorted((_canonical(v) for v in value), key=lambda v: json.dumps(v, sort_keys=True, default=str))
    return {"$" + type(value).__name__: str(value)}


def _encode_row(row: Sequence[Any]) -> str:
    try:
        return json.dumps(list(row), default=_canonical, sort_keys=True, allow_nan=True)
    except TypeError:  # a MAP with non-string keys cannot be sorted by key: keep engine order
        return repr(tuple(row))


def sql_fingerprint(con: Any, query: str) -> str:
    """sha256 of a query's result: its column names and its rows in a canonical order.

    Rows are sorted on their canonical encoding rather than with ORDER BY, so any statement
    returning rows works and a query without ORDER BY gives the same hash however the engine
    parallelises it. Meant for small results (a count, a max(updated_at), a partition list).
    """
    try:
        cursor = con.execute(query)
        columns = [d[0] for d in (cursor.description or [])]
        rows = cursor.fetchall()
    except Exception as exc:  # the engine's own error type: DuckDB, or another target's driver
        raise MlmonError(f"sql_changed query failed: {exc}") from exc
    encoded = sorted(_encode_row(row) for row in rows)
    digest = hashlib.sha256(json.dumps(columns).encode())
    for line in encoded:
        digest.update(b"\n" + line.encode())
    return digest.hexdigest()


def check_sql(trigger: SqlChangedTrigger, state: Mapping[str, Any] | None, fingerprint: str) -> TriggerCheck:
    """Check a sql_changed trigger against its query's current `sql_fingerprint`.

    Editing the query restarts the baseline: a different query is expected to return something
    different.
    """
    same_query = bool(state) and state.get("trigger") == trigger.signature  # type: ignore[union-attr]
    previous = state.get("fingerprint") if same_query else None  # type: ignore[union-attr]
    new_state = {"trigger": trigger.signature, "fingerprint": fingerprint}
    if previous is None or previous == fingerprint:
        return TriggerCheck(False, new_state)
    return TriggerCheck(True, new_state, {"previous_fingerprint": previous, "fingerprint": fingerprint})
