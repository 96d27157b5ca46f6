"""bench/processes.py, the measuring loop of every bench command: what it attributes to a process
(memory of the process and its children, never the harness's own), failures, timeouts, the
interleaving and the best run. No timing is asserted."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.bench.modules import bench_module

MIB = 2**20
ALLOCATE = "import numpy; a = numpy.ones({n} * 131072); a.sum(); print('{{\"words\": {n}}}')"  # n MiB, touched


@pytest.fixture(scope="module")
def processes():
    return bench_module("processes")


def test_a_child_peak_is_its_own_not_the_harness(processes, tmp_path: Path) -> None:
    ballast = bytearray(400 * MIB)
    ballast[:: 4096] = b"x" * len(ballast[:: 4096])  # the harness now holds 400 MiB
    small = processes.run_process([sys.executable, "-c", "pass"], cwd=tmp_path)
    assert 0 < small.peak_rss_bytes < 100 * MIB
    big = processes.run_process([sys.executable, "-c", ALLOCATE.format(n=300)], cwd=tmp_path)
    assert 300 * MIB < big.peak_rss_bytes < 700 * MIB
    assert processes.json_line(big.stdout) == {"words": 300}
    assert big.cpu_s > 0 and big.wall_s > 0 and big.load_avg_1m >= 0
    del ballast


def test_grandchildren_count_in_memory_and_cpu(processes, tmp_path: Path) -> None:
    shell = f"{sys.executable} -c \"{ALLOCATE.format(n=250)}\" > /dev/null; true"
    run = processes.run_process(["sh", "-c", shell], cwd=tmp_path)
    assert run.peak_rss_bytes > 250 * MIB  # the shell itself is a few MiB: the Python grandchild's peak
    assert run.cpu_s > 0.01


def test_a_failing_command_raises_with_its_output(processes, tmp_path: Path) -> None:
    with pytest.raises(processes.ProcessFailed, match=r"exit 3[\s\S]*no such luck"):
        processes.run_process([sys.executable, "-c", "import sys; print('no such luck', file=sys.stderr); sys.exit(3)"],
                              cwd=tmp_path)


def test_a_timeout_ends_the_command_and_what_it_started(processes, tmp_path: Path) -> None:
    marker = tmp_path / "pid"
    script = f"import os, subprocess, time; p = subprocess.Popen(['sleep', '60']); open({str(marker)!r}, 'w').write(str(p.pid)); time.sleep(60)"
    with pytest.raises(subprocess.TimeoutExpired):
        processes.run_process([sys.executable, "-c", script], cwd=tmp_path, timeout=3)
    pid = int(marker.read_text())
    for _ in range(50):  # the kill is sent; the kernel reaps the orphan shortly after
        if not Path(f"/proc/{pid}").exists() or "State:\tZ" in Path(f"/proc/{pid}/status").read_text():
            break
        time.sleep(0.1)
    else:
        pytest.fail(f"sleep {pid} outlived the timeout")


def test_interleave_runs_kinds_round_by_round_and_drops_warm_up(processes) -> None:
    order = []
    runs = processes.interleave(["a", "b"], 2, lambda kind, round_: order.append((kind, round_)) or {"r": round_},
                                warmup=1)
    assert order == [("a", 0), ("b", 0), ("a", 1), ("b", 1), ("a", 2), ("b", 2)]
    assert runs == {"a": [{"r": 1}, {"r": 2}], "b": [{"r": 1}, {"r": 2}]}


def test_best_of_keeps_the_fastest_run_and_the_largest_memory(processes) -> None:
    runs = [{"wall_s": 3.0, "cpu_s": 2.0, "peak_rss_bytes": 10, "load_avg_1m": 4.0, "tag": "slow"},
            {"wall_s": 1.0, "cpu_s": 2.5, "peak_rss_bytes": 7, "load_avg_1m": 1.5, "tag": "fast"}]
    best = processes.best_of(runs)
    assert best["tag"] == "fast" and best["cpu_s"] == 2.5 and best["peak_rss_bytes"] == 10
    assert best["walls"] == [3.0, 1.0] and best["cpus"] == [2.0, 2.5] and best["loads"] == [4.0, 1.5]
    with pytest.raises(ValueError):
        processes.best_of([])
