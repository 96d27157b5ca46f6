"""Is the process running a scenario still alive? A run records its PID and host when it starts;
a RUNNING run whose process is gone is shown ABORTED at once, without waiting for the next run
of its scenario to mark it so."""

from __future__ import annotations

import os
import socket
from pathlib import Path
from typing import Any, Mapping

__all__ = ["this_host", "process_alive", "shown_outcome"]

RUNNING = "RUNNING"
ABORTED = "ABORTED"


def this_host() -> str:
    return socket.gethostname()


def process_alive(pid: int) -> bool:
    """Whether process `pid` of this machine runs (a zombie, dead but not yet reaped, does not)."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process: alive
        return True
    stat = Path(f"/proc/{pid}/stat")
    try:
        state = stat.read_text().rpartition(")")[2].split()[0]
    except (OSError, IndexError):
        return True  # no /proc (macOS): the signal said it exists
    return state not in ("Z", "X")


def shown_outcome(row: Mapping[str, Any]) -> str:
    """A scenario_runs row's outcome as a reader should see it: ABORTED for a RUNNING run whose
    process, on this machine, is gone. A run on another machine cannot be checked from here."""
    outcome = row.get("outcome")
    pid, host = row.get("pid"), row.get("host")
    if outcome == RUNNING and pid is not None and host == this_host() and not process_alive(int(pid)):
        return ABORTED
    return str(outcome)
