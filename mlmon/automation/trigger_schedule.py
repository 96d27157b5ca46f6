"""Time-based triggers (`cron`, `every`): their scheduled times and whether one is due.

A time trigger is due when a scheduled time lies in (start, now], where start is the scheduled
time it last fired for or, before it ever fired, the moment the scheduler first saw it (see
`mlmon.automation.triggers` for what that means in practice). Cron expressions are read in the
trigger's `timezone`, by default the machine's local zone as system cron does.
"""

from __future__ import annotations

import os
from datetime import datetime, timezone, tzinfo
from functools import lru_cache
from typing import Any, Mapping
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from croniter import croniter

from mlmon.automation.trigger_specs import CronTrigger, IntervalTrigger, TimeTrigger, TriggerCheck

__all__ = [
    "as_aware",
    "next_fire_time",
    "is_due",
    "last_scheduled_time",
    "check_schedule",
]


def as_aware(value: datetime) -> datetime:
    """`value` with a timezone; a naive datetime is taken as UTC, as the warehouse stores times."""
    return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value


def _local_zone() -> tzinfo:
    return _local_zone_named(os.environ.get("TZ", "").lstrip(":"))


@lru_cache(maxsize=8)
def _local_zone_named(name: str) -> tzinfo:
    # A real zone (with DST rules) rather than today's fixed offset, so 06:00 stays 06:00
    # across a DST change. Cached so that the zone is one hashable object for _cron_next.
    if name:
        try:
            return ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError):
            pass
    try:
        with open("/etc/localtime", "rb") as f:
            return ZoneInfo.from_file(f, key="localtime")
    except (OSError, ValueError):
        return datetime.now().astimezone().tzinfo or timezone.utc


def _zone(trigger: CronTrigger) -> tzinfo:
    return ZoneInfo(trigger.timezone) if trigger.timezone else _local_zone()


@lru_cache(maxsize=4096)
def _cron_next(expression: str, zone: tzinfo, after: datetime) -> datetime:
    # A long-running scheduler asks the same question every tick until the trigger fires.
    return croniter(expression, after.astimezone(zone)).get_next(datetime).astimezone(timezone.utc)


def next_fire_time(trigger: TimeTrigger, after: datetime) -> datetime:
    """The first scheduled time strictly after `after` (timezone-aware, in UTC).

    For an `every` trigger the schedule is the grid `after + k·every`, so pass the time the
    grid is anchored at (its last fire time or its start).
    """
    after = as_aware(after)
    if isinstance(trigger, IntervalTrigger):
        return (after + trigger.every).astimezone(timezone.utc)
    return _cron_next(trigger.cron, _zone(trigger), after)


def last_scheduled_time(trigger: TimeTrigger, start: datetime, now: datetime) -> datetime | None:
    """The latest scheduled time in (start, now], or None if there is none."""
    start, now = as_aware(start), as_aware(now)
    if now <= start:
        return None
    if isinstance(trigger, IntervalTrigger):
        periods = (now - start) // trigger.every
        return (start + periods * trigger.every).astimezone(timezone.utc) if periods >= 1 else None
    zone = _zone(trigger)
    # Most checks find nothing due: one croniter step answers those.
    if _cron_next(trigger.cron, zone, start) > now:
        return None
    # get_prev is strictly before its start; step forward once to include a time equal to now.
    candidate = croniter(trigger.cron, now.astimezone(zone)).get_prev(datetime)
    following = croniter(trigger.cron, candidate).get_next(datetime)
    if following <= now:
        candidate = following
    return candidate.astimezone(timezone.utc) if candidate > start else None


def is_due(trigger: TimeTrigger, last_fired_at: datetime | None, now: datetime, *, since: datetime | None = None) -> bool:
    """Whether a scheduled time lies in (last_fired_at, now].

    Before a first fire, `since` (when the trigger was first seen) starts the window; with
    neither, the trigger is not due: the first look only starts its clock.
    """
    start = last_fired_at if last_fired_at is not None else since
    if start is None:
        return False
    return next_fire_time(trigger, start) <= as_aware(now)


def check_schedule(trigger: TimeTrigger, state: Mapping[str, Any] | None, now: datetime) -> TriggerCheck:
    """Check a time trigger against its saved state.

    State: {"schedule", "since", "last_fired_at", "last_checked_at"}; `last_fired_at` is the
    scheduled time that fired, not the wall-clock time of the check, so `every` keeps its grid.
    """
    now = as_aware(now).astimezone(timezone.utc)
    stamp = now.isoformat()
    if not state or state.get("schedule") != trigger.signature or not state.get("since"):
        return TriggerCheck(False, {"schedule": trigger.signature, "since": stamp, "last_fired_at": None, "last_checked_at": stamp})
    last = state.get("last_fired_at")
    start = datetime.fromisoformat(last or state["since"])
    due = last_scheduled_time(trigger, start, now)
    new_state = {**state, "last_checked_at": stamp}
    if due is None:
        return TriggerCheck(False, new_state)
    new_state["last_fired_at"] = due.isoformat()
    return TriggerCheck(True, new_state, {"scheduled_at": due.isoformat()})
