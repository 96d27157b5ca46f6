"""The Python workers a model scores in are started in the background on a local master, before
the first scoring needs them, and a failure there is left for the scoring to report."""

from __future__ import annotations

from pathlib import Path

from mlmon.ml.spark_scoring import WORKERS_JOB_GROUP, start_workers
from mlmon.warehouse.spark import SparkWarehouse
from mlmon.warehouse.targets import Target


def _group_jobs(spark) -> list:
    tracker = spark.sparkContext.statusTracker()
    return [tracker.getJobInfo(job) for job in tracker.getJobIdsForGroup(WORKERS_JOB_GROUP)]


def test_a_local_warehouse_starts_one_worker_per_core_once(spark_target: Target, tmp_path: Path) -> None:
    warehouse = SparkWarehouse(spark_target, tmp_path)
    try:
        spark = warehouse.con.spark
        before = len(_group_jobs(spark))
        warehouse.prepare_scoring()
        warehouse.prepare_scoring()  # asked again: the same workers
        warehouse._workers.join(120)
        jobs = _group_jobs(spark)[before:] if before else _group_jobs(spark)
        assert len(jobs) == 1 and jobs[0].status == "SUCCEEDED"
        stages = [spark.sparkContext.statusTracker().getStageInfo(s) for s in jobs[0].stageIds]
        assert max(stage.numTasks for stage in stages if stage is not None) == 2  # local[2]: two workers
    finally:
        warehouse.close()


def test_workers_that_cannot_start_leave_no_error_behind(spark_target: Target, tmp_path: Path) -> None:
    warehouse = SparkWarehouse(spark_target, tmp_path)
    try:
        thread = start_workers(warehouse.con.spark, 0)  # no partition to run: Spark refuses
        thread.join(120)
        assert not thread.is_alive()
    finally:
        warehouse.close()
