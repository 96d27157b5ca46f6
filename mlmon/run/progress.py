"""What a build prints: one line per node, a live status line on a terminal, a summary."""

from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator

from rich.console import Console
from rich.markup import escape

from mlmon.run.results import NodeResult, RunResults

__all__ = ["Progress"]

_STYLES = {"success": "green", "reused": "cyan", "warn": "yellow", "fail": "red", "error": "red bold", "skipped": "yellow"}
_WORDS = {"success": "OK", "reused": "REUSED", "warn": "WARN", "fail": "FAIL", "error": "ERROR", "skipped": "SKIP"}


class Progress:
    """Prints progress to stderr-like console; `quiet` suppresses per-node lines (json output)."""

    def __init__(self, console: Console | None = None, quiet: bool = False):
        self.console = console or Console(stderr=True, highlight=False, soft_wrap=True)
        self.quiet = quiet
        self._status = None

    def log(self, message: str, style: str | None = None) -> None:
        if not self.quiet:
            self.console.print(escape(message), style=style)

    def warn(self, message: str) -> None:
        self.log(f"  warning: {message}", style="yellow")

    @contextmanager
    def node(self, index: int, total: int, kind: str, name: str) -> Iterator[None]:
        """A live "building…" line on a terminal while the node runs."""
        if self.quiet or not self.console.is_terminal:
            yield
            return
        with self.console.status(f"{index} of {total} building {kind} {escape(name)}…") as status:
            self._status = status
            try:
                yield
            finally:
                self._status = None

    def update(self, message: str) -> None:
        """Inner progress of a long node (e.g. rows scored so far)."""
        if self._status is not None:
            self._status.update(escape(message))

    def node_done(self, index: int, total: int, result: NodeResult, tell: bool = False) -> None:
        """One line per node; `tell`: its message's first line is the node's decision, always shown."""
        word = _WORDS[result.status]
        rows = f", {result.rows:,} rows" if result.rows is not None else ""
        detail = f" — {result.message}" if result.message and result.status in ("error", "fail", "skipped", "warn") else ""
        if tell and result.message and not detail:
            detail = f" — {result.message.splitlines()[0]}"
        self.log(
            f"{index:>3} of {total} {word:<6} {result.kind} {result.node} "
            f"[{result.execution_time:.2f}s{rows}]{detail}",
            style=_STYLES[result.status],
        )
        for warning in result.warnings:
            self.warn(warning)

    def summary(self, run: RunResults) -> None:
        counts = run.counts()
        parts = ", ".join(f"{n} {s}" for s, n in sorted(counts.items())) or "nothing to do"
        style = "red" if run.exit_code else "green"
        self.log(f"Finished {len(run.results)} nodes in {run.elapsed:.2f}s: {parts}", style=style)
