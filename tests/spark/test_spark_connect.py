"""A target on a Spark Connect URL, against a real Spark Connect server started on 127.0.0.1.

This is how a project reaches a cluster: mlmon is only a client, tables live in the server's
catalog, and scoring runs in the server's executors.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path
from typing import Iterator

import pytest
from click.testing import CliRunner

from mlmon.cli import cli
from tests.conftest import REPO_ROOT

pytest.importorskip("grpc", reason="Spark Connect needs pyspark[connect] (grpcio)")
pytestmark = pytest.mark.slow

PROJECT_FILES = ("mlmon_project.yml", "models", "monitors", "checks", "macros", "data")


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
    root = tmp_path_factory.mktemp("example_on_connect")
    for name in PROJECT_FILES:
        source = REPO_ROOT / name
        (shutil.copytree if source.is_dir() else shutil.copy)(source, root / name)
    with (root / "mlmon_project.yml").open("a") as settings:
        settings.write(f'  cluster: {{type: spark, master: "{connect_url}", schema: monitoring}}\n')
    return root


def mlmon(root: Path, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, [*args, "--project-dir", str(root)], catch_exceptions=False)
    return result.exit_code, result.output


def test_a_project_builds_and_scores_through_spark_connect(project: Path) -> None:
    code, output = mlmon(project, "build", "--target", "cluster", "-s", "+test_scored unique_transaction_ids")
    assert code == 0, output
    assert "score test_scored" in output and "2,500 rows" in output

    from pyspark.sql import SparkSession

    url = next(line.split('"')[1] for line in (project / "mlmon_project.yml").read_text().splitlines() if "sc://" in line)
    spark = SparkSession.builder.remote(url).getOrCreate()
    try:
        # The tables are the server's: any other client of the cluster reads them.
        assert spark.table("monitoring.test_scored").count() == 2500
        kinds = {r.kind for r in spark.sql("SELECT DISTINCT kind FROM mlmon.node_results").collect()}
        assert {"model", "score", "check"} <= kinds
        assert {r.target for r in spark.sql("SELECT DISTINCT target FROM mlmon.node_results").collect()} == {"cluster"}
    finally:
        spark.stop()  # the client session mlmon opened too, before the server goes away
