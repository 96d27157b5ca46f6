"""Step and run outcomes, `run_if` conditions, and the records a scenario run leaves behind.

Outcomes are ordered SUCCESS < WARNING < FAILED < ABORTED, as in Dataiku: a run's outcome is the
worst outcome of the steps that ran since the last `reset_failure_state`.

A step that does not run (its `run_if` is false) is recorded with the outcome string
``"SKIPPED"`` in `mlmon.scenario_steps`, never NULL, so history queries can tell "did not run"
from "no data". SKIPPED is not an `Outcome`: it never changes the run's outcome.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime, timezone
from enum import StrEnum
from typing import Any, Final, Iterable, Literal, Mapping

from mlmon.errors import ConfigError, Location, did_you_mean

__all__ = [
    "Outcome",
    "SKIPPED",
    "StepOutcome",
    "worst",
    "RunIf",
    "RunIfKind",
    "RUN_IF_KINDS",
    "DEFAULT_RUN_IF",
    "parse_run_if",
    "should_run",
    "skip_reason",
    "RunState",
    "step_outcome_from_statuses",
    "StepRecord",
    "RunRecord",
    "isoformat",
]


class Outcome(StrEnum):
    SUCCESS = "SUCCESS"
    WARNING = "WARNING"
    FAILED = "FAILED"
    ABORTED = "ABORTED"

    @property
    def rank(self) -> int:
        return _RANK[self]

    # StrEnum would otherwise compare alphabetically (ABORTED < FAILED < SUCCESS).
    def __lt__(self, other: object) -> bool:
        return self.rank < other.rank if isinstance(other, Outcome) else NotImplemented

    def __le__(self, other: object) -> bool:
        return self.rank <= other.rank if isinstance(other, Outcome) else NotImplemented

    def __gt__(self, other: object) -> bool:
        return self.rank > other.rank if isinstance(other, Outcome) else NotImplemented

    def __ge__(self, other: object) -> bool:
        return self.rank >= other.rank if isinstance(other, Outcome) else NotImplemented

    @classmethod
    def parse(cls, value: str | Outcome) -> Outcome:
        """An outcome from its name, case-insensitively; ValueError for anything else."""
        if isinstance(value, Outcome):
            return value
        if isinstance(value, str):
            try:
                return cls[value.strip().upper()]
            except KeyError:
                pass
        raise ValueError(f"unknown outcome {value!r}: expected one of {', '.join(cls.__members__)}")


_RANK: Final[dict[Outcome, int]] = {o: i for i, o in enumerate(Outcome)}

SKIPPED: Final = "SKIPPED"
StepOutcome = Outcome | Literal["SKIPPED"]


def worst(*outcomes: Outcome | None) -> Outcome:
    """The worst of the given outcomes (None entries ignored); SUCCESS when there are none."""
    present = [o for o in outcomes if o is not None]
    return max(present, key=lambda o: o.rank) if present else Outcome.SUCCESS


# ---------------------------------------------------------------------------------------------
# run_if

RunIfKind = Literal["never", "no_prior_failed", "prior_failed", "always", "outcome_in"]
RUN_IF_KINDS: Final[tuple[str, ...]] = ("never", "no_prior_failed", "prior_failed", "always", "outcome_in")


@dataclass(frozen=True)
class RunIf:
    """A step's condition on the run's current outcome.

    `prior_failed` means exactly FAILED: an ABORTED run is stopping, and only `always` or an
    explicit `outcome_in: [ABORTED]` still runs a step in it.
    """

    kind: RunIfKind = "no_prior_failed"
    outcomes: frozenset[Outcome] = frozenset()  # only for outcome_in

    def should_run(self, current: Outcome) -> bool:
        if self.kind == "never":
            return False
        if self.kind == "always":
            return True
        if self.kind == "no_prior_failed":
            return current in (Outcome.SUCCESS, Outcome.WARNING)
        if self.kind == "prior_failed":
            return current is Outcome.FAILED
        return current in self.outcomes

    def to_config(self) -> str | dict[str, list[str]]:
        """The YAML form, for the manifest and docs."""
        if self.kind == "outcome_in":
            return {"outcome_in": sorted((str(o) for o in self.outcomes), key=lambda o: Outcome(o).rank)}
        return self.kind

    def __str__(self) -> str:
        if self.kind == "outcome_in":
            return "outcome_in: [" + ", ".join(self.to_config()["outcome_in"]) + "]"  # type: ignore[index]
        return self.kind


DEFAULT_RUN_IF: Final = RunIf()


def parse_run_if(value: Any, *, location: Location | None = None) -> RunIf:
    """A `run_if` value from YAML: a condition name, `{outcome_in: [...]}`, or None (default)."""
    if value is None:
        return DEFAULT_RUN_IF
    if isinstance(value, RunIf):
        return value
    if isinstance(value, str):
        name = value.strip()
        if name in RUN_IF_KINDS and name != "outcome_in":
            return RunIf(name)  # type: ignore[arg-type]
        names = [k for k in RUN_IF_KINDS if k != "outcome_in"]
        raise ConfigError(
            f"unknown run_if {value!r}: expected one of {', '.join(names)} or {{outcome_in: [...]}}",
            location=location,
            hint=did_you_mean(name, names),
        )
    if isinstance(value, Mapping):
        if set(value) != {"outcome_in"}:
            extra = sorted(str(k) for k in value if k != "outcome_in")
            raise ConfigError(
                f"run_if mapping takes only 'outcome_in', got {', '.join(extra) or 'nothing'}",
                location=location,
                hint=did_you_mean(extra[0], ["outcome_in"]) if extra else None,
            )
        listed = value["outcome_in"]
        if isinstance(listed, str):
            listed = [listed]
        if not isinstance(listed, list) or not listed:
            raise ConfigError("run_if outcome_in needs a non-empty list of outcomes", location=location)
        outcomes: set[Outcome] = set()
        for item in listed:
            try:
                outcomes.add(Outcome.parse(item))
            except ValueError as exc:
                hint = did_you_mean(str(item).upper(), Outcome.__members__) if isinstance(item, str) else None
                raise ConfigError(f"run_if outcome_in: {exc}", location=location, hint=hint) from None
        return RunIf("outcome_in", frozenset(outcomes))
    raise ConfigError(
        f"run_if must be a condition name or {{outcome_in: [...]}}, got {type(value).__name__}",
        location=location,
    )


def should_run(run_if: RunIf | str | Mapping[str, Any] | None, current_outcome: Outcome | str) -> bool:
    """Whether a step with this condition runs when the run's outcome is `current_outcome`."""
    return parse_run_if(run_if).should_run(Outcome.parse(current_outcome))


def skip_reason(run_if: RunIf, current: Outcome) -> str:
    """Why a step whose condition is false did not run, in words a user can act on.

    A WARNING run skips a `prior_failed` step: that is the usual surprise (a retrain `on:
    [ERROR, WARNING]` that never runs), so the message names the condition that would run it.
    """
    if run_if.kind == "never":
        return "skipped: run_if never"
    if run_if.kind == "prior_failed":
        if current in (Outcome.SUCCESS, Outcome.WARNING):
            text = f"skipped: run_if prior_failed, and no prior step failed — the run is {current}"
            if current is Outcome.WARNING:
                text += " (run_if: {outcome_in: [WARNING, FAILED]} runs it on a WARNING too)"
            return text
        return f"skipped: run_if prior_failed, and the run is {current}"
    if run_if.kind == "no_prior_failed":
        return f"skipped: run_if no_prior_failed, and a prior step failed — the run is {current}"
    return f"skipped: run_if {run_if}, and the run is {current}"


# ---------------------------------------------------------------------------------------------
# the run's outcome


@dataclass
class RunState:
    """The outcome of a run in progress.

    The runner asks `begin_step` for each step; when it returns True it runs the step and
    passes the step's outcome to `record`, otherwise it records the step as SKIPPED.
    """

    outcome: Outcome = Outcome.SUCCESS

    def should_run(self, run_if: RunIf | str | Mapping[str, Any] | None) -> bool:
        return parse_run_if(run_if).should_run(self.outcome)

    def begin_step(self, run_if: RunIf | str | Mapping[str, Any] | None, *, reset_failure_state: bool = False) -> bool:
        """Decide whether the next step runs; apply its `reset_failure_state` if it does.

        The condition sees the outcome before the reset (so `prior_failed` + reset runs a
        recovery step), and a skipped step resets nothing.
        """
        runs = self.should_run(run_if)
        if runs and reset_failure_state:
            self.reset()
        return runs

    def record(self, step_outcome: Outcome | str | None) -> Outcome:
        """Escalate with a finished step's outcome (worst wins); SKIPPED or None changes nothing."""
        if step_outcome is not None and step_outcome != SKIPPED:
            self.outcome = worst(self.outcome, Outcome.parse(step_outcome))
        return self.outcome

    def reset(self) -> None:
        self.outcome = Outcome.SUCCESS


# Node statuses (success, reused, error, fail, warn, skipped) and check statuses (OK, WARNING,
# ERROR, EMPTY) share this table: the vocabularies do not overlap once lower-cased.
_STATUS_OUTCOME: Final[dict[str, Outcome]] = {
    "success": Outcome.SUCCESS,
    "reused": Outcome.SUCCESS,
    "ok": Outcome.SUCCESS,
    "warn": Outcome.WARNING,
    "warning": Outcome.WARNING,
    # a check whose metric is absent checked nothing: worth a look, not a failure
    "empty": Outcome.WARNING,
    "error": Outcome.FAILED,
    "fail": Outcome.FAILED,
    # a node skipped in a build was skipped because something upstream of it broke
    "skipped": Outcome.FAILED,
}


def step_outcome_from_statuses(statuses: Iterable[str]) -> Outcome:
    """A step's outcome from the node or check statuses it produced: the worst one wins.

    A check ERROR fails the step and a WARNING makes it WARNING, as the spec says; nothing to do
    is SUCCESS.
    """
    outcome = Outcome.SUCCESS
    for status in statuses:
        try:
            mapped = _STATUS_OUTCOME[status.lower()]
        except (KeyError, AttributeError):
            raise ValueError(f"unknown node or check status {status!r}") from None
        outcome = worst(outcome, mapped)
    return outcome


# ---------------------------------------------------------------------------------------------
# records


def isoformat(value: datetime | None) -> str | None:
    """ISO 8601 with an offset; naive datetimes are UTC, as the warehouse stores them."""
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    return value.isoformat()


def _naive_utc(value: datetime | None) -> datetime | None:
    # DuckDB TIMESTAMP has no zone: the system tables hold UTC.
    if value is None or value.tzinfo is None:
        return value
    return value.astimezone(timezone.utc).replace(tzinfo=None)


@dataclass
class StepRecord:
    """One step of a run as it ended; `outcome` is an Outcome name or SKIPPED."""

    name: str
    kind: str  # build | run_checks | train | ... (the step's action key)
    outcome: str
    message: str | None = None
    started_at: datetime | None = None
    ended_at: datetime | None = None

    @property
    def skipped(self) -> bool:
        return self.outcome == SKIPPED

    def payload(self) -> dict[str, Any]:
        """What reporters send about this step."""
        return {"name": self.name, "kind": self.kind, "outcome": str(self.outcome), "message": self.message}

    def row(self, run_id: str) -> dict[str, Any]:
        """A `mlmon.scenario_steps` row keyed by column name."""
        return {
            "run_id": run_id,
            "step": self.name,
            "kind": self.kind,
            "outcome": str(self.outcome),
            "started_at": _naive_utc(self.started_at),
            "ended_at": _naive_utc(self.ended_at),
            "message": self.message,
        }


@dataclass
class RunRecord:
    """A scenario run: what reporters receive and what `mlmon.scenario_runs` stores."""

    run_id: str
    scenario: str
    trigger: str | None
    outcome: Outcome
    started_at: datetime
    ended_at: datetime | None = None
    steps: list[StepRecord] = field(default_factory=list)
    trigger_params: dict[str, Any] | None = None
    message: str | None = None

    def payload(self) -> dict[str, Any]:
        """The JSON document reporters send (times in ISO 8601 with offset)."""
        return {
            "scenario": self.scenario,
            "run_id": self.run_id,
            "trigger": self.trigger,
            "outcome": str(self.outcome),
            "started_at": isoformat(self.started_at),
            "ended_at": isoformat(self.ended_at),
            "steps": [s.payload() for s in self.steps],
        }

    def row(self) -> dict[str, Any]:
        """A `mlmon.scenario_runs` row keyed by column name."""
        return {
            "run_id": self.run_id,
            "scenario": self.scenario,
            "trigger": self.trigger,
            "started_at": _naive_utc(self.started_at),
            "ended_at": _naive_utc(self.ended_at),
            "outcome": str(self.outcome),
            "trigger_params": None if self.trigger_params is None else json.dumps(self.trigger_params, sort_keys=True, default=str),
            "message": self.message,
        }

    def step_rows(self) -> list[dict[str, Any]]:
        return [s.row(self.run_id) for s in self.steps]
