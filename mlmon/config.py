"""Run configuration and project settings: frozen values handed down the whole call chain."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any, Mapping

__all__ = ["PROJECT_FILE", "RunConfig", "ProjectSettings", "new_invocation_id"]

PROJECT_FILE = "mlmon_project.yml"


def new_invocation_id() -> str:
    return uuid.uuid4().hex


def _frozen(mapping: Mapping[str, Any] | None) -> Mapping[str, Any]:
    return MappingProxyType(dict(mapping or {}))


@dataclass(frozen=True)
class RunConfig:
    """Everything one command invocation was asked to do. Built once by the CLI (or a test)."""

    project_dir: Path
    vars: Mapping[str, Any] = field(default_factory=dict)
    select: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    full_refresh: bool = False
    fail_fast: bool = False
    dry_run: bool = False
    strict_upstream: bool = False  # an upstream table built for other vars is an error, not a warning
    target: str | None = None
    invocation_id: str = field(default_factory=new_invocation_id)
    args: Mapping[str, Any] = field(default_factory=dict)  # as typed, for run_results.json

    def __post_init__(self) -> None:
        object.__setattr__(self, "project_dir", Path(self.project_dir).resolve())
        object.__setattr__(self, "vars", _frozen(self.vars))
        object.__setattr__(self, "args", _frozen(self.args))


@dataclass(frozen=True)
class ProjectSettings:
    """The contents of mlmon_project.yml, with CLI --vars already merged over the project's vars."""

    name: str
    root: Path
    warehouse: Path
    vars: Mapping[str, Any]
    targets: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    default_target: str | None = None
    settings: Mapping[str, Any] = field(default_factory=dict)  # optional tuning (drift_sample, chunk_rows...)
    key_lines: Mapping[str, int] = field(default_factory=dict)  # line of each top-level key, for errors

    @property
    def target_dir(self) -> Path:
        return self.root / "target"
