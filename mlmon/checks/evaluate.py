"""The status rules of checks, as pure functions of a value and a check's configuration.

Bounds are inclusive: a value exactly at `max` passes, a value just above fails. A missing
value (the store has no evaluation, the metric was not computed, or it came out NaN) is EMPTY:
the check checked nothing, which is worth a look but is not evidence of a problem.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Final, Iterable, Mapping, Sequence

if TYPE_CHECKING:  # only the type: the node kinds import this module
    from mlmon.nodes.base import Status

__all__ = [
    "CheckStatus",
    "Bounds",
    "Verdict",
    "BOUND_NAMES",
    "format_value",
    "is_missing",
    "empty",
    "check_bounds",
    "check_values",
    "check_rows",
    "apply_severity",
    "node_status",
    "worst_status",
]

BOUND_NAMES: Final = ("min", "soft_min", "soft_max", "max")
SAMPLE_ROWS: Final = 3  # failing rows quoted in a SQL check's message
_CELL_CHARS: Final = 60


class CheckStatus(StrEnum):
    OK = "OK"
    WARNING = "WARNING"
    ERROR = "ERROR"
    EMPTY = "EMPTY"


@dataclass(frozen=True)
class Bounds:
    min: float | None = None
    soft_min: float | None = None
    soft_max: float | None = None
    max: float | None = None

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> "Bounds":
        return cls(**{b: None if config.get(b) is None else float(config[b]) for b in BOUND_NAMES})

    def describe(self) -> str:
        """`soft_max 0.6, max 0.7`: the bounds that are set, in order."""
        return ", ".join(f"{b} {format_value(getattr(self, b))}" for b in BOUND_NAMES if getattr(self, b) is not None)


@dataclass(frozen=True)
class Verdict:
    status: CheckStatus
    message: str


def format_value(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.6g}"
    return str(value)


def is_missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def empty(reason: str) -> Verdict:
    return Verdict(CheckStatus.EMPTY, reason)


def _crossed(label: str, value: float, sign: str, name: str, bound: float) -> str:
    # Enough digits that a value just past its bound does not print as the bound itself.
    digits = 6
    while digits < 17 and f"{value:.{digits}g}" == f"{bound:.{digits}g}":
        digits += 1
    return f"{label} = {value:.{digits}g} {sign} {name} {format_value(bound)}"


def check_bounds(label: str, value: float | None, bounds: Bounds) -> Verdict:
    """ERROR outside [min, max]; else WARNING outside [soft_min, soft_max]; else OK."""
    if is_missing(value):
        return empty(f"{label} has no value")
    assert value is not None
    value = float(value)
    if bounds.min is not None and value < bounds.min:
        return Verdict(CheckStatus.ERROR, _crossed(label, value, "<", "min", bounds.min))
    if bounds.max is not None and value > bounds.max:
        return Verdict(CheckStatus.ERROR, _crossed(label, value, ">", "max", bounds.max))
    if bounds.soft_min is not None and value < bounds.soft_min:
        return Verdict(CheckStatus.WARNING, _crossed(label, value, "<", "soft_min", bounds.soft_min))
    if bounds.soft_max is not None and value > bounds.soft_max:
        return Verdict(CheckStatus.WARNING, _crossed(label, value, ">", "soft_max", bounds.soft_max))
    return Verdict(CheckStatus.OK, f"{label} = {format_value(value)} (within {bounds.describe()})")


def check_values(label: str, value: float | None, allowed: Iterable[Any]) -> Verdict:
    """OK when the value is one of `allowed` (compared as numbers: metrics are numbers)."""
    if is_missing(value):
        return empty(f"{label} has no value")
    assert value is not None
    options = list(allowed)
    shown = f"{label} = {format_value(float(value))}"
    listed = ", ".join(format_value(v) for v in options)
    if any(float(v) == float(value) for v in options):
        return Verdict(CheckStatus.OK, f"{shown} (in [{listed}])")
    return Verdict(CheckStatus.ERROR, f"{shown} not in [{listed}]")


def _cell(value: Any) -> str:
    text = "NULL" if is_missing(value) else format_value(value)
    return text if len(text) <= _CELL_CHARS else text[: _CELL_CHARS - 1] + "…"


def check_rows(count: int, columns: Sequence[str], sample: Sequence[Sequence[Any]]) -> Verdict:
    """A SQL check: its query returns the failing rows. Zero rows is OK; the message quotes
    the first few so the log says what to fix."""
    if count == 0:
        return Verdict(CheckStatus.OK, "no failing rows")
    quoted = "; ".join(
        "(" + ", ".join(f"{c}={_cell(v)}" for c, v in zip(columns, row)) + ")" for row in sample[:SAMPLE_ROWS]
    )
    noun = "row" if count == 1 else "rows"
    more = f" (first {min(len(sample), SAMPLE_ROWS)})" if count > SAMPLE_ROWS else ""
    return Verdict(CheckStatus.ERROR, f"{count} failing {noun}{more}: {quoted}")


def apply_severity(verdict: Verdict, severity: str) -> Verdict:
    """`severity: warn` keeps a check's failures from failing the build: ERROR becomes WARNING."""
    if severity == "warn" and verdict.status is CheckStatus.ERROR:
        return Verdict(CheckStatus.WARNING, f"{verdict.message} (severity warn)")
    return verdict


_NODE_STATUS: Final[dict[CheckStatus, "Status"]] = {
    CheckStatus.OK: "success",
    CheckStatus.WARNING: "warn",
    CheckStatus.ERROR: "fail",
    # An absent metric is reported, not failed: a store evaluated without ground truth has no
    # roc_auc, and failing the build for it would punish a configuration choice.
    CheckStatus.EMPTY: "warn",
}


# A check of several values (every feature, every period) takes the worst of their statuses.
_SEVERITY_ORDER: Final = (CheckStatus.OK, CheckStatus.EMPTY, CheckStatus.WARNING, CheckStatus.ERROR)


def worst_status(statuses: Iterable[str | CheckStatus]) -> CheckStatus | None:
    """ERROR over WARNING over EMPTY over OK; None for no status at all."""
    ranked = [CheckStatus(s) for s in statuses]
    return max(ranked, key=_SEVERITY_ORDER.index) if ranked else None


def node_status(status: CheckStatus) -> "Status":
    """The node status a check result gives the build (fail = exit code 1)."""
    return _NODE_STATUS[status]
