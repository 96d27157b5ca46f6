"""Fresh processes timed alike: the one measuring loop of every benchmark command.

`run_process` starts a command through a small launcher (this file run as a script) that forks,
execs the command and waits for it with wait4(). The rusage wait4 returns covers the command
and every descendant it waited for: CPU seconds of all their threads, and ru_maxrss, the
largest high-water mark (VmHWM) among them. The launcher is small on purpose: at exec, Linux
carries the forking process's high-water mark into the new program's ru_maxrss, so a harness
holding data in memory would otherwise lend its own size to every tool it measures.

`interleave` runs the kinds round by round (a burst of load from other jobs hits every kind
alike) and `best_of` keeps the fastest run of each kind with the largest peak RSS of all its
runs (the cautious memory figure).
"""

from __future__ import annotations

import json
import os
import sys
import time

__all__ = ["ProcessRun", "ProcessFailed", "run_process", "interleave", "best_of", "json_line", "checkout_env"]

_LAUNCHER = os.path.abspath(__file__)


def _launch(out_path: str, argv: list[str]) -> int:
    """The launcher's body: run `argv`, write its wall, CPU and peak RSS to `out_path`."""
    started = time.perf_counter()
    pid = os.fork()
    if pid == 0:  # the child becomes the measured command
        try:
            os.execvp(argv[0], argv)
        finally:
            os._exit(127)
    _, status, usage = os.wait4(pid, 0)
    wall = time.perf_counter() - started
    peak = usage.ru_maxrss if sys.platform == "darwin" else usage.ru_maxrss * 1024
    with open(out_path, "w") as out:
        json.dump({"wall_s": wall, "cpu_s": usage.ru_utime + usage.ru_stime, "peak_rss_bytes": peak,
                   "exit": os.waitstatus_to_exitcode(status)}, out)
    return 0


if __name__ == "__main__":  # launcher mode: nothing heavier than the imports above
    sys.exit(_launch(sys.argv[1], sys.argv[2:]))

import signal  # noqa: E402
import subprocess  # noqa: E402
import tempfile  # noqa: E402
from dataclasses import dataclass  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any, Callable, Hashable, Mapping, Sequence, TypeVar  # noqa: E402

Kind = TypeVar("Kind", bound=Hashable)


@dataclass(frozen=True)
class ProcessRun:
    """One finished process: wall and CPU seconds, peak RSS, the load when it started, its output."""

    wall_s: float
    cpu_s: float
    peak_rss_bytes: int
    load_avg_1m: float
    stdout: str
    stderr: str

    def figures(self) -> dict[str, float | int]:
        return {"wall_s": self.wall_s, "cpu_s": self.cpu_s, "peak_rss_bytes": self.peak_rss_bytes,
                "load_avg_1m": self.load_avg_1m}


class ProcessFailed(RuntimeError):
    """A measured command exited with an error; the message ends with its output."""


def run_process(argv: Sequence[str], *, cwd: Path, env: Mapping[str, str] | None = None,
                timeout: float = 3600.0) -> ProcessRun:
    """Run `argv` to completion in a fresh process and measure it (see the module docstring)."""
    load = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="bench-process-") as tmp:
        figures_path = Path(tmp) / "figures.json"
        stdout_path, stderr_path = Path(tmp) / "stdout", Path(tmp) / "stderr"
        launcher = [sys.executable, "-S", _LAUNCHER, str(figures_path), *argv]
        with open(stdout_path, "w") as stdout, open(stderr_path, "w") as stderr:
            # Its own session, so that a timeout ends the command and whatever it started.
            proc = subprocess.Popen(launcher, cwd=str(cwd), env=dict(env) if env is not None else None,
                                    stdout=stdout, stderr=stderr, stdin=subprocess.DEVNULL, start_new_session=True)
            try:
                proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
                raise
        out, err = stdout_path.read_text(errors="replace"), stderr_path.read_text(errors="replace")
        if proc.returncode != 0 or not figures_path.exists():
            raise ProcessFailed(f"the launcher of {' '.join(argv)} failed (exit {proc.returncode}):\n{err[-4000:]}")
        figures = json.loads(figures_path.read_text())
    if figures["exit"] != 0:
        raise ProcessFailed(f"{' '.join(str(a) for a in argv)} failed (exit {figures['exit']}):\n"
                            f"{out[-2000:]}{err[-4000:]}")
    return ProcessRun(wall_s=figures["wall_s"], cpu_s=figures["cpu_s"], peak_rss_bytes=figures["peak_rss_bytes"],
                      load_avg_1m=load, stdout=out, stderr=err)


def checkout_env() -> dict[str, str]:
    """This environment, running the checkout's mlmon (not whichever is installed) from its
    bytecode caches, as an installed package runs."""
    root = str(Path(_LAUNCHER).parent.parent)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [root, os.environ.get("PYTHONPATH")])),
               PYTHONWARNINGS="ignore")
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    return env


def json_line(stdout: str) -> dict[str, Any] | None:
    """The last line of `stdout` that is a JSON object (how a runner reports), if any."""
    for line in reversed(stdout.splitlines()):
        if line.startswith("{"):
            return json.loads(line)
    return None


def interleave(kinds: Sequence[Kind], rounds: int, run: Callable[[Kind, int], dict[str, Any]], *,
               warmup: int = 0) -> dict[Kind, list[dict[str, Any]]]:
    """`run(kind, round)` for every kind, round by round; the first `warmup` rounds are dropped."""
    runs: dict[Kind, list[dict[str, Any]]] = {kind: [] for kind in kinds}
    for round_ in range(warmup + rounds):
        for kind in kinds:
            result = run(kind, round_)
            if round_ >= warmup:
                runs[kind].append(result)
    return runs


def best_of(runs: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """The fastest run (by `wall_s`), with every run's wall and CPU seconds (and load average)
    and the largest peak RSS."""
    if not runs:
        raise ValueError("best_of needs at least one run")
    best = dict(min(runs, key=lambda r: r["wall_s"]))
    best["walls"] = [r["wall_s"] for r in runs]
    best["cpus"] = [r.get("cpu_s") for r in runs]
    if any("load_avg_1m" in r for r in runs):
        best["loads"] = [r.get("load_avg_1m") for r in runs]
    peaks = [r["peak_rss_bytes"] for r in runs if r.get("peak_rss_bytes") is not None]
    if peaks:
        best["peak_rss_bytes"] = max(peaks)
    return best
