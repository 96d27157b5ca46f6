"""scenario run|list|history and scheduler: the commands that drive scenarios."""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path
from typing import Any

import click
import pandas as pd

from mlmon.automation.scenario_runner import exit_code, run_scenario, scenario_node
from mlmon.automation.scheduler import Scheduler
from mlmon.automation.triggers import CronTrigger, DatasetChangedTrigger, IntervalTrigger, Trigger
from mlmon.cli import cli
from mlmon.cli.display import print_frame, print_json, stdout
from mlmon.cli.options import project_options, run_config
from mlmon.nodes.scenarios import scenario_triggers
from mlmon.project.compiler import compile_project
from mlmon.project.project import Project
from mlmon.run.progress import Progress

__all__ = ["scenario", "scheduler"]


class _StderrHandler(logging.Handler):
    """Log lines on the stderr of the moment (click's test runner swaps it per invocation)."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            prefix = "" if record.levelno == logging.INFO else f"{record.levelname.lower()}: "
            print(prefix + record.getMessage(), file=sys.stderr, flush=True)
        except Exception:
            self.handleError(record)


def _log_to_stderr(level: int) -> None:
    # Reporters and the scheduler log what went wrong (redacted); show it once, without a traceback.
    logger = logging.getLogger("mlmon")
    if not any(isinstance(h, _StderrHandler) for h in logger.handlers):
        logger.addHandler(_StderrHandler())
    logger.setLevel(level)


@cli.group()
def scenario() -> None:
    """Run scenarios and read their history."""


@scenario.command("run")
@click.argument("name")
@project_options
@click.option("--strict-upstream", is_flag=True,
              help="In build steps, fail a node whose unselected upstream table was built for other vars.")
@click.option("--debug", is_flag=True, help="Show tracebacks of unexpected errors in build steps.")
def scenario_run(name: str, project_dir: Path, vars_text: str | None, target: str | None, strict_upstream: bool,
                 debug: bool) -> None:
    """Run scenario NAME now: exit code 0 for SUCCESS or WARNING, 1 for FAILED or ABORTED."""
    _log_to_stderr(logging.WARNING)
    config = run_config(project_dir, vars_text, target)
    project = compile_project(config)
    params = {"vars": {str(k): project.settings.vars[str(k)] for k in config.vars}} if config.vars else None
    record = run_scenario(project, name, trigger_params=params, progress=Progress(), debug=debug,
                          strict_upstream=strict_upstream)
    raise SystemExit(exit_code(record.outcome))


@scenario.command("list")
@project_options
@click.option("--output", "-o", type=click.Choice(["table", "json"]), default="table", show_default=True)
def scenario_list(project_dir: Path, vars_text: str | None, target: str | None, output: str) -> None:
    """The project's scenarios, their triggers and their last run."""
    project = compile_project(run_config(project_dir, vars_text, target))
    names = sorted(n.name for n in project.nodes.values() if n.type == "scenario")
    last = {row["scenario"]: row for row in _read(project, _LAST_RUNS, [names])} if names else {}
    rows = []
    for name in names:
        node = project.nodes[name]
        run = last.get(name, {})
        rows.append({
            "scenario": name, "triggers": [_describe(t) for t in scenario_triggers(project, node)],
            "steps": len(node.config.get("steps") or []), "last_outcome": run.get("outcome"),
            "last_started_at": run.get("started_at"), "last_trigger": run.get("trigger"),
            "location": f"{node.path}:{node.line}",
        })
    if output == "json":
        print_json(rows)
        return
    if not rows:
        stdout.print("No scenarios in this project.")
        return
    frame = pd.DataFrame([{**r, "triggers": ", ".join(r["triggers"]) or "(manual only)"} for r in rows])
    print_frame(frame.drop(columns=["location"]), title="scenarios")


@scenario.command("history")
@click.argument("name")
@project_options
@click.option("--limit", "-n", default=20, show_default=True, help="Runs to show, newest first.")
@click.option("--output", "-o", type=click.Choice(["table", "json"]), default="table", show_default=True)
def scenario_history(name: str, project_dir: Path, vars_text: str | None, target: str | None, limit: int,
                     output: str) -> None:
    """The last runs of scenario NAME with their steps, newest first."""
    project = compile_project(run_config(project_dir, vars_text, target))
    scenario_node(project, name)
    runs = _read(project, _RUNS, [name, max(limit, 1)])
    steps: dict[str, list[dict[str, Any]]] = {}
    if runs:
        ids = [r["run_id"] for r in runs]
        for step in _read(project, _STEPS.format(marks=", ".join("?" for _ in ids)), ids):
            steps.setdefault(step.pop("run_id"), []).append(step)
    for run in runs:
        run["trigger_params"] = json.loads(run["trigger_params"]) if run.get("trigger_params") else None
        run["steps"] = steps.get(run["run_id"], [])
    if output == "json":
        print_json(runs)
        return
    if not runs:
        stdout.print(f"Scenario {name} has not run yet.")
        return
    frame = pd.DataFrame([{
        "started_at": r["started_at"], "trigger": r["trigger"], "outcome": r["outcome"],
        "seconds": (r["ended_at"] - r["started_at"]).total_seconds() if r["ended_at"] else None,
        "steps": ", ".join(f"{s['step']} {s['outcome']}" for s in r["steps"]),
        "run_id": r["run_id"][:8], "message": r["message"] or "",
    } for r in runs])
    print_frame(frame, title=f"{name}: last {len(runs)} runs")


@cli.command()
@project_options
@click.option("--once", is_flag=True, help="One pass, then exit (to be run by system cron).")
@click.option("--interval", type=click.FloatRange(min=0.1), default=60.0, show_default=True,
              help="Seconds between passes.")
def scheduler(project_dir: Path, vars_text: str | None, target: str | None, once: bool, interval: float) -> None:
    """Fire due triggers and run their scenarios; never runs one scenario twice at once.

    With --once the exit code is 1 when a scenario that ran ended FAILED or ABORTED, or could
    not be checked."""
    _log_to_stderr(logging.INFO)
    config = run_config(project_dir, vars_text, target)
    runner = Scheduler(config.project_dir, config.vars, target=config.target, progress=Progress())
    if not once:
        runner.run_forever(interval)
        return
    turns = runner.run_once()
    bad = [t for t in turns if t.status == "error" or (t.outcome is not None and exit_code(t.outcome))]
    ran = [t for t in turns if t.status == "ran"]
    stdout.print(f"Checked {len(turns)} scenario(s): {len(ran)} ran" + (f", {len(bad)} failed" if bad else ""))
    raise SystemExit(1 if bad else 0)


# -- reading the warehouse ------------------------------------------------------------------------

_RUNS = ('SELECT run_id, scenario, "trigger", trigger_params, started_at, ended_at, outcome, message '
         "FROM mlmon.scenario_runs WHERE scenario = ? ORDER BY started_at DESC, run_id DESC LIMIT ?")
_STEPS = ("SELECT run_id, step, kind, outcome, started_at, ended_at, message FROM mlmon.scenario_steps "
          "WHERE run_id IN ({marks}) ORDER BY started_at, ended_at")
_LAST_RUNS = ('SELECT scenario, outcome, started_at, "trigger" FROM mlmon.scenario_runs WHERE list_contains(?, scenario) '
              "QUALIFY row_number() OVER (PARTITION BY scenario ORDER BY started_at DESC) = 1")


def _read(project: Project, query: str, params: list[Any]) -> list[dict[str, Any]]:
    """Rows from the warehouse, or none when it has not been built yet."""
    if not project.settings.warehouse.exists():
        return []
    with project.open_warehouse(read_only=True) as warehouse:
        if not warehouse.exists("scenario_runs", "mlmon"):
            return []
        cursor = warehouse.con.execute(query, params)
        columns = [d[0] for d in cursor.description or []]
        return [dict(zip(columns, row)) for row in cursor.fetchall()]


def _describe(trigger: Trigger) -> str:
    if isinstance(trigger, CronTrigger):
        zone = f" {trigger.timezone}" if trigger.timezone else ""
        return f"{trigger.name} (cron {trigger.cron}{zone})"
    if isinstance(trigger, IntervalTrigger):
        return f"{trigger.name} (every {trigger.text})"
    if isinstance(trigger, DatasetChangedTrigger):
        return f"{trigger.name} (dataset_changed {trigger.dataset})"
    return f"{trigger.name} (sql_changed)"

