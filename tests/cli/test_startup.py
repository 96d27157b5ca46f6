"""Start-up: `mlmon --help` and `mlmon ls` load no ML stack.

Each command runs in a fresh interpreter (this test process has long imported everything), and
the child reports which top-level packages ended up in `sys.modules`.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO_ROOT, copy_example_project

# The ML stack, and the libraries only a build's evaluations or a dashboard need.
HEAVY = ("pandas", "sklearn", "scipy", "pyspark", "numpy", "pyarrow", "plotly", "joblib", "skops")

_CHILD = """
import json, sys
from mlmon.cli import cli
try:
    cli(sys.argv[1:], prog_name="mlmon")
except SystemExit as exc:
    code = exc.code
else:
    code = 0
loaded = sorted({name.split(".")[0] for name in sys.modules})
print("\\n" + json.dumps({"code": code, "loaded": loaded, "modules": sorted(sys.modules)}))
"""


def _loaded(args: list[str], cwd: Path, modules: bool = False) -> list[str]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO_ROOT), os.environ.get("PYTHONPATH", "")])}
    done = subprocess.run([sys.executable, "-c", _CHILD, *args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=120)
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["code"] == 0, done.stdout + done.stderr
    return report["modules" if modules else "loaded"]


@pytest.mark.parametrize("args", [["--help"], ["ls"], ["ls", "-s", "+mes_for_input_drift", "--output", "json"],
                                  ["build", "--help"]])
def test_light_commands_load_no_ml_stack(tmp_path, args):
    root = copy_example_project(tmp_path)
    loaded = _loaded(args, root)
    assert "mlmon" in loaded and "duckdb" in loaded, "the child ran mlmon"
    assert [name for name in HEAVY if name in loaded] == []


def test_the_probe_sees_heavy_imports(tmp_path):
    # The same probe on a command that needs pandas reports it: the test above can fail.
    root = copy_example_project(tmp_path)
    script = "import mlmon.evaluation.evaluate\n" + _CHILD
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    done = subprocess.run([sys.executable, "-c", script, "--help"], cwd=root, env=env, capture_output=True,
                          text=True, timeout=120)
    loaded = json.loads(done.stdout.strip().splitlines()[-1])["loaded"]
    assert "pandas" in loaded and "numpy" in loaded


@pytest.mark.parametrize("data_drift", [False, True])
def test_an_evaluation_of_logged_predictions_loads_no_model_machinery(tmp_path, data_drift):
    """No model artifact to read or write: skops stays out; without the domain classifier,
    scikit-learn's ensembles too."""
    from tests.evaluation.standalone_project import write_standalone_project

    root = tmp_path / "project"
    write_standalone_project(root)
    (root / "monitors" / "evaluations.yml").write_text(
        "evaluations:\n  - name: logged\n    data: logged_scores\n    reference: reference_scores\n"
        "    predictions: {proba: score, prediction: decision}\n    target: is_fraud\n    skip_performance: true\n"
        f"    data_drift: {str(data_drift).lower()}\n")
    modules = _loaded(["build", "-s", "logged"], root, modules=True)
    assert "mlmon.evaluation.evaluate" in modules, "the child evaluated"
    assert not [m for m in modules if m.startswith("skops")]
    assert ("sklearn.ensemble" in modules) is data_drift
