from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from mlmon.automation.locks import ScenarioBusyError, lock_path, scenario_lock
from mlmon.errors import MlmonError

# Takes the lock, says so, and holds it until stdin closes (or it is killed).
HOLDER = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    from mlmon.automation.locks import scenario_lock
    with scenario_lock(Path(sys.argv[1]), sys.argv[2]):
        print("held", flush=True)
        sys.stdin.read()
    """
)

# Tries the lock once: exit 0 if it got it, 3 if busy.
TRIER = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    from mlmon.automation.locks import ScenarioBusyError, scenario_lock
    try:
        with scenario_lock(Path(sys.argv[1]), sys.argv[2]):
            pass
    except ScenarioBusyError as exc:
        print(exc, flush=True)
        sys.exit(3)
    """
)


def start_holder(lock_dir: Path, scenario: str) -> subprocess.Popen[str]:
    proc = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(lock_dir), scenario], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout is not None and proc.stdout.readline().strip() == "held"
    return proc


def try_in_other_process(lock_dir: Path, scenario: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", TRIER, str(lock_dir), scenario], capture_output=True, text=True, timeout=60)


def test_lock_excludes_another_process(tmp_path: Path) -> None:
    lock_dir = tmp_path / "target" / "locks"
    holder = start_holder(lock_dir, "retrain_model")
    try:
        with pytest.raises(ScenarioBusyError) as info:
            with scenario_lock(lock_dir, "retrain_model"):
                pytest.fail("took a held lock")
        assert isinstance(info.value, MlmonError) and info.value.exit_code == 2
        assert info.value.holder_pid == holder.pid
        assert "scenario 'retrain_model' is already running" in str(info.value)
        assert str(lock_dir / "retrain_model.lock") in str(info.value)
        with scenario_lock(lock_dir, "other_scenario"):  # other scenarios are not blocked
            pass
    finally:
        holder.communicate("", timeout=60)
    assert holder.returncode == 0
    with scenario_lock(lock_dir, "retrain_model") as path:  # released when the holder ended
        assert path == lock_dir / "retrain_model.lock"


def test_other_process_sees_our_lock(tmp_path: Path) -> None:
    with scenario_lock(tmp_path, "s"):
        busy = try_in_other_process(tmp_path, "s")
        assert busy.returncode == 3, busy.stderr
        assert f"held by process {os.getpid()}" in busy.stdout
    free = try_in_other_process(tmp_path, "s")
    assert free.returncode == 0, free.stderr


def test_killed_holder_releases_the_lock(tmp_path: Path) -> None:
    holder = start_holder(tmp_path, "s")
    with pytest.raises(ScenarioBusyError):
        with scenario_lock(tmp_path, "s"):
            pass
    holder.send_signal(signal.SIGKILL)
    holder.wait(60)
    holder.stdin.close()  # type: ignore[union-attr]
    holder.stdout.close()  # type: ignore[union-attr]
    with scenario_lock(tmp_path, "s"):
        pass


def test_released_after_an_exception(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError):
        with scenario_lock(tmp_path, "s"):
            raise RuntimeError("step blew up")
    assert try_in_other_process(tmp_path, "s").returncode == 0
    assert (tmp_path / "s.lock").read_text() == ""  # no stale pid left behind


def test_same_process_cannot_nest(tmp_path: Path) -> None:
    with scenario_lock(tmp_path, "s"):
        with pytest.raises(ScenarioBusyError):
            with scenario_lock(tmp_path, "s"):
                pass
    with scenario_lock(tmp_path, "s"):
        pass


@pytest.mark.parametrize("name", ["../escape", "a/b", "", ".hidden"])
def test_lock_names_stay_in_the_directory(tmp_path: Path, name: str) -> None:
    with pytest.raises(ValueError):
        lock_path(tmp_path, name)
