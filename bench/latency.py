"""Interactive latency: how long everyday commands take, against what their imports alone cost.

    python bench/latency.py [--repeat 5] [--rows 2500] [--no-readme]

Every measurement is a fresh process, the kinds interleaved round by round, best of
`--repeat` (wall and CPU seconds, CPU including every thread):

- `cli floor`: `import duckdb, click, rich, yaml, jinja2, sqlglot` (the libraries `ls` needs);
- `mlmon --help`, `mlmon ls` in a copy of the example project;
- `ML floor`: `import sklearn, pandas, duckdb, scipy`;
- `mlmon build` of the example project's tutorial nodes from an empty target/ (train
  fraud_model, score, two evaluations, checks);
- `mlmon build -s mes_for_input_drift`: one evaluation of 2,500 rows as a command, the
  warehouse already built;
- the evaluation alone at `--rows` rows per side (bench/run_mlmon.py on bench/data.py's
  files: univariate, domain-classifier, prediction drift and CBPE, imports excluded).

Processes run with bytecode caches (as an installed package has them), after one warm-up round.
Results go to bench/results/latency.{json,md} and the README's Benchmarks section (between the
latency markers). Timings never appear in the tests.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
sys.path.insert(0, str(BENCH))

from data import ensure_data  # noqa: E402
from processes import best_of, checkout_env, interleave, json_line, run_process  # noqa: E402
from reporting import now, replace_section  # noqa: E402

__all__ = ["Case", "CASES", "TARGETS", "main", "measure", "render_markdown"]

RESULTS = BENCH / "results"
README = ROOT / "README.md"
BEGIN, END = "<!-- latency:begin -->", "<!-- latency:end -->"
EXAMPLE_FILES = ("mlmon_project.yml", "models", "monitors", "checks", "macros", "data")
# The tutorial's nodes: stores added to the example later are not part of this figure.
TUTORIAL_NODES = (
    "new_transactions", "no_negative_amounts", "recent_labeled", "transactions_train", "fraud_model",
    "mes_for_input_drift", "data_drift_in_range", "retrain_on_drift", "test_scored", "mes_for_ground_truth",
    "auc_in_range", "unique_transaction_ids",
)


@dataclass(frozen=True)
class Case:
    name: str
    label: str
    floor: str | None = None  # the case this one is compared with


CASES = (
    Case("cli_floor", "import duckdb, click, rich, yaml, jinja2, sqlglot"),
    Case("help", "mlmon --help", floor="cli_floor"),
    Case("ls", "mlmon ls", floor="cli_floor"),
    Case("ml_floor", "import sklearn, pandas, duckdb, scipy"),
    Case("build", "mlmon build (the example project's tutorial nodes, empty target/)", floor="ml_floor"),
    Case("evaluation_command", "mlmon build -s mes_for_input_drift (2,500 rows)", floor="ml_floor"),
)
# (case, most allowed ratio to its floor)
TARGETS = {"ls": 2.0, "build": 2.0}


def _argv(case: str) -> list[str]:
    py = sys.executable
    selection = ["-s", " ".join(TUTORIAL_NODES)]  # one argument: a space is a union
    return {
        "cli_floor": [py, "-c", "import duckdb, click, rich, yaml, jinja2, sqlglot"],
        "help": [py, "-m", "mlmon", "--help"],
        "ls": [py, "-m", "mlmon", "ls"],
        "ml_floor": [py, "-c", "import sklearn, pandas, duckdb, scipy"],
        "build": [py, "-m", "mlmon", "build", *selection],
        "evaluation_command": [py, "-m", "mlmon", "build", "-s", "mes_for_input_drift"],
    }[case]


def measure(argv: list[str], cwd: Path, before: Any = None) -> dict[str, Any]:
    """Wall and CPU seconds and peak RSS of one fresh process; `before()` runs first, untimed."""
    if before is not None:
        before()
    return run_process(argv, cwd=cwd, env=checkout_env(), timeout=600).figures()


def _example(folder: Path) -> Path:
    for name in EXAMPLE_FILES:
        source = ROOT / name
        (shutil.copytree if source.is_dir() else shutil.copy)(source, folder / name)
    return folder


def _evaluation_alone(rows: int, repeat: int) -> dict[str, Any]:
    """bench/run_mlmon.py at `rows` per side: the evaluation's own seconds, imports excluded."""
    folder = ensure_data(rows)
    argv = [sys.executable, str(BENCH / "run_mlmon.py"), "--data", str(folder), "--no-floor"]

    def once(_: str, __: int) -> dict[str, Any]:
        result = json_line(run_process(argv, cwd=BENCH, env=checkout_env(), timeout=600).stdout)
        if result is None:
            raise RuntimeError("run_mlmon.py printed no result")
        return result

    best = best_of(interleave(["evaluation"], repeat, once)["evaluation"])
    return {"rows": rows, "wall_s": best["wall_s"], "cpu_s": best["cpu_s"], "walls": best["walls"],
            "timings": best["timings"]}


def run(repeat: int, rows: list[int]) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="mlmon-latency-") as tmp:
        project = _example(Path(tmp))
        target = project / "target"

        def empty_target() -> None:
            shutil.rmtree(target, ignore_errors=True)

        def once(case: Case, _: int) -> dict[str, Any]:
            return measure(_argv(case.name), project, empty_target if case.name == "build" else None)

        # Round 0 warms caches and writes bytecode.
        runs = interleave(CASES, repeat, once, warmup=1)
    cases = {}
    for case, case_runs in runs.items():
        best = best_of(case_runs)
        cases[case.name] = {"label": case.label, "wall_s": best["wall_s"], "cpu_s": best["cpu_s"],
                            "peak_rss_bytes": best["peak_rss_bytes"], "walls": best["walls"], "floor": case.floor}
    for case in cases.values():
        if case["floor"]:
            floor = cases[case["floor"]]
            case["ratio"] = case["wall_s"] / floor["wall_s"]
            case["cpu_ratio"] = case["cpu_s"] / floor["cpu_s"]
    loads = [r["load_avg_1m"] for case_runs in runs.values() for r in case_runs]
    evaluations = [_evaluation_alone(n, repeat) for n in rows]
    return {"generated_at": now(),
            "command": "python bench/latency.py --repeat " + str(repeat) + " --rows " + " ".join(map(str, rows)),
            "python": sys.version.split()[0], "cores": os.cpu_count(),
            "load_avg_1m": [min(loads), max(loads)], "cases": cases, "evaluations": evaluations}


def _targets(results: dict[str, Any]) -> str:
    parts = []
    for name, most in TARGETS.items():
        case = results["cases"][name]
        verdict = "met" if case["ratio"] <= most else "not met"
        parts.append(f"`{case['label'].split(' (')[0]}` ≤ {most:g}× its floor: {case['ratio']:.2f}× ({verdict}; "
                     f"CPU {case['cpu_ratio']:.2f}×)")
    return "Targets: " + "; ".join(parts) + "."


def render_markdown(results: dict[str, Any]) -> str:
    low, high = results["load_avg_1m"]
    lines = [
        f"Each a fresh process, best of the runs; the machine's {results['cores']} cores are shared (1-minute load "
        f"average {low:.1f}–{high:.1f}); Python {results['python']}; measured {results['generated_at']} with "
        f"`{results['command']}`.",
        "",
        "| command | wall s | CPU s | wall / floor | CPU / floor |",
        "|---|---:|---:|---:|---:|",
    ]
    for case in results["cases"].values():
        ratio = f"{case['ratio']:.2f}×" if "ratio" in case else "(floor)"
        cpu_ratio = f"{case['cpu_ratio']:.2f}×" if "cpu_ratio" in case else ""
        lines.append(f"| `{case['label']}` | {case['wall_s']:.2f} | {case['cpu_s']:.2f} | {ratio} | {cpu_ratio} |")
    lines += ["", _targets(results), ""]
    for ev in results["evaluations"]:
        families = ", ".join(f"{k} {v:.2f}" for k, v in ev["timings"].items() if v >= 0.005)
        lines.append(f"The evaluation alone at {ev['rows']:,} + {ev['rows']:,} rows (bench/run_mlmon.py, imports "
                     f"excluded): {ev['wall_s']:.2f} s wall, {ev['cpu_s']:.2f} s CPU ({families}).")
    return "\n".join(lines) + "\n"


def update_readme(results: dict[str, Any], readme: Path = README) -> None:
    section = "\n".join([BEGIN, "Latency of everyday commands against the imports they cannot avoid "
                         "(`python bench/latency.py`):", "", render_markdown(results).rstrip("\n"), END])
    replace_section(readme, BEGIN, END, section)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5, help="timed rounds (after one warm-up round)")
    parser.add_argument("--rows", type=int, nargs="*", default=[2_500], help="rows per side of the evaluation alone")
    parser.add_argument("--results-dir", type=Path, default=RESULTS)
    parser.add_argument("--no-readme", action="store_true", help="leave README.md alone")
    args = parser.parse_args(argv)
    results = run(max(1, args.repeat), args.rows)
    args.results_dir.mkdir(parents=True, exist_ok=True)
    (args.results_dir / "latency.json").write_text(json.dumps(results, indent=1) + "\n")
    markdown = render_markdown(results)
    (args.results_dir / "latency.md").write_text("# mlmon latency\n\n" + markdown)
    if args.results_dir.resolve() == RESULTS.resolve() and not args.no_readme:
        update_readme(results)
    print(markdown)
    return 0


if __name__ == "__main__":
    sys.exit(main())
