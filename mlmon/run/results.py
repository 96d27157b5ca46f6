"""Node results of one invocation: kept in memory, written to run_results.json and node_results.

run_results.json has dbt's shape (metadata, args, elapsed_time, results[] with unique_id,
status, timing, execution_time, adapter_response, failures) so that tools reading dbt artifacts
read it; mlmon's own fields (node, kind, rows, warnings) sit beside dbt's.
"""

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


def _iso(moment: datetime) -> str:
    """A naive UTC timestamp as ISO 8601 with its zone, as dbt writes timing."""
    return moment.isoformat() + "Z"


def _failures(result: "NodeResult") -> int | None:
    """dbt counts failing tests; here a check that failed or warned counts one, others none."""
    if result.kind != "check":
        return None
    return 1 if result.status in ("fail", "warn", "error") else 0


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

    def to_json(self, project_name: str = "") -> dict[str, Any]:
        data = asdict(self)
        started, ended = _iso(self.started_at), _iso(self.ended_at)
        data["started_at"], data["ended_at"] = started, ended
        data.update({
            "unique_id": f"{self.kind}.{project_name}.{self.node}",
            "execution_time": round(self.execution_time, 4),
            # mlmon compiles the whole project before running; each node's time is its execution
            "timing": [{"name": "compile", "started_at": started, "completed_at": started},
                       {"name": "execute", "started_at": started, "completed_at": ended}],
            "thread_id": "Thread-1",
            "adapter_response": {"_message": self.status, "rows_affected": self.rows},
            "failures": _failures(self),
        })
        return data


@dataclass
class RunResults:
    invocation_id: str
    args: dict[str, Any]
    started_at: datetime = field(default_factory=utcnow)
    results: list[NodeResult] = field(default_factory=list)
    target: str = "duckdb"
    project_name: str = ""

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
        from mlmon.project.artifacts import RUN_RESULTS_SCHEMA_VERSION, artifact_metadata

        elapsed = round(self.elapsed, 4)
        return {
            "metadata": artifact_metadata(RUN_RESULTS_SCHEMA_VERSION, self.invocation_id,
                                          project_name=self.project_name, target_name=self.target),
            "args": self.args,
            "elapsed_time": elapsed,
            "results": [r.to_json(self.project_name) for r in self.results],
            # mlmon's own summary, beside dbt's keys
            "invocation_id": self.invocation_id,
            "target": self.target,
            "started_at": _iso(self.started_at),
            "elapsed": elapsed,
            "counts": self.counts(),
        }

    def write(self, target_dir: Path) -> Path:
        target_dir.mkdir(parents=True, exist_ok=True)
        path = target_dir / "run_results.json"
        path.write_text(dumps(self.to_json()), encoding="utf-8")
        return path
