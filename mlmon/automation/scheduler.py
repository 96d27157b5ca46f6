"""The scheduler: check every scenario's triggers, run the due ones, remember what was seen.

One pass, scenario by scenario (in name order):

1. take the scenario's lock without waiting: if another process runs it, skip it this pass
   (its run will save the trigger state; nothing is run twice);
2. open the warehouse (if another command holds it, try again next pass);
3. check each trigger against its state in `mlmon.trigger_state`; a trigger whose check raises
   (a `sql_changed` query that fails) is logged and left unsaved, so it is checked afresh;
4. save every trigger's new state, then, if any fired, run the scenario once, recorded with
   the first trigger that fired (the others are listed in its trigger_params);
5. close the warehouse (the run does, before its reporters) and release the lock.

The warehouse is open only during a scenario's turn, never while the loop sleeps, so
`mlmon build` and `mlmon show` work between passes. A failing scenario is logged and the pass
goes on. `run_forever` stops between scenarios on SIGINT/SIGTERM (a second signal interrupts
the run in progress) and while sleeping at once.
"""

from __future__ import annotations

import glob
import logging
import signal
import threading
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Mapping

from mlmon.automation.locks import ScenarioBusyError, scenario_lock
from mlmon.automation.outcomes import Outcome
from mlmon.automation.scenario_runner import lock_dir, run_scenario
from mlmon.automation.triggers import Trigger, TriggerStateStore, check_trigger
from mlmon.config import RunConfig
from mlmon.errors import MlmonError, NodeError, WarehouseLockedError
from mlmon.nodes.datasets import dataset_files, resolve_files
from mlmon.nodes.scenarios import scenario_triggers
from mlmon.project.compiler import compile_project
from mlmon.project.project import Project
from mlmon.run.progress import Progress
from mlmon.warehouse.duckdb import Warehouse

__all__ = ["Clock", "ScenarioTurn", "Scheduler", "current_files"]

logger = logging.getLogger("mlmon.automation.scheduler")

Clock = Callable[[], datetime]


def _utc_now() -> datetime:
    return datetime.now(timezone.utc)


def current_files(project: Project, dataset: str) -> list[Path]:
    """The files a dataset names with the current vars. A file that is not there yet is simply
    absent from the fingerprint, so its arrival is a change that fires the trigger."""
    node = project.nodes[dataset]
    try:
        return resolve_files(node, project.root)
    except NodeError:
        found: list[Path] = []
        for pattern in dataset_files(node):
            full = pattern if Path(pattern).is_absolute() else str(project.root / pattern)
            found.extend(sorted(Path(p) for p in glob.glob(full, recursive=True)))
        return found


@dataclass
class ScenarioTurn:
    """What one pass did with one scenario."""

    scenario: str
    status: str  # idle | ran | busy | error
    trigger: str | None = None
    outcome: Outcome | None = None
    message: str = ""


@dataclass
class Scheduler:
    project_dir: Path
    vars: Mapping[str, Any] = field(default_factory=dict)
    target: str | None = None
    clock: Clock = _utc_now
    progress: Progress | None = None
    stop_event: threading.Event = field(default_factory=threading.Event)

    def compile(self) -> Project:
        return compile_project(RunConfig(project_dir=self.project_dir, vars=self.vars, target=self.target))

    # -- one pass -----------------------------------------------------------------------------

    def run_once(self, project: Project | None = None) -> list[ScenarioTurn]:
        """Check every scenario once and run the due ones; compile errors raise (exit code 2)."""
        project = project or self.compile()
        turns = []
        for name in sorted(n.name for n in project.nodes.values() if n.type == "scenario"):
            if self.stop_event.is_set():
                break
            if not project.nodes[name].config.get("triggers"):
                continue
            try:
                turn = self._turn(project, name)
            except Exception as exc:  # one broken scenario must not stop the others
                logger.error("%s: %s", name, exc if isinstance(exc, MlmonError) else f"{type(exc).__name__}: {exc}")
                turn = ScenarioTurn(name, "error", message=str(exc))
            turns.append(turn)
        return turns

    def _turn(self, project: Project, name: str) -> ScenarioTurn:
        try:
            with scenario_lock(lock_dir(project), name):
                try:
                    with project.open_warehouse() as warehouse:
                        return self._check_and_run(project, name, warehouse)
                except WarehouseLockedError as exc:
                    logger.warning("%s: not checked this pass: %s", name, exc.message)
                    return ScenarioTurn(name, "busy", message=exc.message)
        except ScenarioBusyError as exc:
            logger.info("%s: skipped, a run is in progress (%s)", name, exc.message)
            return ScenarioTurn(name, "busy", message=exc.message)

    def _check_and_run(self, project: Project, name: str, warehouse: Warehouse) -> ScenarioTurn:
        store = TriggerStateStore(warehouse.con)
        now = self.clock()
        fired: list[tuple[Trigger, dict[str, Any]]] = []
        for trigger in scenario_triggers(project, project.nodes[name]):
            try:
                check = check_trigger(trigger, store.get(name, trigger.name), now=now, con=warehouse.con,
                                      dataset_files=lambda dataset: current_files(project, dataset), root=project.root)
            except MlmonError as exc:
                logger.error("%s: trigger %s could not be checked: %s", name, trigger.name, exc)
                continue
            store.put(name, trigger.name, check.state, updated_at=now)
            if check.fired:
                fired.append((trigger, check.params))
        if not fired:
            return ScenarioTurn(name, "idle")
        first, params = fired[0]
        params = {**params, **({"also_fired": [t.name for t, _ in fired[1:]]} if len(fired) > 1 else {})}
        logger.info("%s: trigger %s fired, running", name, first.name)
        record = run_scenario(project, name, trigger=first.name, trigger_params=params, progress=self.progress,
                              warehouse=warehouse, locked=True, close_warehouse=True)
        logger.info("%s: run %s ended %s", name, record.run_id, record.outcome)
        return ScenarioTurn(name, "ran", first.name, record.outcome)

    # -- the loop -----------------------------------------------------------------------------

    def run_forever(self, interval: float) -> int:
        """Pass after pass, `interval` seconds apart, until stopped; returns the passes made."""
        passes = 0
        with self._signals():
            while not self.stop_event.is_set():
                try:
                    self.run_once()
                except MlmonError as exc:  # a project being edited: report and try again later
                    logger.error("project not loaded: %s", exc)
                passes += 1
                self.stop_event.wait(interval)
        logger.info("scheduler stopped after %d pass%s", passes, "" if passes == 1 else "es")
        return passes

    def stop(self) -> None:
        self.stop_event.set()

    def _signals(self) -> "_SignalHandlers":
        return _SignalHandlers(self)


class _SignalHandlers:
    """SIGINT/SIGTERM set the stop flag; a second one raises KeyboardInterrupt at once."""

    def __init__(self, scheduler: Scheduler):
        self.scheduler = scheduler
        self.previous: dict[int, Any] = {}

    def _handle(self, signum: int, frame: Any) -> None:
        if self.scheduler.stop_event.is_set():
            raise KeyboardInterrupt
        logger.info("received %s: stopping after the current scenario", signal.Signals(signum).name)
        self.scheduler.stop()

    def __enter__(self) -> "_SignalHandlers":
        if threading.current_thread() is threading.main_thread():
            for signum in (signal.SIGINT, signal.SIGTERM):
                self.previous[signum] = signal.signal(signum, self._handle)
        return self

    def __exit__(self, *exc: object) -> None:
        for signum, handler in self.previous.items():
            signal.signal(signum, handler)

