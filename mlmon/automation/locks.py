"""One run of a scenario at a time, across processes.

The lock is an exclusive `flock` on `<lock_dir>/<scenario>.lock`. The kernel releases it when
the holder closes the file or dies, even by SIGKILL, so a crashed run never leaves a stale lock
behind, and the lock file itself is kept (deleting it would let two processes lock two
different files of the same name). POSIX only.

A forked child inherits the locked file and keeps the lock alive until it exits too: runners
should start helpers with exec (subprocess), not bare fork.
"""

from __future__ import annotations

import fcntl
import os
import re
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from mlmon.errors import MlmonError

__all__ = ["ScenarioBusyError", "scenario_lock", "lock_path"]

_SAFE_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]*$")


class ScenarioBusyError(MlmonError):
    """Another run of this scenario holds its lock; the scheduler skips it, `scenario run` stops."""

    exit_code = 2

    def __init__(self, scenario: str, path: Path, holder_pid: int | None = None):
        by = f" by process {holder_pid}" if holder_pid else ""
        super().__init__(
            f"scenario '{scenario}' is already running (lock {path} is held{by})",
            hint="wait for that run to finish; the lock is released when it ends",
        )
        self.scenario = scenario
        self.path = path
        self.holder_pid = holder_pid


def lock_path(lock_dir: Path, scenario: str) -> Path:
    """Where a scenario's lock file lives; the name must not escape `lock_dir`."""
    if not _SAFE_NAME.match(scenario):
        raise ValueError(f"scenario name {scenario!r} cannot name a lock file")
    return Path(lock_dir) / f"{scenario}.lock"


def _read_pid(fd: int) -> int | None:
    try:
        text = os.pread(fd, 32, 0).decode("ascii", "replace").strip()
        return int(text) if text.isdigit() else None
    except OSError:
        return None


@contextmanager
def scenario_lock(lock_dir: Path, scenario: str) -> Iterator[Path]:
    """Hold the scenario's lock for the `with` block; ScenarioBusyError at once if it is held.

    Released on exit, exceptions included. Two holders in one process also exclude each other:
    each `with` opens the file anew, and flock locks belong to the open file.
    """
    path = lock_path(lock_dir, scenario)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise ScenarioBusyError(scenario, path, _read_pid(fd)) from None
        # The pid is only for the busy message; the lock itself is the flock.
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        try:
            yield path
        finally:
            os.ftruncate(fd, 0)  # no stale pid for the next busy message
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)
