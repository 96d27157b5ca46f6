"""The local driver JVM's class-data archive, with real JVMs: the first session writes it at
exit, the next maps it (`-Xshare:on` would stop the JVM if it could not), and a damaged one is
deleted while the session starts without it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

_SESSION = """
import sys
from pathlib import Path
from mlmon.warehouse.spark import spark_session
from mlmon.warehouse.targets import Target
conf = {"spark.driver.extraJavaOptions": sys.argv[2]} if sys.argv[2] else {}
spark = spark_session(Target(name="lake", type="spark", master="local[1]", warehouse_dir=Path(sys.argv[1]), conf=conf))
print("answer", spark.sql("SELECT 6 * 7").collect()[0][0])
"""


def _session(tmp_path: Path, java_options: str = "") -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, XDG_CACHE_HOME=str(tmp_path / "cache"), SPARK_LOCAL_IP="127.0.0.1")
    return subprocess.run([sys.executable, "-c", _SESSION, str(tmp_path / "spark"), java_options],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)


def test_the_archive_is_written_once_then_mapped_and_a_damaged_one_replaced(tmp_path: Path) -> None:
    cache = tmp_path / "cache" / "mlmon"
    first = _session(tmp_path)
    assert "answer 42" in first.stdout, first.stderr[-3000:]
    written = list(cache.glob("spark-jvm-*.part"))
    assert len(written) == 1 and written[0].stat().st_size > 10_000_000

    mapped = _session(tmp_path, "-Xshare:on")
    assert "answer 42" in mapped.stdout, mapped.stderr[-3000:]
    archives = list(cache.glob("spark-jvm-*.jsa"))
    assert len(archives) == 1 and not list(cache.glob("*.part"))

    archives[0].chmod(0o644)
    with archives[0].open("r+b") as damaged:
        damaged.truncate(1_000_000)
    recovered = _session(tmp_path)
    assert "answer 42" in recovered.stdout, recovered.stderr[-3000:]
    assert not archives[0].exists()
    assert not list(tmp_path.glob("hs_err*")), "the JVM's crash report belongs in the cache, not the working folder"
