"""One run of a scenario at a time, across processes.

The lock is an exclusive OS file lock on `<lock_dir>/<scenario>.lock` (mlmon.warehouse.lock:
released by the system when the holder dies, even by SIGKILL, and portable to Windows). The
lock file records the holder's PID and command, for the busy message.
"""

from __future__ import annotations

import re
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Iterator

from mlmon.errors import MlmonError
from mlmon.warehouse.lock import Holder, LockBusy, exclusive_lock

__all__ = ["ScenarioBusyError", "scenario_lock", "lock_path"]

_SAFE_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]*$")


class ScenarioBusyError(MlmonError):
    """Another run of this scenario holds its lock; the scheduler skips it, `scenario run` stops."""

    exit_code = 2

    def __init__(self, scenario: str, path: Path, holder: Holder | None = None):
        holder = holder or Holder()
        by = f" by process {holder.pid}" if holder.pid else ""
        what = f" ({holder.command})" if holder.pid and holder.command else ""
        super().__init__(
            f"scenario '{scenario}' is already running (lock {path} is held{by}{what})",
            hint="wait for that run to finish; the lock is released when it ends",
        )
        self.scenario = scenario
        self.path = path
        self.holder_pid = holder.pid


def lock_path(lock_dir: Path, scenario: str) -> Path:
    """Where a scenario's lock file lives; the name must not escape `lock_dir`."""
    if not _SAFE_NAME.match(scenario):
        raise ValueError(f"scenario name {scenario!r} cannot name a lock file")
    return Path(lock_dir) / f"{scenario}.lock"


@contextmanager
def scenario_lock(lock_dir: Path, scenario: str) -> Iterator[Path]:
    """Hold the scenario's lock for the `with` block; ScenarioBusyError at once if it is held.

    Released on exit, exceptions included. Two holders in one process also exclude each other.
    """
    path = lock_path(lock_dir, scenario)
    with ExitStack() as stack:
        try:  # only taking the lock: a LockBusy raised by the block itself is someone else's
            stack.enter_context(exclusive_lock(path))
        except LockBusy as busy:
            raise ScenarioBusyError(scenario, path, busy.holder) from None
        yield path
