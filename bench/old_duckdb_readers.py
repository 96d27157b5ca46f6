"""Open a warehouse file (and its published copy) with older DuckDB releases, as BI tools would.

    python bench/old_duckdb_readers.py target/published/warehouse.duckdb --store mes_for_input_drift

For each release (default: the newest 1.4 and 1.5), creates a throwaway virtual environment
with that DuckDB from PyPI, opens the file read-only in it and runs `SELECT count(*) FROM
mlmon.metrics`, the store view and "data drift per month". Too heavy for CI (it installs DuckDB
twice); the test suite checks the file header's storage version instead.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import venv
from pathlib import Path

READ = """
import json, sys
import duckdb
con = duckdb.connect(sys.argv[1], read_only=True)
store = sys.argv[2]
out = {
    "duckdb": duckdb.__version__,
    "metrics_rows": con.execute("SELECT count(*) FROM mlmon.metrics").fetchone()[0],
    "store_rows": con.execute(f'SELECT count(*) FROM "{store}"').fetchone()[0],
    "drift_per_month": con.execute(
        f'SELECT month, arg_max(data_drift, created_at) FROM "{store}" GROUP BY month ORDER BY month').fetchall(),
}
print(json.dumps(out, default=str))
"""


def read_with(release: str, path: Path, store: str, scratch: Path) -> dict:
    env_dir = scratch / f"duckdb-{release}"
    venv.create(env_dir, with_pip=True)
    python = env_dir / ("Scripts" if sys.platform == "win32" else "bin") / "python"
    subprocess.run([str(python), "-m", "pip", "install", "-q", f"duckdb=={release}"], check=True)
    done = subprocess.run([str(python), "-c", READ, str(path), store], capture_output=True, text=True)
    if done.returncode != 0:
        return {"duckdb": release, "error": done.stderr.strip().splitlines()[-1]}
    return json.loads(done.stdout)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("path", type=Path, help="a warehouse file or published copy")
    parser.add_argument("--store", required=True, help="an evaluation store (view) to read")
    parser.add_argument("--releases", nargs="+", default=["1.4.*", "1.5.*"], help="DuckDB releases to try")
    args = parser.parse_args()
    failed = False
    with tempfile.TemporaryDirectory() as scratch:
        for release in args.releases:
            result = read_with(release, args.path.resolve(), args.store, Path(scratch))
            failed = failed or "error" in result
            print(json.dumps(result, default=str))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
