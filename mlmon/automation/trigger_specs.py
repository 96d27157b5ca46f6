"""Trigger declarations: the four trigger kinds a scenario's YAML can name, and their parsing.

A trigger's `signature` identifies its definition (not its name), so the state saved for it can
tell when the YAML changed underneath: a changed signature restarts the trigger's baseline.
`TriggerCheck` is what every kind's check returns (see `mlmon.automation.triggers`).
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, Final, Literal, Mapping
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from croniter import croniter

from mlmon.errors import ConfigError, Location, ProjectErrors, did_you_mean

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
