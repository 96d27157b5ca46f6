"""The exception tree. Every error knows its exit code and, where it has one, its place in a file.

Exit codes follow the spec: 1 for a failure while building (a node error, a check ERROR),
2 for anything wrong before work starts (usage, configuration, compilation, a held lock).
"""

from __future__ import annotations

from dataclasses import dataclass
from difflib import get_close_matches
from typing import Iterable, Sequence

__all__ = [
    "Location",
    "MlmonError",
    "UsageError",
    "ConfigError",
    "ProjectErrors",
    "NodeError",
    "WarehouseLockedError",
    "did_you_mean",
]


@dataclass(frozen=True, order=True)
class Location:
    """A place in a project file; `path` is relative to the project root when it lies inside it."""

    path: str
    line: int | None = None
    col: int | None = None

    def __str__(self) -> str:
        parts = [self.path]
        if self.line is not None:
            parts.append(str(self.line))
            if self.col is not None:
                parts.append(str(self.col))
        return ":".join(parts)


class MlmonError(Exception):
    """Base of every error mlmon reports to a user (the CLI prints these without a traceback)."""

    exit_code: int = 1

    def __init__(self, message: str, *, location: Location | None = None, hint: str | None = None):
        super().__init__(message)
        self.message = message
        self.location = location
        self.hint = hint

    def __str__(self) -> str:
        text = f"{self.location}: {self.message}" if self.location else self.message
        if self.hint:
            text += f" — {self.hint}"
        return text


class UsageError(MlmonError):
    """The command line itself is wrong (bad option value, unknown node named on the CLI...)."""

    exit_code = 2


class ConfigError(MlmonError):
    """A project file is wrong. Always carries a Location so the user can jump to it."""

    exit_code = 2


class ProjectErrors(MlmonError):
    """Several configuration errors found in one pass: all are reported at once."""

    exit_code = 2

    def __init__(self, errors: Sequence[MlmonError]):
        self.errors = sorted(errors, key=lambda e: (e.location or Location(""), e.message))
        noun = "error" if len(self.errors) == 1 else "errors"
        super().__init__(f"{len(self.errors)} {noun} in the project")

    def __str__(self) -> str:
        return "\n".join(str(e) for e in self.errors)


class NodeError(MlmonError):
    """A node failed while it ran: the build goes on with the nodes that do not depend on it."""

    exit_code = 1


class WarehouseLockedError(MlmonError):
    """Another process holds DuckDB's write lock on the warehouse file."""

    exit_code = 2


def did_you_mean(word: str, candidates: Iterable[str]) -> str | None:
    """A hint such as "did you mean 'fraud_model'?" or None when nothing is close."""
    matches = get_close_matches(word, list(candidates), n=1, cutoff=0.6)
    return f"did you mean '{matches[0]}'?" if matches else None
