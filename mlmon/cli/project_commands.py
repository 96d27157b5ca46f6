"""init, compile, ls, build, show: the commands that work on the project as a whole."""

from __future__ import annotations

import dataclasses
import shutil
from datetime import datetime
from pathlib import Path
from typing import Any

import click
import sqlglot
from sqlglot import exp

from mlmon.cli import cli
from mlmon.cli.display import print_frame, print_json, stdout
from mlmon.cli.options import project_options, run_config, selection_options
from mlmon.errors import ProjectErrors, UsageError
from mlmon.graph.selector import select
from mlmon.project.compiler import compile_project
from mlmon.run.progress import Progress
from mlmon.run.runner import build as run_build
from mlmon.warehouse.duckdb import Warehouse
from mlmon.warehouse.tables import SYSTEM_SCHEMA, SYSTEM_TABLES

TEMPLATE = Path(__file__).resolve().parent.parent / "demo" / "template"


@cli.command()
@click.argument("directory", type=click.Path(path_type=Path))
@click.option("--rows", default=2500, show_default=True, help="Rows per month of example data.")
def init(directory: Path, rows: int) -> None:
    """Create a new project in DIRECTORY: the fraud-monitoring example, with its data."""
    from mlmon.demo.generator import generate
    from mlmon.demo.partner import write_partner_files

    if directory.exists() and any(directory.iterdir()):
        raise UsageError(f"{directory} already exists and is not empty", hint="choose a new folder")
    shutil.copytree(TEMPLATE, directory, dirs_exist_ok=True, symlinks=False)
    # Shipped without its dot (package data skips dotfiles); a project needs the real name.
    (directory / "gitignore").replace(directory / ".gitignore")
    generate(directory / "data", rows=rows)
    write_partner_files(directory / "data")
    stdout.print(f"Created project in {directory}. Next: cd {directory} && mlmon build")


@cli.command(name="compile")
@project_options
def compile_command(project_dir: Path, vars_text: str | None, target: str | None) -> None:
    """Validate the project and write target/manifest.json and compiled SQL."""
    project = compile_project(run_config(project_dir, vars_text, target))
    if project.target.type == "spark":  # what only Spark's own function registry can tell
        from mlmon.warehouse.spark_check import spark_errors

        errors = spark_errors(project)
        if errors:
            raise ProjectErrors(errors)
    path = project.write_manifest()
    stdout.print(f"Compiled {len(project.nodes)} nodes → {path.relative_to(project.root)}")


@cli.command(name="ls")
@project_options
@selection_options
@click.option("--output", "-o", type=click.Choice(["name", "path", "json"]), default="name", show_default=True)
def ls_command(project_dir: Path, vars_text: str | None, target: str | None, select: tuple[str, ...],
               exclude: tuple[str, ...], output: str) -> None:
    """List the nodes a selection names, in build order."""
    project = compile_project(run_config(project_dir, vars_text, target))
    chosen = _select(project, select, exclude)
    order = [n for n in project.dag.topological_order(chosen)]
    if output == "json":  # the nodes as target/manifest.json has them (dbt's shape)
        from mlmon.project.artifacts import artifact_nodes

        nodes = artifact_nodes(project)
        print_json([nodes[project.unique_id(name)] for name in order])
        return
    for name in order:
        node = project.nodes[name]
        click.echo(f"{node.path}:{node.line}" if output == "path" else name)


def _select(project, include: tuple[str, ...], exclude: tuple[str, ...]) -> set[str]:
    return select(list(include) or None, list(exclude) or None, project.nodes, project.dag)


@cli.command()
@project_options
@selection_options
@click.option("--full-refresh", is_flag=True, help="Retrain models and rebuild everything selected.")
@click.option("--fail-fast", is_flag=True, help="Stop at the first node error or failed check.")
@click.option("--dry-run", is_flag=True, help="Print the ordered plan and build nothing.")
@click.option("--strict-upstream", is_flag=True,
              help="Fail a node whose unselected upstream table was built for other vars (default: warn).")
@click.option("--debug", is_flag=True, help="Show tracebacks of unexpected errors.")
def build(project_dir: Path, vars_text: str | None, target: str | None, select: tuple[str, ...],
          exclude: tuple[str, ...], full_refresh: bool, fail_fast: bool, dry_run: bool, strict_upstream: bool,
          debug: bool) -> None:
    """Build the selected nodes (all by default) into the warehouse."""
    config = run_config(project_dir, vars_text, target, select=select, exclude=exclude,
                        full_refresh=full_refresh, fail_fast=fail_fast, dry_run=dry_run,
                        strict_upstream=strict_upstream)
    project = compile_project(config)
    results = run_build(project, config, Progress(), debug=debug, write_manifest=not dry_run)
    raise SystemExit(results.exit_code)


@cli.command(name="test")
@project_options
@selection_options
@click.option("--fail-fast", is_flag=True, help="Stop at the first check that errors.")
@click.option("--debug", is_flag=True, help="Show tracebacks of unexpected errors.")
def test_command(project_dir: Path, vars_text: str | None, target: str | None, select: tuple[str, ...],
                 exclude: tuple[str, ...], fail_fast: bool, debug: bool) -> None:
    """Run the checks of the selection (every check by default), as `dbt test` does.

    A selected check runs, and so does every check reading a selected node; what they read
    comes from the warehouse."""
    config = run_config(project_dir, vars_text, target, select=select, exclude=exclude, fail_fast=fail_fast)
    project = compile_project(config)
    checks = checks_of_selection(project, select, exclude)
    if not checks:
        stdout.print("No checks in the selection: nothing to test.")
        return
    config = dataclasses.replace(config, select=tuple(checks), exclude=())
    results = run_build(project, config, Progress(), debug=debug, write_manifest=True)
    raise SystemExit(results.exit_code)


def checks_of_selection(project, include: tuple[str, ...], exclude: tuple[str, ...]) -> list[str]:
    """The checks a selection names, plus those reading any node it names, minus excluded ones."""
    chosen = _select(project, include, ())
    excluded = _select(project, exclude, ()) if exclude else set()
    checks = [n for n, node in project.nodes.items() if node.type == "check"]
    return sorted(c for c in checks if c not in excluded
                  and (c in chosen or any(dep in chosen for dep in project.nodes[c].upstream)))


@cli.command()
@click.argument("name")
@project_options
@click.option("--limit", "-n", default=20, show_default=True, help="Rows to print.")
@click.option("--output", "-o", type=click.Choice(["table", "json"]), default="table", show_default=True)
def show(name: str, project_dir: Path, vars_text: str | None, target: str | None, limit: int, output: str) -> None:
    """Print a table, view, evaluation store, model's versions or mlmon.<system table>."""
    project = compile_project(run_config(project_dir, vars_text, target))
    if "." not in name and not project.settings.warehouse.exists():
        project.node(name)  # an unknown name is a usage error (with a suggestion) before "no warehouse"
    with project.open_warehouse(read_only=True) as warehouse:
        query = _show_query(project, warehouse, name)
        total = int(warehouse.con.execute(exp.select("count(*)").from_(query.subquery("q")).sql("duckdb")).fetchone()[0])
        frame = _dates_as_dates(warehouse, query, warehouse.query_df(query.limit(limit)))
    if output == "json":
        print_json({"name": name, "total_rows": total, "rows": frame.to_dict(orient="records")})
    else:
        print_frame(frame, title=name, total=total)


def _dates_as_dates(warehouse: Warehouse, query: exp.Select, frame: Any) -> Any:
    """DATE columns as dates (pandas reads DuckDB's as midnight timestamps), as on Spark: a store's
    `period` prints 2017-06-01, not 2017-06-01 00:00:00."""
    described = warehouse.con.execute(f"DESCRIBE {query.sql('duckdb')}").fetchall()
    for name in (str(row[0]) for row in described if str(row[1]).upper() == "DATE"):
        if name in frame.columns:
            frame[name] = [v.date() if isinstance(v, datetime) else v for v in frame[name]]
    return frame


def _show_query(project, warehouse: Warehouse, name: str) -> exp.Select:
    schema, _, table = name.rpartition(".")
    if schema == SYSTEM_SCHEMA:
        if not warehouse.exists(table, SYSTEM_SCHEMA):
            raise UsageError(f"no system table '{name}'", hint="one of: " + ", ".join(f"mlmon.{t}" for t in SYSTEM_TABLES))
        return exp.select("*").from_(exp.table_(table, db=SYSTEM_SCHEMA, quoted=True))
    if name not in project.nodes and warehouse.exists(name):  # e.g. a store's <store>_feature_drift view
        return exp.select("*").from_(exp.table_(name, quoted=True))
    node = project.node(name)
    query = project.kind(node).show_query(node, project.root)
    if query is None:
        raise UsageError(f"'{name}' is a {node.type}: it has nothing to show")
    return query if isinstance(query, exp.Select) else sqlglot.select("*").from_(query)
