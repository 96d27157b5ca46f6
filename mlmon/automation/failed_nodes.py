"""Nodes that failed in a scenario run's earlier steps, and the later steps they stop.

A build skips the descendants of a node that ended in error (or was skipped for it); a scenario
run does the same across its steps. Otherwise a step that still runs after a failure — a
retrain with `run_if: {outcome_in: [WARNING, FAILED]}`, say — would read what an earlier run
left in the warehouse: last month's check result, for a month whose scoring just failed.

A check ERROR is a result (node status `fail`), not a failure to produce one: the retrain it
fires still runs. A step that rebuilds a failed node itself is not stopped: its build retries
the node and skips what depends on it if it fails again.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Final, Iterable, Protocol, Sequence

from mlmon.graph.dag import DAG

__all__ = ["FAILED_STATUSES", "FailedNodes"]

# The node statuses after which a build skips the node's descendants (mlmon.run.runner).
FAILED_STATUSES: Final = frozenset({"error", "skipped"})


class _Result(Protocol):
    @property
    def node(self) -> str: ...

    @property
    def status(self) -> str: ...


@dataclass
class FailedNodes:
    """{node: (step, status)} of the nodes whose latest build in this run did not produce them."""

    by_node: dict[str, tuple[str, str]] = field(default_factory=dict)

    def record(self, step: str, results: Iterable[_Result]) -> None:
        """A step's node results: failures are kept, a node built again successfully is forgiven."""
        for result in results:
            if result.status in FAILED_STATUSES:
                self.by_node[result.node] = (step, result.status)
            else:
                self.by_node.pop(result.node, None)

    def blocking(self, planned: Sequence[str], dag: DAG[str]) -> str | None:
        """Why a step that builds `planned` must not run (None: it may): the first planned node
        that depends on a failed node the step does not build again, and the failure."""
        if not self.by_node:
            return None
        rebuilt = set(planned)
        for name in planned:
            failed = [n for n in dag.upstream(name) if n in self.by_node and n not in rebuilt]
            if failed:
                # the root failure (an error) before the nodes skipped because of it
                cause = min(failed, key=lambda n: (self.by_node[n][1] != "error", n))
                step, status = self.by_node[cause]
                return (f"skipped: {name} depends on {cause}, which failed in step {step} ({status}): "
                        "it would act on results of an earlier run")
        return None
