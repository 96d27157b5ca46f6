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
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from dataclasses import dataclass, field
from functools import lru_cache
from datetime import datetime, timedelta, timezone, tzinfo
from pathlib import Path
from typing import Any, Callable, Final, Literal, Mapping, Sequence
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from croniter import croniter

from mlmon.errors import ConfigError, Location, MlmonError, ProjectErrors, did_you_mean
from mlmon.warehouse.tables import SYSTEM_SCHEMA

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

MANUAL_TRIGGER: Final = "manual"  # the trigger name of a run started by `mlmon scenario run`

_KINDS: Final = ("cron", "every", "dataset_changed", "sql_changed")
_OPTIONS: Final[dict[str, tuple[str, ...]]] = {
    "cron": ("timezone",),
    "every": (),
    "dataset_changed": ("mode",),
    "sql_changed": (),
}
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]*$")


@dataclass(frozen=True)
class CronTrigger:
    name: str
    cron: str
    timezone: str | None = None  # None: the machine's local zone

    @property
    def signature(self) -> str:
        return f"cron:{self.cron}@{self.timezone or 'local'}"


@dataclass(frozen=True)
class IntervalTrigger:
    name: str
    every: timedelta
    text: str  # as written, e.g. "6h"

    @property
    def signature(self) -> str:
        return f"every:{int(self.every.total_seconds())}s"


@dataclass(frozen=True)
class DatasetChangedTrigger:
    name: str
    dataset: str
    mode: Literal["stat", "content"] = "stat"

    @property
    def signature(self) -> str:
        return f"dataset_changed:{self.dataset}:{self.mode}"


@dataclass(frozen=True)
class SqlChangedTrigger:
    name: str
    query: str

    @property
    def signature(self) -> str:
        return "sql_changed:" + hashlib.sha256(self.query.strip().encode()).hexdigest()[:16]


TimeTrigger = CronTrigger | IntervalTrigger
Trigger = CronTrigger | IntervalTrigger | DatasetChangedTrigger | SqlChangedTrigger


@dataclass(frozen=True)
class TriggerCheck:
    """The result of checking a trigger: whether it fired, its next state, and what fired it
    (`params`, stored in `mlmon.scenario_runs.trigger_params`)."""

    fired: bool
    state: dict[str, Any]
    params: dict[str, Any] = field(default_factory=dict)


# ---------------------------------------------------------------------------------------------
# parsing

_UNITS: Final[dict[str, int]] = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_INTERVAL = re.compile(r"(\d+)\s*([smhdw])")


def parse_interval(text: str) -> timedelta:
    """`30m`, `6h`, `1d`, `1w`, or a sum such as `1d12h`; ValueError when malformed or zero."""
    compact = text.strip().lower() if isinstance(text, str) else ""
    if not compact or _INTERVAL.sub("", compact).strip():
        raise ValueError(f"bad interval {text!r}: expected a number and a unit (s, m, h, d, w), e.g. 30m, 6h, 1d, 1w")
    seconds = sum(int(n) * _UNITS[u] for n, u in _INTERVAL.findall(compact))
    if seconds <= 0:
        raise ValueError(f"bad interval {text!r}: must be longer than zero")
    return timedelta(seconds=seconds)


def _validate_cron(expression: str) -> None:
    fields = expression.split()
    is_alias = len(fields) == 1 and fields[0].startswith("@")
    # croniter reads a sixth field as seconds; a scheduler that ticks each minute cannot honour it.
    if not is_alias and len(fields) != 5:
        raise ValueError(f"bad cron {expression!r}: expected 5 fields (minute hour day month weekday) or an @alias")
    try:
        croniter(expression)
    except (ValueError, KeyError) as exc:
        raise ValueError(f"bad cron {expression!r}: {exc}") from None


def parse_trigger(spec: Any, *, location: Location | None = None) -> Trigger:
    """One trigger from its YAML mapping, with an error that says what is wrong."""

    def error(message: str, hint: str | None = None) -> ConfigError:
        return ConfigError(message, location=location, hint=hint)

    if not isinstance(spec, Mapping):
        raise error(f"a trigger must be a mapping such as {{name: weekly, cron: '0 6 * * 1'}}, got {type(spec).__name__}")
    kinds = [k for k in _KINDS if k in spec]
    if not kinds:
        unknown = [str(k) for k in spec if k != "name"]
        hint = next((h for h in (did_you_mean(k, _KINDS) for k in unknown) if h), None)
        raise error(f"trigger needs one of {', '.join(_KINDS)}", hint)
    if len(kinds) > 1:
        raise error(f"trigger has both {kinds[0]} and {kinds[1]}: one trigger, one kind (add a second trigger)")
    kind = kinds[0]
    allowed = ("name", kind, *_OPTIONS[kind])
    for key in spec:
        if key not in allowed:
            raise error(f"unknown key {key!r} in a {kind} trigger", did_you_mean(str(key), allowed))

    name = spec.get("name", kind)
    if not isinstance(name, str) or not _NAME.match(name):
        raise error(f"bad trigger name {name!r}: letters, digits, '_' and '-', starting with a letter or '_'")
    if name == MANUAL_TRIGGER:
        raise error(f"trigger name {MANUAL_TRIGGER!r} is reserved for runs started by hand")
    value = spec[kind]

    if kind == "cron":
        if not isinstance(value, str):
            raise error(f"cron must be a string such as '0 6 * * 1', got {type(value).__name__}")
        try:
            _validate_cron(value.strip())
        except ValueError as exc:
            raise error(str(exc)) from None
        tz = spec.get("timezone")
        if tz is not None:
            try:
                ZoneInfo(str(tz))
            except (ZoneInfoNotFoundError, ValueError):
                raise error(f"unknown timezone {tz!r}: use an IANA name such as 'Europe/Paris' or 'UTC'") from None
        return CronTrigger(name, " ".join(value.split()), None if tz is None else str(tz))
    if kind == "every":
        if not isinstance(value, str):
            raise error(f"every must be a string such as '1d' or '6h', got {value!r}")
        try:
            return IntervalTrigger(name, parse_interval(value), value.strip())
        except ValueError as exc:
            raise error(str(exc)) from None
    if kind == "dataset_changed":
        if not isinstance(value, str) or not value.strip():
            raise error("dataset_changed must name a dataset")
        mode = spec.get("mode", "stat")
        if mode not in ("stat", "content"):
            raise error(f"dataset_changed mode must be 'stat' or 'content', got {mode!r}", did_you_mean(str(mode), ("stat", "content")))
        return DatasetChangedTrigger(name, value.strip(), mode)
    if not isinstance(value, str) or not value.strip():
        raise error("sql_changed must be a SQL query")
    return SqlChangedTrigger(name, value.strip())


def parse_triggers(specs: Any, *, location: Location | None = None) -> list[Trigger]:
    """A scenario's `triggers` list; every error in it is reported at once (ProjectErrors)."""
    if specs is None:
        return []
    if not isinstance(specs, list):
        raise ProjectErrors([ConfigError("triggers must be a list", location=location)])
    triggers: list[Trigger] = []
    errors: list[ConfigError] = []
    seen: set[str] = set()
    for spec in specs:
        try:
            trigger = parse_trigger(spec, location=location)
        except ConfigError as exc:
            errors.append(exc)
            continue
        if trigger.name in seen:
            errors.append(ConfigError(f"duplicate trigger name {trigger.name!r}: give each trigger its own name", location=location))
        seen.add(trigger.name)
        triggers.append(trigger)
    if errors:
        raise ProjectErrors(errors)
    return triggers


# ---------------------------------------------------------------------------------------------
# time-based triggers


def _aware(value: datetime) -> datetime:
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
    after = _aware(after)
    if isinstance(trigger, IntervalTrigger):
        return (after + trigger.every).astimezone(timezone.utc)
    return _cron_next(trigger.cron, _zone(trigger), after)


def last_scheduled_time(trigger: TimeTrigger, start: datetime, now: datetime) -> datetime | None:
    """The latest scheduled time in (start, now], or None if there is none."""
    start, now = _aware(start), _aware(now)
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
    return next_fire_time(trigger, start) <= _aware(now)


def check_schedule(trigger: TimeTrigger, state: Mapping[str, Any] | None, now: datetime) -> TriggerCheck:
    """Check a time trigger against its saved state.

    State: {"schedule", "since", "last_fired_at", "last_checked_at"}; `last_fired_at` is the
    scheduled time that fired, not the wall-clock time of the check, so `every` keeps its grid.
    """
    now = _aware(now).astimezone(timezone.utc)
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


# ---------------------------------------------------------------------------------------------
# data-based triggers


def _expand(paths: Sequence[Path | str]) -> list[Path]:
    files: list[Path] = []
    for p in map(Path, paths):
        if p.is_dir():
            files.extend(sorted(q for q in p.rglob("*") if q.is_file()))
        elif p.is_file():
            files.append(p)
        # a missing file is simply absent from the fingerprint, so removing one is a change
    return files


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def files_fingerprint(
    paths: Sequence[Path | str], mode: Literal["stat", "content"] = "stat", *, root: Path | None = None
) -> dict[str, Any]:
    """What identifies a dataset's files now: per file its size and mtime (`stat`, cheap) or
    the sha256 of its contents (`content`, immune to `touch` and copies that keep bytes).

    Directories are walked. Names are relative to `root` when given, so moving the project
    does not look like a change.
    """
    if mode not in ("stat", "content"):
        raise ValueError(f"fingerprint mode must be 'stat' or 'content', got {mode!r}")
    entries: dict[str, dict[str, Any]] = {}
    for path in _expand(paths):
        name = path.relative_to(root).as_posix() if root is not None and path.is_relative_to(root) else path.as_posix()
        try:
            if mode == "stat":
                st = path.stat()
                entries[name] = {"size": st.st_size, "mtime_ns": st.st_mtime_ns}
            else:
                entries[name] = {"sha256": _sha256(path)}
        except FileNotFoundError:
            continue  # removed while we looked: absent, as if listed a moment later
    return {"mode": mode, "files": dict(sorted(entries.items()))}


def dataset_changed(previous_state: Mapping[str, Any] | None, current_state: Mapping[str, Any]) -> bool:
    """Whether two `files_fingerprint` results differ.

    No previous fingerprint is a baseline, not a change; nor are fingerprints taken in
    different modes, which cannot be compared (the new one becomes the baseline).
    """
    if not previous_state or previous_state.get("mode") != current_state.get("mode"):
        return False
    return previous_state.get("files") != current_state.get("files")


def changed_files(previous_state: Mapping[str, Any] | None, current_state: Mapping[str, Any]) -> dict[str, list[str]]:
    """Which files were added, removed or modified between two fingerprints."""
    before: Mapping[str, Any] = (previous_state or {}).get("files", {})
    after: Mapping[str, Any] = current_state.get("files", {})
    return {
        "added": sorted(set(after) - set(before)),
        "removed": sorted(set(before) - set(after)),
        "modified": sorted(k for k in set(before) & set(after) if before[k] != after[k]),
    }


def check_dataset(trigger: DatasetChangedTrigger, state: Mapping[str, Any] | None, fingerprint: Mapping[str, Any]) -> TriggerCheck:
    """Check a dataset_changed trigger against the dataset's current `files_fingerprint`."""
    previous = state.get("fingerprint") if state and state.get("trigger") == trigger.signature else None
    new_state = {"trigger": trigger.signature, "fingerprint": dict(fingerprint)}
    if not dataset_changed(previous, fingerprint):
        return TriggerCheck(False, new_state)
    return TriggerCheck(True, new_state, {"dataset": trigger.dataset, **changed_files(previous, fingerprint)})


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


# ---------------------------------------------------------------------------------------------
# state


class TriggerStateStore:
    """Trigger states in `mlmon.trigger_state`, one row per (scenario, trigger).

    The table must exist (`mlmon.warehouse.tables.create_statements()`). Only the process
    holding the scenario's lock writes its triggers' state, so UPDATE-or-INSERT cannot race.
    """

    def __init__(self, con: Any):
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
        when = _aware(updated_at or datetime.now(timezone.utc)).astimezone(timezone.utc).replace(tzinfo=None)
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
