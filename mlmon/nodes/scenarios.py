"""Scenarios: declared here (validated, shown in docs); run by mlmon.automation, not by build.

`steps`, `triggers` and `reporters` keep their Jinja until use: steps are rendered with the
vars in force when each one starts (a `set_vars` step changes them for the steps after it),
and reporters carry secrets that must never reach target/manifest.json. Compiling still
renders steps and triggers once with the project's vars to check them, and checks reporters
without rendering them (a template stands in for a value that is only known at run time).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final, Mapping

import jinja2

from mlmon.automation.outcomes import RunIf, parse_run_if
from mlmon.automation.reporters import parse_reporter
from mlmon.automation.triggers import DatasetChangedTrigger, SqlChangedTrigger, Trigger, parse_trigger
from mlmon.errors import ConfigError, Location, MlmonError, did_you_mean
from mlmon.graph.selector import select
from mlmon.nodes.base import Field, Node, NodeKind, ProjectView
from mlmon.project.jinja import has_jinja

__all__ = [
    "ScenarioKind",
    "KIND",
    "STEP_KINDS",
    "Step",
    "parse_step",
    "render",
    "scenario_steps",
    "scenario_triggers",
    "checks_for",
]

STEP_KINDS: Final = ("build", "run_checks", "train", "sql", "set_vars", "run_scenario")
_STEP_OPTIONS: Final = ("name", "run_if", "reset_failure_state")
# Stand-ins for reporter values that are templates (env vars, often secrets) when compiling.
_PLACEHOLDERS: Final[dict[str, Any]] = {"url": "https://mlmon.invalid/", "timeout": 1, "retries": 1, "backoff": 1}


@dataclass(frozen=True)
class Step:
    """One step as declared: its action (`kind` and `value`) and when it runs."""

    name: str
    kind: str  # one of STEP_KINDS
    value: Any
    run_if: RunIf
    reset_failure_state: bool
    location: Location


def _line(spec: Any, fallback: Location) -> Location:
    line = getattr(spec, "line", None)
    return Location(fallback.path, line) if line else fallback


def parse_step(spec: Any, index: int, location: Location) -> Step:
    """One step from its (rendered) mapping; the shape only, not what it names."""
    if not isinstance(spec, Mapping):
        raise ConfigError(f"a step must be a mapping such as {{name: build_mes, build: my_store}}, got {spec!r}",
                          location=location)
    actions = [k for k in STEP_KINDS if k in spec]
    unknown = [str(k) for k in spec if k not in STEP_KINDS and k not in _STEP_OPTIONS]
    if unknown:
        raise ConfigError(f"unknown key '{unknown[0]}' in a step", location=location,
                          hint=did_you_mean(unknown[0], STEP_KINDS + _STEP_OPTIONS)
                          or f"a step has one of {', '.join(STEP_KINDS)}")
    if len(actions) != 1:
        what = "no action" if not actions else f"both {actions[0]} and {actions[1]}"
        raise ConfigError(f"a step needs exactly one of {', '.join(STEP_KINDS)}; this one has {what}",
                          location=location)
    kind = actions[0]
    value = spec[kind]
    if kind == "set_vars":
        if not isinstance(value, Mapping) or not value:
            raise ConfigError("set_vars takes a mapping of vars, e.g. {month: '2017_05'}", location=location)
        value = dict(value)
    elif not isinstance(value, str) or not value.strip():
        raise ConfigError(f"{kind} takes a non-empty string, got {value!r}", location=location)
    else:
        value = value.strip()
    name = spec.get("name", f"{kind}_{index + 1}")
    if not isinstance(name, str) or not name.strip():
        raise ConfigError(f"a step name must be a non-empty string, got {name!r}", location=location)
    reset = spec.get("reset_failure_state", False)
    if not isinstance(reset, bool):
        raise ConfigError(f"reset_failure_state must be true or false, got {reset!r}", location=location)
    return Step(name.strip(), kind, value, parse_run_if(spec.get("run_if"), location=location), reset, location)


def render(project: "ProjectView", value: Any, where: Location) -> Any:
    """`value` with its Jinja rendered by the project's renderer (its vars), errors at `where`."""
    if isinstance(value, str) and has_jinja(value):
        return project.renderer.render(value, where)
    if isinstance(value, Mapping):
        return {k: render(project, v, where) for k, v in value.items()}
    if isinstance(value, list):
        return [render(project, v, where) for v in value]
    return value


def scenario_steps(project: "ProjectView", node: Node) -> list[Step]:
    """The scenario's steps rendered with the project's vars (raises the first error)."""
    base = node.location("steps")
    steps = []
    for index, spec in enumerate(node.config.get("steps") or []):
        where = _line(spec, base)
        steps.append(parse_step(render(project, spec, where), index, where))
    return steps


def scenario_triggers(project: "ProjectView", node: Node) -> list[Trigger]:
    base = node.location("triggers")
    triggers = []
    for spec in node.config.get("triggers") or []:
        where = _line(spec, base)
        triggers.append(parse_trigger(render(project, spec, where), location=where))
    return triggers


def checks_for(project: "ProjectView", target: str) -> list[str]:
    """The check nodes a `run_checks` value names: a store's checks, or a selection's checks."""
    node = project.nodes.get(target)
    if node is not None and node.type == "evaluation":
        return sorted(n.name for n in project.nodes.values() if n.type == "check" and n.config.get("store") == target)
    chosen = select(target, None, project.nodes, project.dag)
    return sorted(n for n in chosen if project.nodes[n].type == "check")


class ScenarioKind(NodeKind):
    key = "scenarios"
    type = "scenario"
    buildable = False
    fields = (
        Field("triggers", (list,), default=[], render=False, doc="cron / every / dataset_changed / sql_changed"),
        Field("steps", (list,), required=True, render=False,
              doc="build, run_checks, train, sql, set_vars, run_scenario; rendered when each step starts"),
        Field("reporters", (list,), default=[], render=False, doc="rendered at run time: secrets stay out of the manifest"),
    )

    def validate(self, node: Node, project: "ProjectView") -> list[ConfigError]:
        return [*self._validate_steps(node, project), *self._validate_triggers(node, project),
                *self._validate_reporters(node, project)]

    # -- steps --------------------------------------------------------------------------------

    def _validate_steps(self, node: Node, project: "ProjectView") -> list[ConfigError]:
        errors: list[ConfigError] = []
        names: set[str] = set()
        base = node.location("steps")
        specs = node.config.get("steps") or []
        if not specs:
            errors.append(node.error("a scenario needs at least one step", "steps"))
        for index, spec in enumerate(specs):
            where = _line(spec, base)
            try:
                step = parse_step(render(project, spec, where), index, where)
            except MlmonError as exc:
                errors.append(_at(exc, where))
                continue
            if step.name in names:
                errors.append(ConfigError(f"duplicate step name '{step.name}'", location=where))
            names.add(step.name)
            try:
                _check_target(step, node, project)
            except MlmonError as exc:
                errors.append(_at(exc, where))
        cycle = _scenario_cycle(node.name, project)
        if cycle:
            errors.append(node.error(f"scenarios run each other in a loop: {' -> '.join(cycle)}", "steps"))
        return errors

    # -- triggers -----------------------------------------------------------------------------

    def _validate_triggers(self, node: Node, project: "ProjectView") -> list[ConfigError]:
        errors: list[ConfigError] = []
        names: set[str] = set()
        base = node.location("triggers")
        for spec in node.config.get("triggers") or []:
            where = _line(spec, base)
            try:
                trigger = parse_trigger(render(project, spec, where), location=where)
                _check_trigger_target(trigger, project, where)
            except MlmonError as exc:
                errors.append(_at(exc, where))
                continue
            if trigger.name in names:
                errors.append(ConfigError(f"duplicate trigger name '{trigger.name}'", location=where))
            names.add(trigger.name)
        return errors

    # -- reporters ----------------------------------------------------------------------------

    def _validate_reporters(self, node: Node, project: "ProjectView") -> list[ConfigError]:
        errors: list[ConfigError] = []
        base = node.location("reporters")
        for spec in node.config.get("reporters") or []:
            where = _line(spec, base)
            try:
                parse_reporter(_stand_in(spec, project, where), location=where, base_dir=project.root)
            except ConfigError as exc:
                errors.append(exc)
        return errors


def _at(exc: MlmonError, where: Location) -> ConfigError:
    if isinstance(exc, ConfigError) and exc.location is not None:
        return exc
    return ConfigError(exc.message, location=where, hint=exc.hint)


def _check_target(step: Step, scenario: Node, project: "ProjectView") -> None:
    """What a step names must exist and be of the right type."""
    value = step.value
    if step.kind == "build":
        chosen = select(value, None, project.nodes, project.dag)
        if not any(project.kind(n).buildable for n in chosen):
            raise ConfigError(f"build '{value}' selects nothing that can be built", location=step.location)
    elif step.kind == "run_checks":
        target = project.nodes.get(value)
        if target is not None and target.type not in ("evaluation", "check"):
            raise ConfigError(f"run_checks takes an evaluation store or a selection of checks; '{value}' is a {target.type}",
                              location=step.location)
        if not checks_for(project, value):
            raise ConfigError(f"run_checks '{value}': no check reads it", location=step.location,
                              hint="declare a check with `store: " + value + "`" if target is not None else None)
    elif step.kind in ("train", "run_scenario"):
        wanted = "model" if step.kind == "train" else "scenario"
        target = project.nodes.get(value)
        if target is None or target.type != wanted:
            candidates = [n.name for n in project.nodes.values() if n.type == wanted]
            what = f"'{value}' is a {target.type}" if target is not None else f"unknown {wanted} '{value}'"
            raise ConfigError(f"{step.kind}: {what}", location=step.location, hint=did_you_mean(value, candidates))


def _check_trigger_target(trigger: Trigger, project: "ProjectView", where: Location) -> None:
    if isinstance(trigger, DatasetChangedTrigger):
        target = project.nodes.get(trigger.dataset)
        if target is None or target.type != "dataset":
            datasets = [n.name for n in project.nodes.values() if n.type == "dataset"]
            raise ConfigError(f"dataset_changed: unknown dataset '{trigger.dataset}'", location=where,
                              hint=did_you_mean(trigger.dataset, datasets))
        if not target.config.get("files"):
            raise ConfigError(f"dataset_changed: '{trigger.dataset}' is built from SQL or Python, not read from files",
                              location=where, hint="watch the files it reads, or use sql_changed with a query")
    elif isinstance(trigger, SqlChangedTrigger):
        from mlmon.project.sqldeps import parse_sql

        parse_sql(trigger.query, where)


def _scenario_cycle(start: str, project: "ProjectView") -> list[str] | None:
    """A loop of run_scenario steps through `start`, as names, or None."""

    def called(name: str) -> list[str]:
        node = project.nodes.get(name)
        if node is None or node.type != "scenario":
            return []
        return [str(s["run_scenario"]) for s in node.config.get("steps") or []
                if isinstance(s, Mapping) and isinstance(s.get("run_scenario"), str)]

    path = [start]

    def visit(name: str, seen: set[str]) -> list[str] | None:
        for child in called(name):
            if child == start:
                return [*path, child]
            if child in seen:
                continue
            seen.add(child)
            path.append(child)
            found = visit(child, seen)
            if found:
                return found
            path.pop()
        return None

    return visit(start, {start})


def _stand_in(spec: Any, project: "ProjectView", where: Location) -> Any:
    """A reporter spec with its templates checked for syntax and replaced by stand-ins."""
    if not isinstance(spec, Mapping):
        return spec
    out: dict[str, Any] = {}
    for key, value in spec.items():
        if isinstance(value, Mapping):
            value = {k: _stand_in_value(k, v, project, where) for k, v in value.items()}
        out[key] = _stand_in_value(key, value, project, where)
    return out


def _stand_in_value(key: Any, value: Any, project: "ProjectView", where: Location) -> Any:
    if not isinstance(value, str) or not has_jinja(value):
        return value
    try:
        project.renderer.env.parse(value)
    except jinja2.TemplateSyntaxError as exc:
        raise ConfigError(f"Jinja syntax error in reporter {key}: {exc.message}", location=where) from None
    return _PLACEHOLDERS.get(str(key), "placeholder")


KIND = ScenarioKind()
