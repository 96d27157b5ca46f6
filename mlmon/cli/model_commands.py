"""`mlmon model versions|activate`: the model registry from the command line (rollback)."""

from __future__ import annotations

import json
from pathlib import Path

import click

from mlmon.cli import cli
from mlmon.cli.display import print_frame, print_json, stdout
from mlmon.cli.options import project_options, run_config
from mlmon.errors import UsageError
from mlmon.project.compiler import compile_project


@cli.group()
def model() -> None:
    """Trained model versions: list them, or activate an older one to roll back."""


def _model_node(project, name: str):
    node = project.node(name)
    if node.type != "model":
        raise UsageError(f"'{name}' is a {node.type}, not a model")
    return node


@model.command()
@click.argument("name")
@project_options
@click.option("--output", "-o", type=click.Choice(["table", "json"]), default="table", show_default=True)
def versions(name: str, project_dir: Path, vars_text: str | None, target: str | None, output: str) -> None:
    """List the versions of model NAME."""
    project = compile_project(run_config(project_dir, vars_text, target))
    node = _model_node(project, name)
    with project.open_warehouse(read_only=True) as warehouse:
        frame = warehouse.query_df(project.kind(node).show_query(node, project.root))
    if output == "table":  # a classifier has no r2, a regressor no roc_auc: keep the table narrow
        frame = frame.dropna(axis="columns", how="all")
        if "training_files" in frame:
            frame["training_files"] = frame["training_files"].map(_file_names)
    if output == "json":
        print_json(frame.to_dict(orient="records"))
    else:
        print_frame(frame, title=f"{name} versions")


def _file_names(files_json: str | None) -> str | None:
    """The names of the files a version learnt from (the registry keeps paths, sizes, times)."""
    if not files_json:
        return None
    return ", ".join(Path(entry["path"]).name for entry in json.loads(files_json))


@model.command()
@click.argument("name")
@click.argument("version", type=int)
@project_options
def activate(name: str, version: int, project_dir: Path, vars_text: str | None, target: str | None) -> None:
    """Make VERSION the active version of model NAME (its artifact is verified first)."""
    from mlmon.ml.registry import ModelRegistry

    project = compile_project(run_config(project_dir, vars_text, target))
    _model_node(project, name)
    with project.open_warehouse() as warehouse:
        chosen = ModelRegistry(warehouse, project.root).activate(name, version)
    stdout.print(f"{name} v{chosen.version} is now active")
