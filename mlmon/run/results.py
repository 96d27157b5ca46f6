"""Node results of one invocation: kept in memory, written to run_results.json and node_results."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlmon.jsontext import dumps

if TYPE_CHECKING:  # annotation only: importing nodes here would make mlmon.ml.registry circular
    from mlmon.nodes.base import Status

__all__ = ["NodeResult", "RunResults", "utcnow"]

FAILED_STATUSES = frozenset({"error", "fail", "skipped"})


def utcnow() -> datetime:
    """Naive UTC, the form DuckDB TIMESTAMP columns store."""
    return datetime.now(timezone.utc).replace(tzinfo=None)


@dataclass
class NodeResult:
    node: str
    kind: str
    status: Status
    started_at: datetime
    ended_at: datetime
    message: str = ""
    rows: int | None = None
    warnings: list[str] = field(default_factory=list)

    @property
    def execution_time(self) -> float:
        return (self.ended_at - self.started_at).total_seconds()

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["started_at"] = self.started_at.isoformat()
        data["ended_at"] = self.ended_at.isoformat()
        data["execution_time"] = round(self.execution_time, 4)
        return data


@dataclass
class RunResults:
    invocation_id: str
    args: dict[str, Any]
    started_at: datetime = field(default_factory=utcnow)
    results: list[NodeResult] = field(default_factory=list)
    target: str = "duckdb"

    @property
    def elapsed(self) -> float:
        return (utcnow() - self.started_at).total_seconds()

    @property
    def exit_code(self) -> int:
        return 1 if any(r.status in FAILED_STATUSES for r in self.results) else 0

    def counts(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for r in self.results:
            counts[r.status] = counts.get(r.status, 0) + 1
        return counts

    def to_json(self) -> dict[str, Any]:
        return {
            "invocation_id": self.invocation_id,
            "args": self.args,
            "target": self.target,
            "started_at": self.started_at.isoformat(),
            "elapsed": round(self.elapsed, 4),
            "counts": self.counts(),
            "results": [r.to_json() for r in self.results],
        }

    def write(self, target_dir: Path) -> Path:
        target_dir.mkdir(parents=True, exist_ok=True)
        path = target_dir / "run_results.json"
        path.write_text(dumps(self.to_json()), encoding="utf-8")
        return path
