"""Column checks of an evaluation that the files already answer, at compile time.

When the evaluated data, the reference or the outcomes are file datasets, their columns are
known before anything runs: a logged output, target, key, period or segment column they lack is
a configuration error naming the file and line. A score of a file dataset holds the file's
columns and the model's outputs, so its segment columns are checked too. Tables built by the
project (and a model's reference rows, which are the active version's) are checked when the node
starts instead (mlmon.evaluation), before it writes anything. The files' columns come from
mlmon.nodes.file_columns, which describes them again only when they changed.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Collection

from mlmon.errors import ConfigError, Location, MlmonError, did_you_mean
from mlmon.nodes.file_columns import FileColumns, is_file_dataset

if TYPE_CHECKING:
    from mlmon.nodes.base import Node, ProjectView

__all__ = ["file_column_errors", "segment_column_errors", "missing_segment_errors"]

_TEMPORAL = ("DATE", "TIMESTAMP")


def _missing(columns: dict[str, str] | None, wanted: list[str]) -> list[str]:
    return [] if columns is None else [c for c in wanted if c and c not in columns]


def file_column_errors(node: "Node", project: "ProjectView") -> list[ConfigError]:
    config: dict[str, Any] = node.config
    truth = config.get("ground_truth") if isinstance(config.get("ground_truth"), dict) else {}
    if not any(is_file_dataset(project, n) for n in (config.get("data"), config.get("reference"), truth.get("data"))):
        return []
    with FileColumns(project) as files:
        return _column_errors(files, node)


def _column_errors(files: FileColumns, node: "Node") -> list[ConfigError]:
    config: dict[str, Any] = node.config
    predictions = config.get("predictions") if isinstance(config.get("predictions"), dict) else None
    truth = config.get("ground_truth") if isinstance(config.get("ground_truth"), dict) else None
    period = config.get("period") if isinstance(config.get("period"), dict) else None
    if predictions is None and truth is None and period is None:
        return []
    proba = (predictions or {}).get("proba")
    outputs = [*(proba.values() if isinstance(proba, dict) else [proba] if isinstance(proba, str) else []),
               *([predictions["prediction"]] if predictions and isinstance(predictions.get("prediction"), str) else [])]
    key = [] if truth is None else ([truth["key"]] if isinstance(truth.get("key"), str) else list(truth.get("key") or []))
    target = config.get("target")
    errors: list[ConfigError] = []

    def report(side: str, name: str, columns: dict[str, str], missing: list[str], field: str, fix: str) -> None:
        errors.append(node.error(f"{side} '{name}' has no column {', '.join(repr(c) for c in missing)} "
                                 f"(columns: {', '.join(sorted(columns))})", field, hint=fix))

    data = files.of(config.get("data"))
    if data is not None:
        if missing := _missing(data, outputs):
            report("data", config["data"], data, missing, "predictions", "fix `predictions:` to name the logged columns")
        if missing := _missing(data, key):
            report("data", config["data"], data, missing, "ground_truth", "fix `ground_truth.key`")
        if period and isinstance(period.get("column"), str):
            column = period["column"]
            if column not in data:
                report("data", config["data"], data, [column], "period", "set `period.column` to a timestamp or date column")
            elif not data[column].upper().startswith(_TEMPORAL):
                errors.append(node.error(f"period column '{column}' of data '{config['data']}' has type {data[column]}, "
                                         "not a timestamp or date", "period",
                                         hint="name a TIMESTAMP or DATE column, or cast it in a .sql dataset"))
    reference = config.get("reference")
    ref = files.of(reference) if predictions is not None else None
    if ref is not None:
        if missing := _missing(ref, outputs):
            report("reference", reference, ref, missing, "predictions", "the reference must hold the logged outputs too")
        if missing := _missing(ref, [target] if isinstance(target, str) else []):
            report("reference", reference, ref, missing, "target", "the reference rows need their outcomes (`target:`)")
    outcomes = files.of(truth.get("data")) if truth else None
    if outcomes is not None:
        if missing := _missing(outcomes, [*key, *([target] if isinstance(target, str) else [])]):
            report("ground truth", truth["data"], outcomes, missing, "ground_truth",
                   "`ground_truth.key` and `target:` must name columns of the outcomes")
    return errors


def _behind_scores(project: "ProjectView", name: Any) -> tuple[Any, bool]:
    """The node whose rows `name` holds once scored (itself unless a score), and whether a score
    adds the model's outputs on the way."""
    node = project.nodes.get(name) if isinstance(name, str) else None
    scored = False
    while node is not None and node.type == "score":
        name, scored = node.config.get("data"), True
        node = project.nodes.get(name) if isinstance(name, str) else None
    return name, scored


def _is_score_output(column: str) -> bool:
    from mlmon.ml.scoring import PREDICTION_COLUMN, PROBA_PREFIX  # only for a column the file lacks

    return column == PREDICTION_COLUMN or column.startswith(PROBA_PREFIX)


def missing_segment_errors(node: "Node", side: str, name: str, columns: Collection[str], *, rows_of: str | None = None,
                           scored: bool = False, error: type[MlmonError] = ConfigError) -> list[MlmonError]:
    """An `error` for each `segments:` entry that is not one of `columns` (those of `side` node
    `name`, read from the files of `rows_of`; `scored`: a score's outputs count too), at the
    entry's own line."""
    errors: list[MlmonError] = []
    for index, column in enumerate(node.config.get("segments") or []):
        if not isinstance(column, str) or column in columns or scored and _is_score_output(column):
            continue
        line = node.key_lines.get(f"segments[{index}]")
        close = did_you_mean(column, columns)
        read = f" (rows of '{rows_of}')" if rows_of not in (None, name) else ""
        errors.append(error(f"segment column '{column}' is not a column of {side} '{name}'{read}",
                            location=Location(node.path, line) if line else node.location("segments"),
                            hint=(f"{close} " if close else "") + f"segment by one of its columns: {', '.join(sorted(columns))}"))
    return errors


def segment_column_errors(node: "Node", project: "ProjectView", reference: str | None) -> list[MlmonError]:
    """Each `segments:` entry that is not a column of the data or of the `reference` node (None:
    a keyword such as training) when files tell their columns: the run would stop there anyway."""
    config: dict[str, Any] = node.config
    sides = [("data", config.get("data")), ("reference", reference)]
    sources = [(side, name, *_behind_scores(project, name)) for side, name in sides]
    sources = [source for source in sources if is_file_dataset(project, source[2])]
    if not config.get("segments") or not sources:
        return []
    errors: list[MlmonError] = []
    with FileColumns(project) as files:
        for side, name, source, scored in sources:
            columns = files.of(source)
            if columns is not None:
                errors += missing_segment_errors(node, side, name, columns, rows_of=source, scored=scored)
    return errors
