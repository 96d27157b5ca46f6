"""Options shared by every command, and turning them into a RunConfig."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

import click

from mlmon.config import RunConfig
from mlmon.project.vars import parse_cli_vars

__all__ = ["project_options", "selection_options", "run_config", "parse_vars", "SpaceSeparatedOption"]


class SpaceSeparatedOption(click.Option):
    """An option taking every following word up to the next option, as dbt's `-s a b`.

    Repeating the option adds to it too (`-s a -s b`). Click has no `nargs=-1` for options, so
    the parser's handler for this option is wrapped to consume the words after its first value.
    """

    def add_to_parser(self, parser: Any, ctx: click.Context) -> None:
        super().add_to_parser(parser, ctx)
        for opt in self.opts:
            parsed = parser._long_opt.get(opt) or parser._short_opt.get(opt)
            if parsed is None:
                continue
            original = parsed.process
            prefixes = parser._opt_prefixes

            def process(value: Any, state: Any, original: Any = original) -> None:
                words = [value]
                while state.rargs and not any(state.rargs[0].startswith(p) for p in prefixes):
                    words.append(state.rargs.pop(0))
                original(tuple(words), state)

            parsed.process = process

    def type_cast_value(self, ctx: click.Context, value: Any) -> tuple[str, ...]:
        def flat(item: Any) -> list[str]:
            if isinstance(item, (tuple, list)):
                return [word for part in item for word in flat(part)]
            return [] if item is None else [str(item)]

        return tuple(flat(value))


def project_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """--project-dir, --vars and --target."""
    command = click.option("--target", "-t", default=None, help="A target named under targets: in mlmon_project.yml.")(command)
    command = click.option("--vars", "vars_text", default=None, metavar="YAML",
                           help="Override project vars, e.g. '{month: \"2017_05\"}'.")(command)
    command = click.option("--project-dir", type=click.Path(file_okay=False, path_type=Path), default=Path("."),
                           show_default=True, help="The project folder (or any folder inside it).")(command)
    return command


def selection_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """-s/--select and --exclude, each taking space-separated selectors (and repeatable)."""
    command = click.option("--exclude", cls=SpaceSeparatedOption, multiple=True, metavar="SELECTOR...",
                           help="Nodes to leave out.")(command)
    command = click.option("-s", "--select", cls=SpaceSeparatedOption, multiple=True, metavar="SELECTOR...",
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
