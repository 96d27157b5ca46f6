"""bench/spark_latency.py's report: the rounds' ratios and the target judged on their median (no timing)."""

from __future__ import annotations

from tests.bench.modules import bench_module


def _results(ratios: list[float]) -> dict:
    cost = {"node": "scores", "kind": "dataset", "seconds": 0.5, "statements": 2, "fetches": 1, "jobs": 3, "spark_s": 0.4}
    return {"generated_at": "2026-01-01 00:00 UTC", "command": "python bench/spark_latency.py --repeat 3",
            "python": "3.11", "cores": 2, "target_ratio": 4.0, "ratios": ratios, "ratio": min(ratios),
            "duckdb": {"wall_s": 10.0, "load_1m": 0.5, "costs": [dict(cost, seconds=0.1)]},
            "lake": {"wall_s": 10.0 * min(ratios), "load_1m": 1.5, "statements": 200, "jobs": 150,
                     "traced_wall_s": 41.0, "costs": [cost]}}


def test_the_target_is_judged_on_the_median_round() -> None:
    spark = bench_module("spark_latency")
    text = spark.render_markdown(_results([4.3, 3.9, 4.1]))
    assert "every round: 4.30×, 3.90×, 4.10×; median 4.10× (target ≤ 4× on the median: not met)" in text
    assert "ratio 3.90× in the round shown" in text
    assert "| scores | dataset | 0.10 | 0.50 | 2 | 1 | 3 | 0.40 |" in text
    assert "(target ≤ 4× on the median: met)" in spark.render_markdown(_results([4.3, 3.9, 4.0]))
