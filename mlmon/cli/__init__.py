"""The `mlmon` command line: thin click commands that build a RunConfig and call the engine."""

from __future__ import annotations

import gc
import sys
from typing import Any

# Importing the commands allocates tens of thousands of long-lived objects (modules, classes,
# sqlglot's and rich's tables): collecting them again and again costs a tenth of `mlmon ls`.
# The collector is paused while they load, and then leaves them out of its passes (`freeze`).
gc.disable()

import click
from rich.console import Console
from rich.markup import escape

from mlmon import __version__
from mlmon.errors import MlmonError, ProjectErrors

__all__ = ["cli", "main"]


class MlmonGroup(click.Group):
    """Turns MlmonError into `path:line: message — hint` on stderr and the error's exit code."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except MlmonError as exc:
            report_error(exc)
            ctx.exit(exc.exit_code)


def report_error(exc: MlmonError) -> None:
    console = Console(stderr=True, highlight=False, soft_wrap=True)
    errors = exc.errors if isinstance(exc, ProjectErrors) else [exc]
    for error in errors:
        console.print(f"[red]error:[/red] {escape(str(error))}")
    if isinstance(exc, ProjectErrors) and len(errors) > 1:
        console.print(f"[red]{escape(exc.message)}[/red]; nothing was run")


@click.group(cls=MlmonGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="mlmon")
def cli() -> None:
    """mlmon: declarative ML model monitoring, built into a DuckDB warehouse."""


def main() -> None:
    cli(prog_name="mlmon")


from mlmon.cli import model_commands, project_commands, report_commands  # noqa: E402,F401  (registers the commands)
from mlmon.cli import automation_commands  # noqa: E402,F401

gc.freeze()
gc.enable()

if __name__ == "__main__":
    sys.exit(main())
