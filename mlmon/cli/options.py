"""Options shared by every command, and turning them into a RunConfig."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

import click

from mlmon.config import RunConfig
from mlmon.project.vars import parse_cli_vars

__all__ = ["project_options", "selection_options", "run_config", "parse_vars"]


def project_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """--project-dir, --vars and --target."""
    command = click.option("--target", "-t", default=None, help="A target named under targets: in mlmon_project.yml.")(command)
    command = click.option("--vars", "vars_text", default=None, metavar="YAML",
                           help="Override project vars, e.g. '{month: \"2017_05\"}'.")(command)
    command = click.option("--project-dir", type=click.Path(file_okay=False, path_type=Path), default=Path("."),
                           show_default=True, help="The project folder (or any folder inside it).")(command)
    return command


def selection_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """-s/--select and --exclude, each repeatable and space-separated."""
    command = click.option("--exclude", multiple=True, metavar="SELECTOR", help="Nodes to leave out.")(command)
    command = click.option("-s", "--select", multiple=True, metavar="SELECTOR",
                           help="Nodes to include: names, globs, +name, name+, @name, tag:, path:, type:, zone:.")(command)
    return command


def parse_vars(text: str | None) -> dict[str, Any]:
    """--vars as given; values are typed against the project's vars when it loads (project.vars)."""
    return parse_cli_vars(text)


def run_config(project_dir: Path, vars_text: str | None, target: str | None = None, **kwargs: Any) -> RunConfig:
    ctx = click.get_current_context(silent=True)
    args = {"command": ctx.info_name if ctx else None, **(ctx.params if ctx else {})}
    return RunConfig(project_dir=project_dir, vars=parse_vars(vars_text), target=target,
                     args={k: (list(v) if isinstance(v, tuple) else str(v) if isinstance(v, Path) else v) for k, v in args.items()},
                     **kwargs)
