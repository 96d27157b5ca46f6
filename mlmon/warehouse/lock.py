"""Cross-process exclusive locks that say who holds them.

The lock is an OS file lock taken through portalocker (flock on POSIX, LockFileEx on Windows),
so the system releases it when the holder closes the file or dies, even by SIGKILL, and a
crashed command never leaves a stale lock behind. The lock file is kept, never deleted
(deleting it would let two processes lock two different files of the same name).

While held, the file records the holder's PID and command line, so that whoever finds the lock
taken can name what to wait for. The file is opened without truncation: a process that fails to
take the lock must not erase the record of the one that holds it.

A forked child inherits the locked file and keeps the lock alive until it exits too: start
helpers with exec (subprocess), not bare fork.
"""

from __future__ import annotations

import json
import os
import sys
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Iterator

import portalocker

__all__ = ["Holder", "LockBusy", "exclusive_lock", "read_holder", "current_command"]


@dataclass(frozen=True)
class Holder:
    """Who holds a lock, as it recorded itself (both None when it could not be read)."""

    pid: int | None = None
    command: str | None = None

    def describe(self) -> str:
        what = self.command or "another mlmon command"
        return f"{what} (PID {self.pid})" if self.pid else what


class LockBusy(Exception):
    """The lock is held by another holder (another process, or another `with` in this one)."""

    def __init__(self, path: Path, holder: Holder):
        super().__init__(f"{path} is held by {holder.describe()}")
        self.path = path
        self.holder = holder


def current_command() -> str:
    """The running mlmon command as a user typed it, e.g. `mlmon build -s x`."""
    try:
        import click

        ctx = click.get_current_context(silent=True)
    except ImportError:  # pragma: no cover - click is a dependency; only a library caller lacks a context
        ctx = None
    if ctx is not None:
        return ctx.command_path
    return " ".join(["mlmon", *sys.argv[1:]]) if sys.argv else "mlmon"


def read_holder(path: Path) -> Holder:
    """The holder recorded in a lock file (empty when free, unreadable or locked against reads)."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8") or "{}")
    except (OSError, ValueError):
        return Holder()
    if not isinstance(data, dict):
        return Holder()
    pid = data.get("pid")
    command = data.get("command")
    return Holder(pid if isinstance(pid, int) else None, command if isinstance(command, str) else None)


def _busy_holder(path: Path, tries: int = 25, pause: float = 0.02) -> Holder:
    """The holder of a lock just found busy. A holder records itself a moment after it takes the
    lock, so an empty record is read again for up to half a second before it is reported."""
    holder = read_holder(path)
    for _ in range(tries):
        if holder.pid is not None:
            break
        time.sleep(pause)
        holder = read_holder(path)
    return holder


def _record(handle: IO[bytes], holder: Holder) -> None:
    handle.seek(0)
    handle.truncate()
    handle.write(json.dumps({"pid": holder.pid, "command": holder.command}).encode("utf-8"))
    handle.flush()


@contextmanager
def exclusive_lock(path: Path, command: str | None = None) -> Iterator[Holder]:
    """Hold the lock on `path` for the `with` block; LockBusy at once if someone else holds it.

    Two holders in one process exclude each other too: each `with` opens the file anew and the
    lock belongs to the open file.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_BINARY", 0), 0o644)
    handle = os.fdopen(fd, "r+b")
    try:
        try:
            portalocker.lock(handle, portalocker.LOCK_EX | portalocker.LOCK_NB)
        except portalocker.LockException:
            raise LockBusy(path, _busy_holder(path)) from None
        me = Holder(os.getpid(), command or current_command())
        try:
            _record(handle, me)
            yield me
        finally:
            handle.seek(0)
            handle.truncate()  # no stale holder for the next busy message
            portalocker.unlock(handle)
    finally:
        handle.close()
