"""`mlmon dashboard` and `mlmon docs`: self-contained HTML pages for people."""

from __future__ import annotations

from pathlib import Path

import click

from mlmon.cli import cli
from mlmon.cli.display import stdout
from mlmon.cli.options import project_options, run_config
from mlmon.errors import UsageError
from mlmon.project.compiler import compile_project
from mlmon.warehouse.duckdb import Warehouse


def _write(html: str, output: Path) -> Path:
    try:
        output.parent.mkdir(parents=True, exist_ok=True)
        output.write_text(html, encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"cannot write {output}: {exc.strerror or exc}",
                         hint="choose a file in a folder you can write to with -o") from None
    return output


def _warehouse(project) -> Warehouse | None:
    if project.target.type == "duckdb" and not project.target.path.exists():
        return None  # nothing built yet: the page says so
    return project.open_warehouse(read_only=True)


@cli.command()
@click.argument("name")
@project_options
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="The HTML file to write (default target/dashboards/NAME.html).")
@click.option("--x", "x_axis", default="created_at", show_default=True,
              help="History charts' x axis: created_at or a label key such as month.")
def dashboard(name: str, project_dir: Path, vars_text: str | None, target: str | None,
              output: Path | None, x_axis: str) -> None:
    """Write dashboard NAME as one HTML file that opens with no network."""
    from mlmon.reports.dashboard import render_dashboard

    project = compile_project(run_config(project_dir, vars_text, target))
    node = project.node(name)
    if node.type != "dashboard":
        raise UsageError(f"'{name}' is a {node.type}, not a dashboard",
                         hint=f"dashboards: {', '.join(n for n, v in project.nodes.items() if v.type == 'dashboard') or 'none'}")
    warehouse = _warehouse(project)
    try:
        html = render_dashboard(warehouse.con if warehouse else None, project.manifest(), name, x=x_axis)
    finally:
        if warehouse:
            warehouse.close()
    path = _write(html, output or project.settings.target_dir / "dashboards" / f"{name}.html")
    stdout.print(f"Wrote {path}")


@cli.command()
@project_options
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="The HTML file to write (default target/docs/index.html).")
def docs(project_dir: Path, vars_text: str | None, target: str | None, output: Path | None) -> None:
    """Write the flow (every node, edge and zone, with configs, SQL and statuses) as a page."""
    from mlmon.reports.flow import render_flow

    project = compile_project(run_config(project_dir, vars_text, target))
    project.write_manifest()
    warehouse = _warehouse(project)
    try:
        html = render_flow(project.manifest(), warehouse.con if warehouse else None)
    finally:
        if warehouse:
            warehouse.close()
    path = _write(html, output or project.settings.target_dir / "docs" / "index.html")
    stdout.print(f"Wrote {path}")
