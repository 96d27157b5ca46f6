"""`TriggerStateStore`: each trigger's state between checks, kept in `mlmon.trigger_state`.

A state is the JSON-serialisable dict a trigger check returns. The scheduler saves it once the
run has started (or been deliberately passed over): not saving it leaves the trigger due at the
next check.
"""

from __future__ import annotations

import json
from datetime import datetime, timezone
from typing import Any, Mapping

from mlmon.automation.trigger_schedule import as_aware
from mlmon.warehouse.tables import SYSTEM_SCHEMA

__all__ = ["TriggerStateStore"]


class TriggerStateStore:
    """Trigger states in `mlmon.trigger_state`, one row per (scenario, trigger).

    The table must exist (`mlmon.warehouse.tables.create_statements()`). Only the process
    holding the scenario's lock writes its triggers' state, so UPDATE-or-INSERT cannot race.
    """

    def __init__(self, con: Any) -> None:
        self.con = con
        # Catalog-qualified: a warehouse file named mlmon.duckdb is itself a catalog "mlmon",
        # which makes a bare mlmon.trigger_state ambiguous.
        (catalog,) = con.execute("SELECT current_database()").fetchone()
        self.table = '"{}"."{}"."trigger_state"'.format(catalog.replace('"', '""'), SYSTEM_SCHEMA)

    def get(self, scenario: str, trigger: str) -> dict[str, Any] | None:
        row = self.con.execute(
            f'SELECT "state" FROM {self.table} WHERE "scenario" = ? AND "trigger" = ? ORDER BY "updated_at" DESC LIMIT 1',
            [scenario, trigger],
        ).fetchone()
        if row is None or row[0] is None:
            return None
        value = json.loads(row[0]) if isinstance(row[0], str) else row[0]
        return value if isinstance(value, dict) else None

    def put(self, scenario: str, trigger: str, state: Mapping[str, Any], *, updated_at: datetime | None = None) -> None:
        text = json.dumps(dict(state), sort_keys=True)  # fails here, before touching the table
        when = as_aware(updated_at or datetime.now(timezone.utc)).astimezone(timezone.utc).replace(tzinfo=None)
        # UPDATE, then INSERT if there was nothing to update: each statement is atomic, so a
        # crash never loses the previous state, and inside a caller's transaction this joins it.
        updated = self.con.execute(
            f'UPDATE {self.table} SET "state" = ?, "updated_at" = ? WHERE "scenario" = ? AND "trigger" = ?',
            [text, when, scenario, trigger],
        ).fetchone()
        if not updated or not updated[0]:
            self.con.execute(
                f'INSERT INTO {self.table} ("scenario", "trigger", "state", "updated_at") VALUES (?, ?, ?, ?)',
                [scenario, trigger, text, when],
            )

    def delete(self, scenario: str, trigger: str | None = None) -> None:
        """Forget a trigger's state (or all of a scenario's): its next check is a first look."""
        if trigger is None:
            self.con.execute(f'DELETE FROM {self.table} WHERE "scenario" = ?', [scenario])
        else:
            self.con.execute(f'DELETE FROM {self.table} WHERE "scenario" = ? AND "trigger" = ?', [scenario, trigger])

    def all(self, scenario: str | None = None) -> dict[tuple[str, str], dict[str, Any]]:
        query = f'SELECT "scenario", "trigger", "state" FROM {self.table}'
        params: list[Any] = []
        if scenario is not None:
            query += ' WHERE "scenario" = ?'
            params.append(scenario)
        rows = self.con.execute(query + ' ORDER BY "scenario", "trigger"', params).fetchall()
        return {(s, t): json.loads(v) if isinstance(v, str) else v for s, t, v in rows if v is not None}
