"""bench/latency.py's report: ratios, targets and the README lines, from given figures (no timing)."""

from __future__ import annotations

from tests.bench.modules import bench_module


def _latency():
    return bench_module("latency")


def _results(latency) -> dict:
    walls = {"cli_floor": 0.25, "help": 0.40, "ls": 0.55, "ml_floor": 1.6, "build": 4.0, "evaluation_command": 2.5}
    cases = {}
    for case in latency.CASES:
        entry = {"label": case.label, "wall_s": walls[case.name], "cpu_s": walls[case.name], "floor": case.floor}
        if case.floor:
            entry["ratio"] = entry["cpu_ratio"] = walls[case.name] / walls[case.floor]
        cases[case.name] = entry
    return {"generated_at": "2026-01-01 00:00 UTC", "command": "python bench/latency.py", "python": "3.11",
            "cores": 2, "load_avg_1m": [0.5, 1.0], "cases": cases,
            "evaluations": [{"rows": 2500, "wall_s": 0.8, "cpu_s": 0.7, "timings": {"univariate": 0.2}}]}


def test_report_gives_ratios_and_targets(tmp_path):
    latency = _latency()
    text = latency.render_markdown(_results(latency))
    assert "| `mlmon ls` | 0.55 | 0.55 | 2.20× | 2.20× |" in text
    assert "`mlmon ls` ≤ 2× its floor: 2.20× (not met; CPU 2.20×)" in text
    assert "`mlmon build` ≤ 2× its floor: 2.50× (not met; CPU 2.50×)" in text
    assert "2,500 + 2,500 rows" in text and "univariate 0.20" in text


def test_readme_lines_are_replaced_between_their_markers(tmp_path):
    latency = _latency()
    readme = tmp_path / "README.md"
    readme.write_text(f"# x\n\n## Benchmarks\n\n{latency.BEGIN}\nold\n{latency.END}\n\nafter\n")
    latency.update_readme(_results(latency), readme)
    text = readme.read_text()
    assert "old" not in text and text.count(latency.BEGIN) == 1 and text.endswith("\n\nafter\n")
    assert "| `mlmon --help` | 0.40 |" in text
