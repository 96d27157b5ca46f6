"""A target on a Spark Connect URL, against a real Spark Connect server started on 127.0.0.1.

This is how a project reaches a cluster: mlmon is only a client, tables live in the server's
catalog, and scoring runs in the server's executors.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Iterator

import pytest
from tests.conftest import copy_example_project

pytest.importorskip("grpc", reason="Spark Connect needs pyspark[connect] (grpcio)")
pytestmark = pytest.mark.slow



def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def connect_url(tmp_path_factory) -> Iterator[str]:
    import pyspark

    home = Path(pyspark.__file__).parent
    port = _free_port()
    work = tmp_path_factory.mktemp("spark_connect_server")
    env = {**os.environ, "SPARK_HOME": str(home), "SPARK_NO_DAEMONIZE": "1", "SPARK_LOCAL_IP": "127.0.0.1",
           "SPARK_LOG_DIR": str(work), "SPARK_PID_DIR": str(work)}
    server = subprocess.Popen(
        [str(home / "sbin" / "start-connect-server.sh"), "--master", "local[2]",
         "--conf", f"spark.connect.grpc.binding.port={port}", "--conf", f"spark.sql.warehouse.dir={work / 'tables'}",
         "--conf", "spark.ui.enabled=false"],
        cwd=work, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            with socket.socket() as sock:
                if sock.connect_ex(("127.0.0.1", port)) == 0:
                    break
            if server.poll() is not None:
                pytest.fail("the Spark Connect server exited at start")
            time.sleep(1)
        else:
            pytest.fail("the Spark Connect server did not listen within 180 s")
        yield f"sc://127.0.0.1:{port}"
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=60)


@pytest.fixture(scope="module")
def project(tmp_path_factory, connect_url: str) -> Path:
    root = copy_example_project(tmp_path_factory.mktemp("example_on_connect"))
    with (root / "mlmon_project.yml").open("a") as settings:
        settings.write(f'  cluster: {{type: spark, master: "{connect_url}", schema: monitoring}}\n')
    return root


def in_subprocess(code: str, *args: str) -> subprocess.CompletedProcess:
    """Run Python in a new process: a process with a local SparkSession (the other Spark tests
    share this one) cannot open a Spark Connect session too."""
    env = {**os.environ, "SPARK_LOCAL_IP": "127.0.0.1"}
    return subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, env=env, timeout=900)


READ_BACK = """
import json, sys
from pyspark.sql import SparkSession
spark = SparkSession.builder.remote(sys.argv[1]).getOrCreate()
print(json.dumps({
    "scored": spark.table("monitoring.test_scored").count(),
    "kinds": sorted(r.kind for r in spark.sql("SELECT DISTINCT kind FROM mlmon.node_results").collect()),
    "targets": sorted(r.target for r in spark.sql("SELECT DISTINCT target FROM mlmon.node_results").collect()),
}))
spark.stop()
"""


def test_a_project_builds_and_scores_through_spark_connect(project: Path, connect_url: str) -> None:
    build = in_subprocess("import sys; from mlmon.cli import main; sys.argv[0] = 'mlmon'; main()",
                          "build", "--target", "cluster", "-s", "+test_scored unique_transaction_ids",
                          "--project-dir", str(project))
    assert build.returncode == 0, build.stdout + build.stderr
    output = build.stdout + build.stderr
    assert "score test_scored" in output and "2,500 rows" in output
    # The tables are the server's: any other client of the cluster reads them.
    read = in_subprocess(READ_BACK, connect_url)
    assert read.returncode == 0, read.stderr
    seen = json.loads(read.stdout.strip().splitlines()[-1])
    assert seen["scored"] == 2500 and {"model", "score", "check"} <= set(seen["kinds"])
    assert seen["targets"] == ["cluster"]
