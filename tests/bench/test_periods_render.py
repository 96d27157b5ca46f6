"""bench/periods.py's report from given figures (no timing): ratios, the targets' verdicts, the
per-month table, and the README section placed after the harness's."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.bench.modules import bench_module


@pytest.fixture(scope="module")
def periods():
    return bench_module("periods")


def _results(periods, nannyml_wall: float, nannyml_rss: int) -> dict:
    tools = {"mlmon": {"wall_s": 10.0, "cpu_s": 12.0, "peak_rss_bytes": 400 * 2**20, "node_s": 8.0},
             "nannyml": {"wall_s": nannyml_wall, "cpu_s": 36.0, "peak_rss_bytes": nannyml_rss,
                         "phases": {"import": 3.0, "univariate_drift": 16.0}}}
    month = {"n_rows": 250_000, "roc_auc": 0.77, "accuracy": 0.71,
             "columns": {"num_0": {"ks_statistic": 0.0331}, "num_1": {"ks_statistic": 0.002}}}
    estimates = {"2024-01-01": {"estimated_roc_auc": 0.7635, "estimated_accuracy": 0.705}}
    return {
        "generated_at": "2026-01-01 00:00 UTC", "command": "python bench/periods.py",
        "machine": {"cpu": "cpu", "cores": 2, "memory_bytes": 2**34, "os": "Linux", "python": "3.11"},
        "versions": {"mlmon": "0.1.0", "nannyml": "0.13.1"},
        "workload": {"periods": 1, "rows_per_period": 250_000, "reference_rows": 1_000_000, "drift": [1.0],
                     "data_bytes": 290 * 2**20},
        "repeat": 2, "load_avg_1m": [0.5, 1.5], "tools": tools, "ratios": periods._ratios(tools),
        "outputs": {"mlmon": {"periods": estimates}, "nannyml": {"periods": {}}},
        "truth": {"2024-01-01": month},
        "agreement": {"summary": [{"tool": "nannyml", "statistic": "ks_statistic", "against": "scipy",
                                   "columns": 120, "max_abs_diff": 1.1e-4, "worst_column": "2024-05 num_2"}]},
    }


def test_ratios_and_targets_met(periods) -> None:
    results = _results(periods, nannyml_wall=40.0, nannyml_rss=1000 * 2**20)
    assert results["ratios"]["nannyml"] == {"wall": 4.0, "cpu": 3.0, "rss": 2.5}
    text = periods.render_markdown(results)
    assert "Targets: mlmon ≥ 3× faster than NannyML: 4.00× (met); ≤ ½ its peak memory: 0.40 of it (met)." in text
    assert "| 10.00 | 12.00 | 400 | 1× | 1× | 1× |" in text
    assert "| 40.00 | 36.00 | 1,000 | 4.0× | 3.0× | 2.5× |" in text
    assert "the evaluation node 8.00 s of the build's 10.00 s" in text
    assert "| 2024-01 | 1 | 250,000 | 0.7700 | 0.7635 | – | 0.7100 | 0.7050 | – | 0.0331 (num_0) |" in text
    assert "| nannyml | ks_statistic | scipy | 120 | 1.1e-04 | 2024-05 num_2 |" in text


def test_targets_not_met_are_said_so(periods) -> None:
    text = periods.render_markdown(_results(periods, nannyml_wall=20.0, nannyml_rss=600 * 2**20))
    assert "2.00× (not met); ≤ ½ its peak memory: 0.67 of it (not met)." in text


def test_readme_section_goes_after_the_harness_section_then_is_replaced(periods, tmp_path: Path) -> None:
    readme = tmp_path / "README.md"
    readme.write_text("# x\n\n## Benchmarks\n\n<!-- bench:begin -->\nh\n<!-- bench:end -->\n\n"
                      "<!-- latency:begin -->\nl\n<!-- latency:end -->\n")
    periods.update_readme(_results(periods, 40.0, 1000 * 2**20), readme)
    text = readme.read_text()
    assert text.index("<!-- bench:end -->") < text.index(periods.BEGIN) < text.index(periods.END) \
        < text.index("<!-- latency:begin -->")
    periods.update_readme(_results(periods, 20.0, 600 * 2**20), readme)
    again = readme.read_text()
    assert again.count(periods.BEGIN) == 1 and "(not met)" in again and "4.00× (met)" not in again
