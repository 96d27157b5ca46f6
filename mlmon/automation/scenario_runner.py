"""Run one scenario: its steps in order on one warehouse connection, each run and step recorded
in `mlmon.scenario_runs` / `mlmon.scenario_steps`, then its reporters.

A run holds the scenario's lock (target/locks/<scenario>.lock) from start to end and opens the
warehouse once: every build step shares that connection, so a step never finds the file locked
by its own run. A run's row is written when it starts, with outcome RUNNING and the PID and host
of its process, and always completed when it ends, whatever went wrong; a RUNNING row left by a
process that died is shown ABORTED by `scenario list`/`history` (mlmon.automation.liveness) and
marked so by the next run of that scenario (which holds the lock, so it knows no other run is live).

Reporters run after the warehouse is closed: a slow webhook never holds the write lock. What
they report as failed is then added to the run's row in a short second write.

Steps are rendered with the vars in force when each starts: the command's `--vars`, then every
`set_vars` step before it. A change of vars recompiles the project, so what a build reads
(file datasets named after `month`, say) follows the vars as it does for `mlmon build --vars`.
"""

from __future__ import annotations

import json
import os
import uuid
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Mapping

from mlmon.automation.failed_nodes import FailedNodes
from mlmon.automation.liveness import this_host
from mlmon.automation.locks import scenario_lock
from mlmon.automation.outcomes import (SKIPPED, Outcome, RunRecord, RunState, StepRecord, parse_run_if, skip_reason,
                                       step_outcome_from_statuses)
from mlmon.automation.reporters import Reporter, parse_reporter, redact, report_all
from mlmon.automation.triggers import MANUAL_TRIGGER
from mlmon.chaos import pause_point
from mlmon.config import RunConfig
from mlmon.errors import ConfigError, Location, MlmonError, UsageError, did_you_mean
from mlmon.nodes.base import Node
from mlmon.nodes.scenarios import Step, checks_for, render, scenario_steps
from mlmon.project.compiler import compile_project
from mlmon.project.project import Project
from mlmon.run.progress import Progress
from mlmon.run.results import RunResults
from mlmon.run.runner import build as run_build, plan
from mlmon.warehouse.duckdb import Warehouse
from mlmon.warehouse.tables import SYSTEM_SCHEMA

__all__ = ["RUNNING", "NESTED_TRIGGER", "run_scenario", "scenario_node", "build_reporters", "exit_code", "lock_dir"]

RUNNING = "RUNNING"  # scenario_runs.outcome while a run is in progress
NESTED_TRIGGER = "run_scenario"  # the trigger of a run started by another scenario's step
_MESSAGE_CHARS = 2000


def lock_dir(project: Project) -> Path:
    return project.settings.target_dir / "locks"


def exit_code(outcome: Outcome) -> int:
    """0 for SUCCESS and WARNING, 1 for FAILED and ABORTED."""
    return 0 if outcome in (Outcome.SUCCESS, Outcome.WARNING) else 1


def scenario_node(project: Project, name: str) -> Node:
    node = project.nodes.get(name)
    if node is None or node.type != "scenario":
        scenarios = [n.name for n in project.nodes.values() if n.type == "scenario"]
        what = f"'{name}' is a {node.type}, not a scenario" if node else f"no scenario named '{name}'"
        raise UsageError(what, hint=did_you_mean(name, scenarios) or (
            f"scenarios: {', '.join(sorted(scenarios))}" if scenarios else "declare one under `scenarios:`"))
    return node


def run_scenario(
    project: Project,
    name: str,
    *,
    trigger: str = MANUAL_TRIGGER,
    trigger_params: Mapping[str, Any] | None = None,
    progress: Progress | None = None,
    warehouse: Warehouse | None = None,
    locked: bool = False,
    debug: bool = False,
    close_warehouse: bool | None = None,
    strict_upstream: bool = False,
) -> RunRecord:
    """Run scenario `name` of `project` (compiled with the vars the run starts from).

    `locked=True` when the caller already holds the scenario's lock (the scheduler does);
    otherwise ScenarioBusyError if another run holds it. `warehouse` shares a connection the
    caller has open; `close_warehouse` (the default when mlmon opens it here) closes it once the
    steps are done, before the reporters run, so that they never hold the write lock.
    """
    scenario_node(project, name)
    session = _Session(project, progress or Progress(), debug, strict_upstream)
    with ExitStack() as stack:
        if not locked:
            stack.enter_context(scenario_lock(lock_dir(project), name))
        if close_warehouse is None:
            close_warehouse = warehouse is None
        session.warehouse = warehouse if warehouse is not None else project.open_warehouse()
        try:
            return session.run(name, dict(project.settings.vars), trigger, dict(trigger_params or {}), stack=())
        finally:
            if close_warehouse:
                session.warehouse.close()
            session.report_all(reopen=close_warehouse)


@dataclass
class _Session:
    """One `run_scenario` call: the warehouse, and the project compiled for each set of vars."""

    project: Project
    progress: Progress
    debug: bool
    strict_upstream: bool = False  # build steps refuse upstream tables built for other vars
    warehouse: Warehouse | None = None
    _projects: dict[str, Project] = field(default_factory=dict)
    _finished: list[tuple[str, dict[str, Any], RunRecord]] = field(default_factory=list)  # runs to report

    def project_for(self, vars: Mapping[str, Any]) -> Project:
        if dict(vars) == dict(self.project.settings.vars):
            return self.project
        key = json.dumps(vars, sort_keys=True, default=str)
        if key not in self._projects:
            self._projects[key] = compile_project(RunConfig(project_dir=self.project.root, vars=vars, target=self.project.target.name))
        return self._projects[key]

    @property
    def wh(self) -> Warehouse:
        assert self.warehouse is not None
        return self.warehouse

    # -- a run --------------------------------------------------------------------------------

    def run(self, name: str, vars: dict[str, Any], trigger: str, params: dict[str, Any], stack: tuple[str, ...]) -> RunRecord:
        record = RunRecord(uuid.uuid4().hex, name, trigger, Outcome.SUCCESS, _now(), trigger_params=params or None,
                           pid=os.getpid(), host=this_host())
        self._mark_abandoned(name)
        self.wh.insert_rows("scenario_runs", [{**record.row(), "outcome": RUNNING}])
        self.progress.log(f"scenario {name} run {record.run_id[:8]} started (trigger {trigger})", style="bold")
        state = RunState()
        interrupted: BaseException | None = None
        try:
            interrupted = self._steps(name, vars, record, state, FailedNodes(), stack)
        except BaseException:  # a bug in mlmon itself: the run still ends, ABORTED
            state.record(Outcome.ABORTED)
            raise
        finally:
            record.outcome = state.outcome
            record.ended_at = _now()
            self._finalise(record)
            self._finished.append((name, dict(vars), record))
        if interrupted is not None:
            raise interrupted
        return record

    def _steps(self, name: str, vars: dict[str, Any], record: RunRecord, state: RunState, failed: FailedNodes,
               stack: tuple[str, ...]) -> BaseException | None:
        """Run the steps in order; the KeyboardInterrupt that stopped them, if one did.

        A step runs when its `run_if` holds and it builds nothing that depends on a node that
        failed in an earlier step (`failed`); only then does its `reset_failure_state` apply."""
        count = len(self.project_for(vars).nodes[name].config.get("steps") or [])
        for index in range(count):
            started = _now()
            try:
                step = scenario_steps(self.project_for(vars), self.project_for(vars).nodes[name])[index]
            except MlmonError as exc:
                step_record = StepRecord(f"step_{index + 1}", "unknown", str(Outcome.FAILED), _clip(str(exc)), started, _now())
                state.record(Outcome.FAILED)
                self._finish_step(record, step_record, index, count)
                continue
            reason = None if state.should_run(step.run_if) else skip_reason(parse_run_if(step.run_if), state.outcome)
            reason = reason or self._blocked(step, vars, failed)
            if reason is not None:
                self._finish_step(record, StepRecord(step.name, step.kind, SKIPPED, reason, started, started), index, count)
                continue
            if step.reset_failure_state:
                state.reset()
            self.progress.log(f"  step {index + 1} of {count}: {step.name} [{step.kind}]")
            interrupted: BaseException | None = None
            try:
                pause_point("scenario_step_running")
                outcome, message = self._execute(step, vars, record, failed, stack + (name,))
            except KeyboardInterrupt as exc:
                interrupted = exc
                outcome, message = Outcome.ABORTED, "interrupted"
            except MlmonError as exc:
                outcome, message = Outcome.FAILED, str(exc)
            except Exception as exc:  # a step's failure is the run's business, not the caller's
                outcome, message = Outcome.FAILED, f"{type(exc).__name__}: {exc}"
            state.record(outcome)
            self._finish_step(record, StepRecord(step.name, step.kind, str(outcome), _clip(message), started, _now()), index, count)
            if interrupted is not None:
                return interrupted
        return None

    def _finalise(self, record: RunRecord) -> None:
        """Write the run's outcome; never raises (the PID check still shows a dead run ABORTED)."""
        try:
            self.wh.con.execute(
                f"UPDATE {SYSTEM_SCHEMA}.scenario_runs SET outcome = ?, ended_at = ? WHERE run_id = ?",
                [str(record.outcome), record.row()["ended_at"], record.run_id])
        except Exception as exc:
            self.progress.warn(f"scenario {record.scenario} run {record.run_id[:8]}: its outcome could not be "
                               f"recorded: {type(exc).__name__}: {exc}")
        seconds = (record.ended_at - record.started_at).total_seconds() if record.ended_at else 0.0
        self.progress.log(f"scenario {record.scenario} run {record.run_id[:8]}: {record.outcome} in {seconds:.1f}s",
                          style=_STYLE[record.outcome])

    def _finish_step(self, record: RunRecord, step: StepRecord, index: int, count: int) -> None:
        record.steps.append(step)
        self.wh.insert_rows("scenario_steps", [step.row(record.run_id)])
        detail = f" — {step.message}" if step.message and step.outcome != str(Outcome.SUCCESS) else ""
        style = "yellow" if step.skipped else _STYLE[Outcome.parse(step.outcome)]
        self.progress.log(f"  step {index + 1} of {count}: {step.outcome} {step.name}{detail}", style=style)

    def _mark_abandoned(self, name: str) -> None:
        self.wh.con.execute(
            f"UPDATE {SYSTEM_SCHEMA}.scenario_runs SET outcome = ?, message = ? WHERE scenario = ? AND outcome = ?",
            [str(Outcome.ABORTED), "the process running it stopped before the run ended", name, RUNNING])

    # -- steps --------------------------------------------------------------------------------

    def _execute(self, step: Step, vars: dict[str, Any], record: RunRecord, failed: FailedNodes,
                 stack: tuple[str, ...]) -> tuple[Outcome, str]:
        project = self.project_for(vars)
        if step.kind in _BUILDS:
            select = _selection(project, step)
            if not select:
                return Outcome.SUCCESS, f"no check reads {step.value}"
            return self._build(project, vars, select, record, step, failed)
        if step.kind == "sql":
            self.wh.con.execute(step.value)
            return Outcome.SUCCESS, "statement ran"
        if step.kind == "set_vars":
            # Compiled before they are kept: vars that break the project fail this step only.
            self.project_for({**vars, **step.value})
            vars.update(step.value)
            return Outcome.SUCCESS, "vars now " + ", ".join(f"{k}={v}" for k, v in sorted(vars.items(), key=lambda kv: str(kv[0])))
        return self._nested(step, vars, record, stack)

    def _blocked(self, step: Step, vars: dict[str, Any], failed: FailedNodes) -> str | None:
        """Why a build step must not run after an earlier step's failure (None: it may run).
        A step whose selection cannot be resolved runs, to fail with the resolver's message."""
        if step.kind not in _BUILDS or not failed.by_node:
            return None
        try:
            project = self.project_for(vars)
            select = _selection(project, step)
            planned = plan(project, RunConfig(project_dir=project.root, vars=vars, select=select)) if select else []
        except MlmonError:
            return None
        return failed.blocking(planned, project.dag)

    def _build(self, project: Project, vars: dict[str, Any], select: tuple[str, ...], record: RunRecord,
               step: Step, failed: FailedNodes) -> tuple[Outcome, str]:
        config = RunConfig(project_dir=project.root, vars=vars, select=select, strict_upstream=self.strict_upstream, args={
            "command": "scenario run", "scenario": record.scenario, "run_id": record.run_id, "step": step.name})
        results = run_build(project, config, self.progress, debug=self.debug, warehouse=self.wh)
        failed.record(step.name, results.results)
        if not results.results:
            return Outcome.SUCCESS, "nothing to build"
        return step_outcome_from_statuses(r.status for r in results.results), _summary(results)

    def _nested(self, step: Step, vars: dict[str, Any], record: RunRecord, stack: tuple[str, ...]) -> tuple[Outcome, str]:
        child = step.value
        if child in stack:
            return Outcome.FAILED, f"refusing to run {child} inside itself: {' -> '.join((*stack, child))}"
        project = self.project_for(vars)
        scenario_node(project, child)
        params = {"parent_scenario": record.scenario, "parent_run_id": record.run_id, "parent_step": step.name}
        with scenario_lock(lock_dir(project), child):
            nested = self.run(child, dict(vars), NESTED_TRIGGER, params, stack)
        return nested.outcome, f"run {nested.run_id} of {child}: {nested.outcome}"

    # -- reporters ----------------------------------------------------------------------------

    def report_all(self, reopen: bool) -> None:
        """Send every finished run to its reporters, then record their failures on the run rows,
        on the shared connection or (`reopen`) on the warehouse opened again for a moment."""
        notes = {}
        for name, vars, record in self._finished:
            lines = self._report(name, vars, record)
            if lines:
                record.message = _clip("; ".join(lines))
                notes[record.run_id] = record.message
        self._finished.clear()
        if not notes:
            return
        try:
            if reopen:
                with self.project.open_warehouse() as warehouse:
                    _store_messages(warehouse, notes)
            else:
                _store_messages(self.wh, notes)
        except Exception as exc:  # the run's outcome is stored already
            self.progress.warn(f"reporter failures not recorded in mlmon.scenario_runs: {exc}")

    def _report(self, name: str, vars: dict[str, Any], record: RunRecord) -> list[str]:
        """Send the run to the scenario's reporters; what went wrong, as lines free of secrets."""
        try:
            project = self.project_for(vars)
        except MlmonError:
            project = self.project
        reporters, notes, skipped = build_reporters(project, project.nodes[name])
        for note in [*skipped, *notes]:
            self.progress.warn(note)
        for result in report_all(reporters, record):
            if not result.ok:  # the reporter has logged it already, redacted
                notes.append(f"reporter {result.reporter} failed: {result.error}")
        return notes


def _store_messages(warehouse: Warehouse, messages: Mapping[str, str]) -> None:
    warehouse.modified = True  # published on close, like every other write
    for run_id, message in messages.items():
        warehouse.con.execute(f"UPDATE {SYSTEM_SCHEMA}.scenario_runs SET message = ? WHERE run_id = ?", [message, run_id])


def build_reporters(project: Project, node: Node) -> tuple[list[Reporter], list[str], list[str]]:
    """The scenario's reporters rendered now (env vars are read here, never stored), the errors
    of those that cannot be rendered or parsed, and the webhooks skipped because their url
    renders empty (the way to switch one off). No line quotes a rendered value."""
    reporters: list[Reporter] = []
    notes: list[str] = []
    skipped: list[str] = []
    base = node.location("reporters")
    for index, spec in enumerate(node.config.get("reporters") or [], 1):
        line = getattr(spec, "line", None)
        where = Location(base.path, line) if line else base
        kind = spec.get("type") if isinstance(spec, Mapping) else None
        label = f"reporter {index} ({kind})"
        with project.renderer.env_reads() as secrets:
            try:
                rendered = render(project, spec, where)
            except ConfigError as exc:
                notes.append(f"{label} skipped: {redact(exc.message, secrets)}")
                continue
            except Exception as exc:  # a macro's bug: this reporter only
                notes.append(f"{label} skipped: {redact(f'{type(exc).__name__}: {exc}', secrets)}")
                continue
        if kind == "webhook" and not str(rendered.get("url") or "").strip():
            skipped.append(f"{label} skipped: its url is empty")
            continue
        try:
            reporters.append(parse_reporter(rendered, location=where, base_dir=project.root, secrets=secrets))
        except ConfigError as exc:
            notes.append(f"{label} skipped: {redact(exc.message, secrets)} ({where})")
        except Exception as exc:
            notes.append(f"{label} skipped: {redact(f'{type(exc).__name__}: {exc}', secrets)} ({where})")
    return reporters, notes, skipped


_BUILDS = ("build", "run_checks", "train")  # the step kinds that build a selection of nodes


def _selection(project: Project, step: Step) -> tuple[str, ...]:
    """What a build, run_checks or train step selects (empty: a store no check reads)."""
    return tuple(checks_for(project, step.value)) if step.kind == "run_checks" else (step.value,)


def _summary(results: RunResults) -> str:
    counts = ", ".join(f"{n} {s}" for s, n in sorted(results.counts().items()))
    shown = [r for r in results.results if r.status != "success"] if len(results.results) > 3 else results.results
    details = "; ".join(f"{r.node} {r.status}" + (f": {r.message.splitlines()[0]}" if r.message else "") for r in shown)
    return f"{counts}" + (f" — {details}" if details else "")


def _clip(text: str) -> str:
    return text if len(text) <= _MESSAGE_CHARS else text[: _MESSAGE_CHARS - 1] + "…"


def _now() -> datetime:
    return datetime.now(timezone.utc)


_STYLE: dict[Outcome, str] = {Outcome.SUCCESS: "green", Outcome.WARNING: "yellow", Outcome.FAILED: "red", Outcome.ABORTED: "red bold"}
