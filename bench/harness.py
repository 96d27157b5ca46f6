"""Benchmark mlmon's evaluation against Evidently and NannyML on identical data; one command.

    python bench/harness.py --rows 100000 1000000 --peers evidently nannyml [--scale 10000000] [--profile]

For each N it writes N reference + N current rows once (bench/data.py, parquet under
bench/.data/), then runs every tool in a fresh process, interleaved, best of 3 runs up to
100k rows and best of 2 above. Each runner prints one JSON line: wall and CPU seconds of the
work (reading the data included, interpreter start and imports not), its own peak RSS, and
the per-column statistics it computed. Peers live in their own virtual environments under
bench/.venv-<tool>, created on first use. Then bench/agreement.py compares the statistics
with scipy, and the results go to bench/results/results.{json,md} and the README's
Benchmarks section.

`--scale N` also times mlmon alone at N + N rows once (minutes at 10M); without it, the
last recorded scale run is carried over with its date. `--profile` writes a pyinstrument
profile of mlmon at the largest N to bench/results/.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
sys.path.insert(0, str(BENCH))

import agreement  # noqa: E402
from data import DATA_ROOT, ensure_data  # noqa: E402
import reporting  # noqa: E402
from processes import best_of, interleave, json_line, run_process  # noqa: E402
from reporting import mib, secs, sci, times  # noqa: E402

__all__ = ["Peer", "PEERS", "main", "run_tool", "ensure_peer", "render_markdown"]

RESULTS = BENCH / "results"
README = ROOT / "README.md"
BEGIN, END = "<!-- bench:begin -->", "<!-- bench:end -->"
TOOLS = ("mlmon", "evidently", "nannyml")


@dataclass(frozen=True)
class Peer:
    name: str
    requirements: tuple[str, ...]
    script: str

    @property
    def venv(self) -> Path:
        return BENCH / f".venv-{self.name}"

    @property
    def python(self) -> Path:
        return self.venv / "bin" / "python"


PEERS: dict[str, Peer] = {
    # Evidently's legacy stat tests break on pandas 3.
    "evidently": Peer("evidently", ("evidently==0.7.23", "pandas<3", "pyarrow"), "run_evidently.py"),
    # NannyML imports statsmodels (for plots) without declaring it.
    "nannyml": Peer("nannyml", ("nannyml==0.13.1", "statsmodels", "pyarrow"), "run_nannyml.py"),
}


def _say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def ensure_peer(peer: Peer) -> None:
    """Create the peer's virtual environment, or bring it to `peer.requirements`."""
    stamp = peer.venv / "bench-requirements.txt"
    wanted = "\n".join(peer.requirements) + "\n"
    if peer.python.exists() and stamp.exists() and stamp.read_text() == wanted:
        return
    _say(f"setting up {peer.venv.relative_to(ROOT)}: {' '.join(peer.requirements)}")
    if not peer.python.exists():
        subprocess.run([sys.executable, "-m", "venv", str(peer.venv)], check=True)
    subprocess.run([str(peer.python), "-m", "pip", "install", "-q", "--disable-pip-version-check",
                    *peer.requirements], check=True)
    stamp.write_text(wanted)


def _python_for(tool: str) -> tuple[str, Path]:
    if tool == "mlmon":
        return sys.executable, BENCH / "run_mlmon.py"
    peer = PEERS[tool]
    return str(peer.python), BENCH / peer.script


def run_tool(tool: str, folder: Path, extra: Sequence[str] = (), timeout: float = 3600.0) -> dict[str, Any]:
    """One fresh process of a runner: its JSON line (the work's own figures, imports excluded),
    plus the whole process's figures and the load average when it started."""
    python, script = _python_for(tool)
    env = dict(os.environ, NML_DISABLE_USAGE_LOGGING="1", PYTHONWARNINGS="ignore")
    proc = run_process([python, str(script), "--data", str(folder), *extra], cwd=BENCH, env=env, timeout=timeout)
    result = json_line(proc.stdout)
    if result is None:
        raise RuntimeError(f"{tool} printed no result:\n{proc.stderr[-4000:]}")
    result["load_avg_1m"] = proc.load_avg_1m
    result["process_s"] = proc.wall_s
    result["process_cpu_s"] = proc.cpu_s
    result["process_peak_rss_bytes"] = proc.peak_rss_bytes
    return result


def _repeats(rows: int, override: int | None) -> int:
    if override:
        return override
    return 3 if rows <= 100_000 else 2


def _best(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """The fastest run, with the largest peak RSS over all runs (the cautious memory figure)."""
    best = best_of(runs)
    floors = [r["floor_s"] for r in runs if r.get("floor_s") is not None]
    if floors:
        best["floor_s"] = min(floors)
    return best


def bench_size(rows: int, tools: Sequence[str], data_root: Path, repeat: int | None) -> dict[str, Any]:
    folder = ensure_data(rows, root=data_root)
    n = _repeats(rows, repeat)

    def run(tool: str, round_: int) -> dict[str, Any]:
        _say(f"N={rows:,} run {round_ + 1}/{n}: {tool}")
        return run_tool(tool, folder, ["--agreement"] if tool == "evidently" and round_ == 0 else [])

    runs = interleave(tools, n, run)
    best = {t: _best(r) for t, r in runs.items()}
    # Statistics come from the first run: the only Evidently run with the extra KS/PSI report.
    stats = {t: r[0]["columns"] for t, r in runs.items()}
    for tool in tools:
        best[tool]["columns"] = stats[tool]
    _say(f"N={rows:,}: agreement with scipy")
    rows_ = agreement.compare(agreement.yardstick(folder, "evidently" in tools), stats)
    mlmon = best["mlmon"]
    ratios = {t: {"wall": best[t]["wall_s"] / mlmon["wall_s"],
                  "cpu": best[t]["cpu_s"] / mlmon["cpu_s"] if mlmon.get("cpu_s") else None,
                  "rss": best[t]["peak_rss_bytes"] / mlmon["peak_rss_bytes"]} for t in tools if t != "mlmon"}
    loads = [r["load_avg_1m"] for rs in runs.values() for r in rs]
    return {
        "rows": rows,
        "repeat": n,
        "data_bytes": sum(p.stat().st_size for p in folder.glob("*.parquet")),
        "load_avg_1m": [min(loads), max(loads)],
        "tools": best,
        "ratios": ratios,
        "agreement": {"summary": agreement.summary_rows(rows_), "rows": rows_},
    }


def bench_scale(rows: int, data_root: Path, timeout: float = 3600.0) -> dict[str, Any]:
    started = time.perf_counter()
    folder = ensure_data(rows, root=data_root)
    _say(f"scale N={rows:,}: data ready in {time.perf_counter() - started:.0f}s; running mlmon once")
    result = run_tool("mlmon", folder, timeout=timeout)
    result.pop("columns", None)
    result["data_bytes"] = sum(p.stat().st_size for p in folder.glob("*.parquet"))
    result["measured_at"] = reporting.now()
    result["source"] = reporting.source()
    return result


def profile_mlmon(rows: int, data_root: Path, out_dir: Path) -> dict[str, Any]:
    try:
        import pyinstrument  # noqa: F401
    except ImportError:  # a profiling aid of the bench only, never a dependency of mlmon
        subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--disable-pip-version-check", "pyinstrument"],
                       check=True)
    folder = ensure_data(rows, root=data_root)
    path = out_dir / f"profile_mlmon_{rows}.txt"
    result = run_tool("mlmon", folder, ["--profile", str(path), "--no-floor"])
    return {"rows": rows, "path": path.name, "wall_s": result["wall_s"], "timings": result["timings"]}


# --- rendering --------------------------------------------------------------------------------


def _main_table(sizes: list[dict[str, Any]]) -> list[str]:
    lines = ["| N per side | tool | wall s (best) | CPU s | peak RSS MiB | wall / mlmon | RSS / mlmon |",
             "|---:|---|---:|---:|---:|---:|---:|"]
    for size in sizes:
        for tool in TOOLS:
            if tool not in size["tools"]:
                continue
            t, r = size["tools"][tool], size["ratios"].get(tool, {})
            lines.append(f"| {size['rows']:,} | {tool} | {secs(t['wall_s'])} | {secs(t.get('cpu_s'))} | "
                         f"{mib(t['peak_rss_bytes'])} | {times(r.get('wall')) if r else '1×'} | "
                         f"{times(r.get('rss')) if r else '1×'} |")
        floor = size["tools"]["mlmon"].get("floor_s")
        if floor is not None:
            lines.append(f"| {size['rows']:,} | DuckDB scan of both files (floor) | {secs(floor)} | | | | |")
    return lines


_FAMILIES = ("profile", "univariate", "data_drift", "prediction", "estimation", "diagnostics", "model_importance")
_FAMILY_NOTE = (
    "`profile` is the lookup of a kept reference profile (none in a fresh run): without one, `univariate` finds "
    "the reference's deciles and counts in its own scans, and it compares the prediction drift's score beside the "
    "features, so `prediction` is only the class counts. `univariate`: one aggregate over both files cuts every "
    "numeric column into cells, a second reads the few cells that hold the reference's deciles, windows sort the "
    "rows of the cells whose KS or Wasserstein share the counts cannot settle (mostly undrifted columns, where "
    "S crosses zero all along), and two small scans count the categories. `data_drift`: two seeded hash samples "
    "of 10,000 rows and the random forest SPEC §4 fixes. `estimation`: CBPE calibrated on at most 1,000,000 "
    "reference rows, the current rows counted per calibrated probability in SQL, the band simulated on 20,000."
)


def _breakdown(sizes: list[dict[str, Any]], scale: dict[str, Any] | None) -> list[str]:
    runs = [(f"{s['rows']:,}", s["tools"]["mlmon"]) for s in sizes]
    if scale and not scale.get("failed"):
        runs.append((f"{scale['rows']:,} (scale)", scale))
    lines = ["| mlmon, seconds | " + " | ".join(label for label, _ in runs) + " |",
             "|---|" + "---:|" * len(runs)]
    for family in _FAMILIES:
        cells = [secs(r.get("timings", {}).get(family)) for _, r in runs]
        lines.append(f"| {family} | " + " | ".join(cells) + " |")
    lines.append("| **evaluation total** | " + " | ".join(secs(r.get("wall_s")) for _, r in runs) + " |")
    lines.append("| CPU seconds (all threads) | " + " | ".join(secs(r.get("cpu_s")) for _, r in runs) + " |")
    lines.append("| peak RSS MiB | " + " | ".join(mib(r.get("peak_rss_bytes")) for _, r in runs) + " |")
    lines.append("| DuckDB scan of both files | " + " | ".join(secs(r.get("floor_s")) for _, r in runs) + " |")
    return lines


def _agreement_table(sizes: list[dict[str, Any]]) -> list[str]:
    lines = ["| N | tool | statistic | compared with | columns | max abs diff | worst column |",
             "|---:|---|---|---|---:|---:|---|"]
    for size in sizes:
        for row in size["agreement"]["summary"]:
            lines.append(f"| {size['rows']:,} | {row['tool']} | {row['statistic']} | {row['against']} | "
                         f"{row['columns']} | {sci(row['max_abs_diff'])} | {row['worst_column']} |")
    return lines


def _targets(sizes: list[dict[str, Any]]) -> str:
    """The issue's targets at the largest N measured with peers: 10x Evidently, 3x NannyML, less memory."""
    size = max((s for s in sizes if s["ratios"]), key=lambda s: s["rows"], default=None)
    if size is None:
        return ""
    parts = []
    for tool, goal in (("evidently", 10.0), ("nannyml", 3.0)):
        if tool in size["ratios"]:
            ratio = size["ratios"][tool]["wall"]
            parts.append(f"{goal:.0f}× faster than {tool}: {ratio:.1f}× ({'met' if ratio >= goal else 'not met'})")
    lower = all(r["rss"] > 1.0 for r in size["ratios"].values())
    parts.append(f"lower peak RSS than {' and '.join(size['ratios'])}: {'met' if lower else 'not met'}")
    return f"Targets at {size['rows']:,} rows per side: " + "; ".join(parts) + "."


def _notes(sizes: list[dict[str, Any]]) -> list[str]:
    """What mlmon's row covers, and the like-for-like part of it for NannyML's univariate drift."""
    out = []
    for size in sizes:
        mlmon = size["tools"]["mlmon"]
        timings = mlmon.get("timings", {})
        univariate = timings.get("profile", 0.0) + timings.get("univariate", 0.0)
        line = (f"- N = {size['rows']:,}: mlmon ran `{mlmon.get('path', 'mlmon.evaluation.evaluate')}`; of its "
                f"{secs(mlmon['wall_s'])} s, univariate drift (the reference profile found in the same scans, and the "
                f"prediction score compared beside the features) took {secs(univariate)} s")
        if "nannyml" in size["tools"]:
            line += f", against NannyML's {secs(size['tools']['nannyml']['wall_s'])} s for univariate drift only"
        out.append(line + ".")
        out += [f"  - note: {w}" for w in mlmon.get("warnings", []) if "prediction" in w]
    return out


def _scale_line(scale: dict[str, Any] | None) -> str:
    if not scale:
        return "Scale run: not measured yet (`--scale 10000000`)."
    if scale.get("failed"):
        return f"Scale run at {scale['rows']:,} + {scale['rows']:,} rows failed ({scale['measured_at']}); see results.json."
    return (f"Scale run, mlmon alone, {scale['rows']:,} + {scale['rows']:,} rows from parquet "
            f"({mib(scale['data_bytes'])} MiB of files): {secs(scale['wall_s'])} s wall, "
            f"{secs(scale.get('cpu_s'))} s CPU, peak RSS {mib(scale['peak_rss_bytes'])} MiB; DuckDB's plain scan "
            f"of the same files {secs(scale.get('floor_s'))} s (measured {scale['measured_at']}).")


def _versions(sizes: list[dict[str, Any]], scale: dict[str, Any] | None, source: str) -> dict[str, str]:
    runs = [(tool, run.get("versions", {})) for size in sizes for tool, run in size["tools"].items()]
    return reporting.versions(runs + ([("mlmon", scale.get("versions", {}))] if scale else []), source)


def _header(results: dict[str, Any]) -> list[str]:
    loads = [x for s in results["sizes"] for x in s["load_avg_1m"]]
    load = f"{min(loads):.1f}–{max(loads):.1f}" if loads else "–"
    versions = ", ".join(f"{k} {v}" for k, v in results["versions"].items())
    return [f"Machine: {reporting.machine_line(results['machine'])}; 1-minute load average {load} during the runs (other jobs share the machine). "
            f"Measured {results['generated_at']}.",
            "",
            f"Versions: {versions}."]


def render_markdown(results: dict[str, Any]) -> str:
    sizes, scale = results["sizes"], results.get("scale")
    out = ["# mlmon benchmark results", "", f"`{results['command']}`", "", *_header(results), "",
           "Wall and CPU seconds cover reading the data and computing the statistics, not interpreter start or "
           "imports; peak RSS is each process's own high-water mark (the largest over its runs). mlmon computes "
           "univariate drift of the 15 features, domain-classifier data drift, prediction drift and CBPE; "
           "Evidently `DataDriftPreset` (Wasserstein / Jensen-Shannon); NannyML univariate drift (KS, "
           "Wasserstein, chi-square) as one chunk.", "",
           *_main_table(sizes), "", _targets(sizes), "", *_notes(sizes), "", _scale_line(scale), "", "## Where mlmon's time goes", "",
           *_breakdown(sizes, scale), "", _FAMILY_NOTE, ""]
    if results.get("profile"):
        out += [f"pyinstrument profile at {results['profile']['rows']:,} rows: `{results['profile']['path']}`.", ""]
    out += ["## Agreement", "", agreement.__doc__.split("\n\n", 1)[1].strip(), "", *_agreement_table(sizes), ""]
    return "\n".join(out)


def render_readme_section(results: dict[str, Any]) -> str:
    sizes, scale = results["sizes"], results.get("scale")
    intro = ("mlmon's evaluation (univariate drift of the 15 features, domain-classifier data drift, prediction "
             "drift, CBPE) against Evidently's `DataDriftPreset` and NannyML's univariate drift, on the same N + N "
             "rows read from parquet (10 numeric + 5 categorical features, mild drift). Regenerate it, and this "
             "section, with:")
    return "\n".join([BEGIN, intro, "", "```bash", results["command"], "```", "", *_header(results), "",
                      *_main_table(sizes), "", _targets(sizes), "", _scale_line(scale), "", "Per-family seconds, the agreement of every "
                      "statistic with scipy and the profile: [bench/results/results.md](bench/results/results.md); "
                      "how it measures: [bench/README.md](bench/README.md).", END])


def update_readme(results: dict[str, Any], readme: Path = README) -> None:
    reporting.replace_section(readme, BEGIN, END, render_readme_section(results))


# --- command line -----------------------------------------------------------------------------


def _print_table(results: dict[str, Any]) -> None:
    print("\n".join(_main_table(results["sizes"])))
    print(_scale_line(results.get("scale")))
    print("\n".join(_agreement_table(results["sizes"])))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, nargs="+", default=[100_000, 1_000_000], help="rows per side")
    parser.add_argument("--peers", nargs="*", default=list(PEERS), help="evidently, nannyml, or none")
    parser.add_argument("--scale", type=int, default=None, help="also time mlmon alone at this many rows per side")
    parser.add_argument("--scale-timeout", type=float, default=3600.0, help="seconds before the scale run is given up")
    parser.add_argument("--profile", action="store_true", help="write a pyinstrument profile of mlmon at the largest N")
    parser.add_argument("--repeat", type=int, default=None, help="runs per tool (default: 3 up to 100k rows, else 2)")
    parser.add_argument("--results-dir", type=Path, default=RESULTS)
    parser.add_argument("--data-dir", type=Path, default=DATA_ROOT)
    parser.add_argument("--render", action="store_true",
                        help="only rewrite results.md (and the README section) from the existing results.json")
    parser.add_argument("--no-readme", action="store_true",
                        help="leave README.md alone (it is only rewritten when results go to bench/results)")
    args = parser.parse_args(argv)
    if args.render:
        results = json.loads((args.results_dir / "results.json").read_text())
        _write(results, args.results_dir, args.no_readme)
        return 0
    peers = [p for p in args.peers if p != "none"]
    unknown = [p for p in peers if p not in PEERS]
    if unknown:
        parser.error(f"unknown peer(s): {', '.join(unknown)}; known: {', '.join(PEERS)}")
    for peer in peers:
        ensure_peer(PEERS[peer])

    tools = ["mlmon", *peers]
    source = reporting.source()  # before the runs: the code measured, even if the checkout moves on meanwhile
    sizes = [bench_size(rows, tools, args.data_dir, args.repeat) for rows in sorted(args.rows)]
    args.results_dir.mkdir(parents=True, exist_ok=True)
    previous_path = args.results_dir / "results.json"
    previous = json.loads(previous_path.read_text()) if previous_path.exists() else {}
    scale = previous.get("scale")
    if args.scale:
        try:
            scale = bench_scale(args.scale, args.data_dir, args.scale_timeout)
        except (RuntimeError, subprocess.TimeoutExpired) as error:  # keep the sizes already measured
            _say(f"scale run failed: {error}")
            scale = {"rows": args.scale, "failed": str(error)[-2000:], "measured_at": reporting.now()}
    profile = profile_mlmon(max(args.rows), args.data_dir, args.results_dir) if args.profile else previous.get("profile")

    command = "python bench/harness.py --rows " + " ".join(str(r) for r in sorted(args.rows)) + \
        (" --peers " + " ".join(peers) if peers else " --peers none") + \
        (f" --scale {args.scale}" if args.scale else "") + (" --profile" if args.profile else "")
    results = {"generated_at": reporting.now(), "command": command, "machine": reporting.machine(),
               "versions": _versions(sizes, scale, source), "sizes": sizes, "scale": scale, "profile": profile}
    previous_path.write_text(json.dumps(results, indent=1, sort_keys=False) + "\n")
    _write(results, args.results_dir, args.no_readme)
    return 0


def _write(results: dict[str, Any], results_dir: Path, no_readme: bool) -> None:
    (results_dir / "results.md").write_text(render_markdown(results))
    if results_dir.resolve() == RESULTS.resolve() and not no_readme:
        update_readme(results)
    _print_table(results)


if __name__ == "__main__":
    sys.exit(main())
