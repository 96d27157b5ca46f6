"""The everyday monitoring workload against NannyML: a year of months against one reference.

    python bench/periods.py [--periods 12] [--rows-per-period 250000] [--reference-rows 1000000]
                            [--repeat 2] [--peers nannyml | none]

The data (bench/period_data.py): `--periods` months of logged rows (features, the model's
`proba_1` and `prediction`, the outcome, a timestamp) against a reference, mild drift in some
months, written once as parquet under bench/.data/. Both tools read those files, each as a
whole fresh process, interleaved, best of `--repeat` (bench/processes.py: wall and CPU seconds
of the process and its children, their peak RSS, the load average when each started):

- mlmon: `mlmon build` of a small project with one standalone evaluation over the files,
  `period: {column: timestamp, every: month}`, `data_drift: false` (bench/mlmon_periods.py),
  from an empty target/; its per-period metrics are read back from the warehouse;
- NannyML (bench/.venv-nannyml, installed on first use at the version pinned in harness.py):
  univariate drift, CBPE and realised performance with `chunk_period='M'`
  (bench/run_nannyml_periods.py), which writes its per-period outputs.

Then bench/period_agreement.py compares the outputs with each other and with scipy and
scikit-learn, and the results go to bench/results/periods.{json,md} and the README's
Benchmarks section (only with the default --results-dir).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
sys.path.insert(0, str(BENCH))

import mlmon_periods  # noqa: E402
import period_agreement  # noqa: E402
import reporting  # noqa: E402
from data import DATA_ROOT  # noqa: E402
from harness import PEERS, ensure_peer  # noqa: E402
from period_data import drift_factors, ensure_period_data  # noqa: E402
from processes import best_of, checkout_env, interleave, run_process  # noqa: E402
from reporting import mib, sci, secs, times  # noqa: E402

__all__ = ["main", "run_workload", "render_markdown", "render_readme_section", "update_readme", "TARGETS"]

RESULTS = BENCH / "results"
README = ROOT / "README.md"
BEGIN, END = "<!-- periods:begin -->", "<!-- periods:end -->"
AFTER = "<!-- bench:end -->"  # the README section goes right after the harness's
# The goals: NannyML's wall seconds over mlmon's at least this, mlmon's peak RSS over NannyML's at most this.
TARGETS = {"speed": 3.0, "memory": 0.5}
TOOLS = ("mlmon", "nannyml")
NANNYML_SCRIPT = BENCH / "run_nannyml_periods.py"  # run by PEERS["nannyml"]'s interpreter
_WHAT = {
    "mlmon": "`mlmon build` (one evaluation node, `period:` monthly, `data_drift: false`)",
    "nannyml": "NannyML: univariate drift, CBPE, realised performance (`chunk_period='M'`)",
}


def _say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def run_workload(folder: Path, tools: list[str], repeat: int, timeout: float) -> dict[str, Any]:
    """Every tool `repeat` times, interleaved; their best runs and the outputs of their last runs."""
    peer = PEERS["nannyml"]
    with tempfile.TemporaryDirectory(prefix="mlmon-periods-") as tmp:
        project = mlmon_periods.write_project(Path(tmp) / "project", folder)
        nannyml_out = Path(tmp) / "nannyml.json"

        def once(tool: str, round_: int) -> dict[str, Any]:
            _say(f"run {round_ + 1}/{repeat}: {tool}")
            if tool == "mlmon":
                def build(logged: Path | None = None) -> dict[str, Any]:
                    return run_process(mlmon_periods.build_argv(logged), cwd=project, env=checkout_env(),
                                       timeout=timeout).figures()

                mlmon_periods.clean_target(project)
                run = build()
                run["node_s"] = mlmon_periods.node_seconds(project)
                # The everyday builds after it: nothing changed; then, from a build of every month
                # but the last, the last month arriving.
                later = {"unchanged": build()}
                mlmon_periods.clean_target(project)
                build(mlmon_periods.all_but_last_month(folder))
                later["new_month"] = build()
                run["later"] = {name: {key: figures[key] for key in ("wall_s", "cpu_s", "peak_rss_bytes")}
                                for name, figures in later.items()}
                return run
            nannyml_out.unlink(missing_ok=True)
            argv = [str(peer.python), str(NANNYML_SCRIPT), "--data", str(folder), "--out", str(nannyml_out)]
            env = dict(os.environ, NML_DISABLE_USAGE_LOGGING="1", PYTHONWARNINGS="ignore")
            run = run_process(argv, cwd=BENCH, env=env, timeout=timeout).figures()
            run["phases"] = json.loads(nannyml_out.read_text())["phases"]
            return run

        runs = interleave(tools, repeat, once)
        outputs = {"mlmon": {"periods": mlmon_periods.read_outputs(project), "versions": _mlmon_versions()}}
        if "nannyml" in tools:
            outputs["nannyml"] = json.loads(nannyml_out.read_text())
    return {"runs": runs, "outputs": outputs}


def _mlmon_versions() -> dict[str, str]:
    from importlib.metadata import version

    import duckdb

    return {"mlmon": version("mlmon"), "duckdb": duckdb.__version__}


def _ratios(best: dict[str, dict[str, Any]]) -> dict[str, dict[str, float]]:
    mlmon = best["mlmon"]
    return {tool: {"wall": run["wall_s"] / mlmon["wall_s"], "cpu": run["cpu_s"] / mlmon["cpu_s"],
                   "rss": run["peak_rss_bytes"] / mlmon["peak_rss_bytes"]}
            for tool, run in best.items() if tool != "mlmon"}


def _command(args: argparse.Namespace, peers: list[str]) -> str:
    return (f"python bench/periods.py --periods {args.periods} --rows-per-period {args.rows_per_period} "
            f"--reference-rows {args.reference_rows} --repeat {args.repeat}"
            + (" --peers " + " ".join(peers) if peers else " --peers none"))


# --- rendering --------------------------------------------------------------------------------


def _workload_line(results: dict[str, Any]) -> str:
    w = results["workload"]
    drifting = sum(1 for d in w["drift"] if d > 0)
    return (f"{w['periods']} months × {w['rows_per_period']:,} logged rows (10 numeric + 5 categorical features, "
            f"`proba_1`, `prediction`, the outcome of every row, a timestamp) against a {w['reference_rows']:,}-row "
            f"reference, {mib(w['data_bytes'])} MiB of parquet; {drifting or 'none'} of the months drift mildly (drift "
            f"factors {', '.join(f'{d:g}' for d in w['drift'])}).")


def _header(results: dict[str, Any]) -> list[str]:
    low, high = results["load_avg_1m"]
    versions = ", ".join(f"{k} {v}" for k, v in results["versions"].items())
    return [f"Machine: {reporting.machine_line(results['machine'])}; 1-minute load average {low:.1f}–{high:.1f} "
            f"when the runs started (other jobs share the machine). Measured {results['generated_at']}.",
            "", f"Versions: {versions}."]


def _main_table(results: dict[str, Any]) -> list[str]:
    lines = [f"| tool | wall s (best of {results['repeat']}) | CPU s | peak RSS MiB | wall / mlmon | CPU / mlmon | "
             "RSS / mlmon |", "|---|---:|---:|---:|---:|---:|---:|"]
    for tool in TOOLS:
        if tool in results["tools"]:
            t, r = results["tools"][tool], results["ratios"].get(tool)
            ratio = (lambda key: times(r[key])) if r else (lambda key: "1×")
            lines.append(f"| {_WHAT[tool]} | {secs(t['wall_s'])} | {secs(t['cpu_s'])} | {mib(t['peak_rss_bytes'])} | "
                         f"{ratio('wall')} | {ratio('cpu')} | {ratio('rss')} |")
    return lines


def _later_builds(results: dict[str, Any]) -> str:
    later = results["tools"]["mlmon"].get("later")
    if not later:
        return ""
    return (f"Later builds of the same project (mlmon alone, each a whole process, best of {results['repeat']}): "
            f"nothing changed, {secs(later['unchanged']['wall_s'])} s ({mib(later['unchanged']['peak_rss_bytes'])} MiB); "
            f"the last month arriving after a build of the others, {secs(later['new_month']['wall_s'])} s "
            f"({mib(later['new_month']['peak_rss_bytes'])} MiB). Only the stale months' rows are read again.")


def _targets(results: dict[str, Any]) -> str:
    ratio = results["ratios"].get("nannyml")
    if not ratio:
        return "Targets: not judged (NannyML not run)."
    speed, memory = ratio["wall"], 1.0 / ratio["rss"]

    def verdict(ok: bool) -> str:
        return "met" if ok else "not met"

    return (f"Targets: mlmon ≥ {TARGETS['speed']:g}× faster than NannyML: {speed:.2f}× "
            f"({verdict(speed >= TARGETS['speed'])}); ≤ ½ its peak memory: {memory:.2f} of it "
            f"({verdict(memory <= TARGETS['memory'])}).")


def _where_time_goes(results: dict[str, Any]) -> list[str]:
    lines = []
    mlmon = results["tools"]["mlmon"]
    if mlmon.get("node_s") is not None:
        lines.append(f"- mlmon: the evaluation node {secs(mlmon['node_s'])} s of the build's {secs(mlmon['wall_s'])} s "
                     "(the rest: interpreter, imports, compiling the project, warehouse, publishing its copy).")
    nannyml = results["tools"].get("nannyml")
    if nannyml:
        phases = ", ".join(f"{name.replace('_', ' ')} {secs(value)}" for name, value in nannyml["phases"].items())
        lines.append(f"- NannyML, seconds: {phases}.")
    return lines


def _periods_table(results: dict[str, Any]) -> list[str]:
    outputs, truth = results["outputs"], results["truth"]
    tools = [t for t in TOOLS if t in outputs]
    head = "| month | drift | rows | realised ROC AUC | " + " | ".join(f"{t} est. ROC AUC" for t in tools) + \
           " | realised accuracy | " + " | ".join(f"{t} est. accuracy" for t in tools) + " | largest KS (scipy) |"
    lines = [head, "|---|---:|---:|---:|" + "---:|" * len(tools) + "---:|" + "---:|" * len(tools) + "---|"]
    drift = results["workload"]["drift"]
    for k, (period, want) in enumerate(truth.items()):
        est = {t: outputs[t]["periods"].get(period, {}) for t in tools}
        ks_column, ks = max(((c, v["ks_statistic"]) for c, v in want["columns"].items() if "ks_statistic" in v),
                            key=lambda item: item[1])
        cells = [period[:7], f"{drift[k]:g}", f"{want['n_rows']:,}", f"{want['roc_auc']:.4f}",
                 *(_fmt(est[t].get("estimated_roc_auc")) for t in tools), f"{want['accuracy']:.4f}",
                 *(_fmt(est[t].get("estimated_accuracy")) for t in tools), f"{ks:.4f} ({ks_column})"]
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def _fmt(value: float | None) -> str:
    return "–" if value is None else f"{value:.4f}"


def _agreement_table(results: dict[str, Any]) -> list[str]:
    lines = ["| tool | statistic | compared with | values | max abs diff | where |", "|---|---|---|---:|---:|---|"]
    for row in results["agreement"]["summary"]:
        lines.append(f"| {row['tool']} | {row['statistic']} | {row['against']} | {row['columns']} | "
                     f"{sci(row['max_abs_diff'])} | {row['worst_column']} |")
    return lines


def render_markdown(results: dict[str, Any]) -> str:
    doc = period_agreement.__doc__.split("\n\n", 1)[1].strip()
    return "\n".join([
        "# The period workload: mlmon against NannyML", "", f"`{results['command']}`", "", *_header(results), "",
        _workload_line(results), "",
        "Each tool is a whole fresh process reading the same parquet files (interpreter start, imports and, for "
        "mlmon, compiling the project and writing the warehouse included); CPU seconds count every thread of the "
        "process and its children; peak RSS is the largest high-water mark among them, the largest over the runs.",
        "", *_main_table(results), "", _targets(results), "", _later_builds(results), "",
        "Where the time goes (best run):", "",
        *_where_time_goes(results), "", "## Per month", "", *_periods_table(results), "", "## Agreement", "", doc, "",
        *_agreement_table(results), ""])


def render_readme_section(results: dict[str, Any]) -> str:
    return "\n".join([
        BEGIN, "The everyday workload: " + _workload_line(results) + " mlmon's whole `mlmon build` process against a "
        "NannyML script (univariate KS / Wasserstein / chi-square, CBPE and realised ROC AUC and accuracy, "
        "`chunk_period='M'`) on the same files; regenerate it with:", "", "```bash", results["command"], "```", "",
        *_main_table(results), "", _targets(results) + " " + _later_builds(results)
        + f" Measured {results['generated_at']}, 1-minute load average "
        f"{results['load_avg_1m'][0]:.1f}–{results['load_avg_1m'][1]:.1f}. Per month figures and the agreement of "
        "every statistic: [bench/results/periods.md](bench/results/periods.md).", END])


def update_readme(results: dict[str, Any], readme: Path = README) -> None:
    reporting.replace_section(readme, BEGIN, END, render_readme_section(results), after=AFTER)


def _write(results: dict[str, Any], results_dir: Path, no_readme: bool) -> None:
    (results_dir / "periods.md").write_text(render_markdown(results))
    if results_dir.resolve() == RESULTS.resolve() and not no_readme:
        update_readme(results)
    print("\n".join([*_main_table(results), "", _targets(results), "", *_agreement_table(results)]))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--periods", type=int, default=12, help="months of logged rows")
    parser.add_argument("--rows-per-period", type=int, default=250_000)
    parser.add_argument("--reference-rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=2, help="runs per tool, interleaved; the best is kept")
    parser.add_argument("--peers", nargs="*", default=["nannyml"], help="nannyml, or none")
    parser.add_argument("--timeout", type=float, default=3600.0, help="seconds before a run is given up")
    parser.add_argument("--results-dir", type=Path, default=RESULTS)
    parser.add_argument("--data-dir", type=Path, default=DATA_ROOT)
    parser.add_argument("--render", action="store_true", help="only rewrite periods.md (and the README) from periods.json")
    parser.add_argument("--no-readme", action="store_true", help="leave README.md alone")
    args = parser.parse_args(argv)
    if args.render:
        _write(json.loads((args.results_dir / "periods.json").read_text()), args.results_dir, args.no_readme)
        return 0
    peers = [p for p in args.peers if p != "none"]
    if set(peers) - {"nannyml"}:
        parser.error(f"unknown peer(s): {', '.join(sorted(set(peers) - {'nannyml'}))}; known: nannyml")
    if min(args.periods, args.rows_per_period, args.reference_rows, args.repeat) < 1:
        parser.error("--periods, --rows-per-period, --reference-rows and --repeat must be at least 1")
    for peer in peers:
        ensure_peer(PEERS[peer])
    _say(f"data: {args.periods} × {args.rows_per_period:,} rows vs {args.reference_rows:,}")
    folder = ensure_period_data(args.periods, args.rows_per_period, args.reference_rows, root=args.data_dir)
    source = reporting.source()  # before the runs: the code measured, even if the checkout moves on meanwhile
    tools = ["mlmon", *peers]
    measured = run_workload(folder, tools, args.repeat, args.timeout)
    best = {tool: best_of(runs) for tool, runs in measured["runs"].items()}
    best["mlmon"]["later"] = {name: min((run["later"][name] for run in measured["runs"]["mlmon"]),
                                        key=lambda figures: figures["wall_s"])
                              for name in measured["runs"]["mlmon"][0]["later"]}
    outputs = measured["outputs"]
    _say("agreement with scipy and scikit-learn")
    truth = period_agreement.yardstick(folder, args.periods)
    rows = period_agreement.compare(truth, {tool: out["periods"] for tool, out in outputs.items()})
    loads = [run["load_avg_1m"] for runs in measured["runs"].values() for run in runs]
    results = {
        "generated_at": reporting.now(), "command": _command(args, peers), "machine": reporting.machine(),
        "versions": reporting.versions(((tool, out["versions"]) for tool, out in outputs.items()), source),
        "workload": {"periods": args.periods, "rows_per_period": args.rows_per_period,
                     "reference_rows": args.reference_rows, "drift": drift_factors(args.periods),
                     "data_bytes": sum((folder / name).stat().st_size
                                       for name in ("reference.parquet", "analysis.parquet"))},
        "repeat": args.repeat, "load_avg_1m": [min(loads), max(loads)],
        "tools": best, "ratios": _ratios(best), "targets": TARGETS,
        "outputs": outputs, "truth": truth,
        "agreement": {"summary": period_agreement.summary_rows(rows), "rows": rows},
    }
    args.results_dir.mkdir(parents=True, exist_ok=True)
    (args.results_dir / "periods.json").write_text(json.dumps(results, indent=1) + "\n")
    _write(results, args.results_dir, args.no_readme)
    return 0


if __name__ == "__main__":
    sys.exit(main())
