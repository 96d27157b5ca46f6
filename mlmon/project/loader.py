"""Find the project and read its files into raw node declarations (nothing rendered yet)."""

from __future__ import annotations

import ast
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Mapping

from mlmon.config import PROJECT_FILE, ProjectSettings
from mlmon.errors import ConfigError, Location, MlmonError, UsageError, did_you_mean
from mlmon.project.vars import typed_vars
from mlmon.project.yaml_lines import LineDict, load_yaml

__all__ = ["PROJECT_KEYS", "NODE_DIRS", "RawNode", "find_project_root", "load_settings", "discover", "macro_files"]

NODE_DIRS = ("models", "monitors", "checks")
PROJECT_KEYS: dict[str, str] = {  # the keys of mlmon_project.yml and what they mean (docs/reference.md)
    "name": "the project's name (required); part of every node's unique_id in the artifacts",
    "warehouse": "the DuckDB file, relative to the project root (default target/warehouse.duckdb); its stem "
                 "must not be mlmon, main, system, temp or memory",
    "vars": "values for var() in SQL and YAML; --vars overrides them, typed like these defaults",
    "targets": "named places to build: {type: duckdb, path, storage_version} or {type: spark, master, schema, "
               "warehouse_dir, conf}",
    "target": "the default target's name",
    "settings": "tuning values read by node kinds (e.g. drift_sample)",
    "version": "free text, the project's version",
    "description": "free text shown in docs",
}
_SETTINGS_KEYS = tuple(PROJECT_KEYS)


@dataclass
class RawNode:
    """One node as declared: a YAML list entry, a .sql file or a .py file."""

    key: str  # the YAML top-level key, e.g. "datasets"
    data: dict[str, Any]
    path: str
    line: int
    key_lines: dict[str, int] = field(default_factory=dict)
    raw_sql: str | None = None
    python_refs: list[str] | None = None  # .py datasets: names passed to ctx.ref() in the file


def find_project_root(start: Path) -> Path:
    """The nearest folder at or above `start` holding mlmon_project.yml."""
    start = start.resolve()
    for folder in (start, *start.parents):
        if (folder / PROJECT_FILE).is_file():
            return folder
    raise UsageError(
        f"no {PROJECT_FILE} found in {start} or any parent folder",
        hint="run inside a project, pass --project-dir, or create one with `mlmon init DIR`",
    )


def _render_strings(value: Any, renderer: Any, line: int | None) -> Any:
    """Jinja in the project file's string values (env_var(), var()), each at its own line."""
    from mlmon.project.jinja import has_jinja

    if isinstance(value, str):
        return renderer.render(value, Location(PROJECT_FILE, line)) if has_jinja(value) else value
    if isinstance(value, dict):
        lines = getattr(value, "key_lines", {})
        rendered = {k: _render_strings(v, renderer, lines.get(str(k), line)) for k, v in value.items()}
        if isinstance(value, LineDict):  # keep the lines for later errors (e.g. a target's path)
            copy = LineDict(rendered)
            copy.line, copy.key_lines = value.line, value.key_lines
            return copy
        return rendered
    if isinstance(value, list):
        return [_render_strings(v, renderer, line) for v in value]
    return value


def _rendered_project_file(data: LineDict, cli_vars: Mapping[str, Any]) -> tuple[LineDict, dict[str, Any]]:
    """The project file with its Jinja rendered, and its vars typed with the CLI's over them.

    `vars:` values may use env_var() only (a var cannot be defined by another var); the other
    keys may use var() too, e.g. `warehouse: "target/{{ var('env') }}.duckdb"`.
    """
    from mlmon.project.jinja import Renderer

    lines = data.key_lines
    declared = data.get("vars")
    if isinstance(declared, dict):
        declared = _render_strings(declared, Renderer({}), lines.get("vars"))
    project_vars = typed_vars(declared if isinstance(declared, dict) else {}, cli_vars)
    renderer = Renderer(project_vars)
    rendered = LineDict({k: (declared if k == "vars" else _render_strings(v, renderer, lines.get(str(k))))
                         for k, v in data.items()})
    rendered.line, rendered.key_lines = data.line, data.key_lines
    return rendered, project_vars


def load_settings(root: Path, cli_vars: Mapping[str, Any]) -> ProjectSettings:
    data = load_yaml(root / PROJECT_FILE, PROJECT_FILE)
    if not isinstance(data, LineDict):
        raise ConfigError("must be a mapping with at least `name:`", location=Location(PROJECT_FILE, 1))
    data, merged_vars = _rendered_project_file(data, cli_vars)
    lines = data.key_lines
    errors: list[MlmonError] = []
    for key in data:
        if key not in _SETTINGS_KEYS:
            errors.append(ConfigError(
                f"unknown key '{key}'", location=Location(PROJECT_FILE, lines.get(key)),
                hint=did_you_mean(str(key), _SETTINGS_KEYS) or f"allowed: {', '.join(_SETTINGS_KEYS)}",
            ))
    if not isinstance(data.get("name"), str):
        errors.append(ConfigError("`name:` is required", location=Location(PROJECT_FILE, 1)))
    project_vars = data.get("vars") or {}
    if not isinstance(project_vars, dict):
        errors.append(ConfigError("`vars:` must be a mapping", location=Location(PROJECT_FILE, lines.get("vars"))))
        project_vars = {}
    if errors:
        from mlmon.errors import ProjectErrors

        raise ProjectErrors(errors)
    warehouse = Path(str(data.get("warehouse") or "target/warehouse.duckdb"))
    return ProjectSettings(
        name=data["name"],
        root=root,
        warehouse=warehouse if warehouse.is_absolute() else root / warehouse,
        vars=merged_vars,
        targets=dict(data.get("targets") or {}),
        default_target=data.get("target"),
        settings=dict(data.get("settings") or {}),
        key_lines=dict(lines),
    )


def _files(root: Path, folders: Iterable[str], suffixes: tuple[str, ...]) -> list[Path]:
    found: list[Path] = []
    for folder in folders:
        if (root / folder).is_dir():
            found.extend(p for p in (root / folder).rglob("*") if p.suffix in suffixes and p.is_file())
    return sorted(found)


def macro_files(root: Path) -> list[tuple[Path, str]]:
    return [(p, p.relative_to(root).as_posix()) for p in _files(root, ["macros"], (".sql",))]


def _python_refs(source: str, display: str) -> list[str] | None:
    """Names given to `<anything>.ref("x")` in a .py file, or None if it defines no dataset()."""
    try:
        tree = ast.parse(source)
    except SyntaxError as exc:
        raise ConfigError(f"Python syntax error: {exc.msg}", location=Location(display, exc.lineno, exc.offset)) from None
    if not any(isinstance(n, ast.FunctionDef) and n.name == "dataset" for n in tree.body):
        return None
    refs = []
    for call in ast.walk(tree):
        if (isinstance(call, ast.Call) and isinstance(call.func, ast.Attribute) and call.func.attr == "ref"
                and call.args and isinstance(call.args[0], ast.Constant) and isinstance(call.args[0].value, str)):
            refs.append(call.args[0].value)
    return refs


def discover(root: Path, kind_keys: Iterable[str]) -> tuple[list[RawNode], list[MlmonError]]:
    """Every node declaration in the project, plus the errors met while reading (all of them)."""
    keys = list(kind_keys)
    nodes: list[RawNode] = []
    errors: list[MlmonError] = []
    for file in _files(root, NODE_DIRS, (".yml", ".yaml")):
        display = file.relative_to(root).as_posix()
        try:
            data = load_yaml(file, display)
        except ConfigError as exc:
            errors.append(exc)
            continue
        if data is None:
            continue
        if not isinstance(data, LineDict):
            errors.append(ConfigError(f"expected a mapping with keys such as {', '.join(keys)}", location=Location(display, 1)))
            continue
        for key, entries in data.items():
            line = data.key_lines.get(str(key))
            if key not in keys:
                errors.append(ConfigError(
                    f"unknown node kind '{key}'", location=Location(display, line),
                    hint=did_you_mean(str(key), keys) or f"use one of: {', '.join(keys)}",
                ))
                continue
            if not isinstance(entries, list):
                errors.append(ConfigError(f"'{key}' must be a list of nodes", location=Location(display, line)))
                continue
            for entry in entries:
                if not isinstance(entry, LineDict):
                    errors.append(ConfigError(f"each entry of '{key}' must be a mapping with a name", location=Location(display, line)))
                    continue
                nodes.append(RawNode(key, dict(entry), display, entry.line, dict(entry.key_lines)))
    for file in _files(root, ["models"], (".sql",)):
        display = file.relative_to(root).as_posix()
        nodes.append(RawNode("datasets", {"name": file.stem}, display, 1, raw_sql=file.read_text(encoding="utf-8")))
    for file in _files(root, ["models"], (".py",)):
        display = file.relative_to(root).as_posix()
        try:
            refs = _python_refs(file.read_text(encoding="utf-8"), display)
        except ConfigError as exc:
            errors.append(exc)
            continue
        if refs is not None:
            nodes.append(RawNode("datasets", {"name": file.stem}, display, 1, python_refs=refs))
    return nodes, errors
