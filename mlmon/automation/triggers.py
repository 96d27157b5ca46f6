"""Scenario triggers: parsing, schedules, data fingerprints and the state kept between checks.

Time-based triggers (`cron`, `every`) define a sequence of scheduled times. A trigger is due
when a scheduled time lies in (start, now], where start is the scheduled time it last fired for,
or, before it ever fired, the moment the scheduler first saw it. So:

- a new trigger never fires on the scheduler's first look: that look starts its clock, and an
  `every: 1d` trigger first fires a day later (on a grid anchored there, so it does not drift by
  the scheduler's tick);
- `mlmon scheduler --once` run by system cron every minute fires each scheduled time once;
- after downtime, the missed scheduled times fire once in total, not once each;
- changing a trigger's schedule in YAML restarts its clock instead of firing at once.

Data-based triggers (`dataset_changed`, `sql_changed`) compare a fingerprint with the one seen
at the previous check; the first check only records a baseline.

Every check returns the trigger's next state, a JSON-serialisable dict that `TriggerStateStore`
keeps in `mlmon.trigger_state`. The scheduler saves it once the run has started (or been
deliberately passed over): not saving it leaves the trigger due at the next check.

Times are timezone-aware; a naive datetime is taken as UTC, as the warehouse stores times. Cron
expressions are read in the trigger's `timezone` (an IANA name), by default the machine's local
zone as system cron does.

This module is the public face of triggers and holds `check_trigger`, the scheduler's single
entry point; the parts live in:

- `trigger_specs`: the trigger kinds, `TriggerCheck` and YAML parsing;
- `trigger_schedule`: `cron` and `every` schedules;
- `trigger_dataset`: `dataset_changed` file fingerprints;
- `trigger_sql`: `sql_changed` query fingerprints;
- `trigger_state`: `TriggerStateStore`.
"""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

from mlmon.automation.trigger_dataset import changed_files, check_dataset, dataset_changed, files_fingerprint
from mlmon.automation.trigger_schedule import check_schedule, is_due, last_scheduled_time, next_fire_time
from mlmon.automation.trigger_specs import (
    MANUAL_TRIGGER,
    CronTrigger,
    DatasetChangedTrigger,
    IntervalTrigger,
    SqlChangedTrigger,
    TimeTrigger,
    Trigger,
    TriggerCheck,
    parse_interval,
    parse_trigger,
    parse_triggers,
)
from mlmon.automation.trigger_sql import check_sql, sql_fingerprint
from mlmon.automation.trigger_state import TriggerStateStore

__all__ = [
    "MANUAL_TRIGGER",
    "CronTrigger",
    "IntervalTrigger",
    "DatasetChangedTrigger",
    "SqlChangedTrigger",
    "Trigger",
    "TimeTrigger",
    "TriggerCheck",
    "parse_interval",
    "parse_trigger",
    "parse_triggers",
    "next_fire_time",
    "is_due",
    "last_scheduled_time",
    "check_schedule",
    "files_fingerprint",
    "dataset_changed",
    "changed_files",
    "check_dataset",
    "sql_fingerprint",
    "check_sql",
    "check_trigger",
    "TriggerStateStore",
]


def check_trigger(
    trigger: Trigger,
    state: Mapping[str, Any] | None,
    *,
    now: datetime | None = None,
    con: Any = None,
    dataset_files: Callable[[str], Sequence[Path | str]] | None = None,
    root: Path | None = None,
) -> TriggerCheck:
    """Check any trigger: the scheduler's single entry point.

    `dataset_files(name)` lists a dataset's current files (the project resolves its globs and
    vars); `con` runs `sql_changed` queries.
    """
    if isinstance(trigger, (CronTrigger, IntervalTrigger)):
        return check_schedule(trigger, state, now or datetime.now(timezone.utc))
    if isinstance(trigger, DatasetChangedTrigger):
        if dataset_files is None:
            raise TypeError("checking a dataset_changed trigger needs dataset_files")
        return check_dataset(trigger, state, files_fingerprint(dataset_files(trigger.dataset), trigger.mode, root=root))
    if con is None:
        raise TypeError("checking a sql_changed trigger needs a connection")
    return check_sql(trigger, state, sql_fingerprint(con, trigger.query))

