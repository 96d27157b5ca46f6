"""What an evaluation reads of a reference is read once per build, whatever the number of periods
or stores comparing with it: on Spark every statement costs a plan and a job.

The builds run on a warehouse whose DuckDB connection records every statement it is handed
(the real connection runs them, `recorded` in conftest.py); the tests read that record.
"""

from __future__ import annotations

import re
import shutil
import textwrap
from collections import Counter
from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd
import pytest


def _repeated(statements: list[str], reading: str) -> dict[str, int]:
    """Statements that read `reading` and were run more than once (DESCRIBE aside: no data read)."""
    counts = Counter(s for s in statements if reading in s and not s.startswith("DESCRIBE"))
    return {s[:200]: n for s, n in counts.items() if n > 1}


# -- a period store against a reference node ------------------------------------------------------

STORE = """
evaluations:
  - name: monthly
    data: logged
    reference: reference_rows
    predictions: {proba: score, prediction: decision}
    target: outcome
    period: {column: at, every: month}
    data_drift: false
    sampling: {method: full}
"""


def _rows(rng: np.random.Generator, n: int, shift: float, month: int) -> pd.DataFrame:
    x = rng.normal(shift, 1.0, n)
    score = 1.0 / (1.0 + np.exp(-1.5 * x))
    at = pd.Timestamp(f"2020-{month:02d}-01") + pd.to_timedelta(rng.integers(0, 27 * 86_400, n), unit="s")
    return pd.DataFrame({"x": x, "cat": rng.choice(["a", "b"], n), "score": score,
                         "decision": (score >= 0.5).astype(np.int64),
                         "outcome": (rng.random(n) < score).astype(float), "at": at})


def _period_project(root: Path, months: int) -> Path:
    (root / "data").mkdir(parents=True)
    _rows(np.random.default_rng(0), 600, 0.0, 1).to_parquet(root / "data" / "reference.parquet", index=False)
    rng = np.random.default_rng(months)
    pd.concat([_rows(rng, 200, 0.1 * m, m) for m in range(2, 2 + months)], ignore_index=True).to_parquet(
        root / "data" / "logged.parquet", index=False)
    (root / "mlmon_project.yml").write_text("name: statements\n")
    (root / "models").mkdir()
    (root / "models" / "datasets.yml").write_text(textwrap.dedent("""
        datasets:
          - name: reference_rows
            files: data/reference.parquet
          - name: logged
            files: data/logged.parquet
        """).lstrip())
    (root / "monitors").mkdir()
    (root / "monitors" / "evaluations.yml").write_text(STORE.lstrip())
    return root


def _reading_the_reference(statements: list[str]) -> list[str]:
    """Statements over the store's copy of its reference node's rows alone, the build's token
    taken out of the scratch names."""
    return [re.sub(r"_[0-9a-f]{8}\b", "", s) for s in statements if "monthly__reference_" in s
            and "monthly__renamed_" not in s and "monthly__period_" not in s
            and not s.startswith(("DESCRIBE", "CREATE", "DROP"))]


def test_a_period_store_reads_its_reference_once_whatever_the_number_of_periods(
        tmp_path: Path, recorded: Callable[[Path, str], list[str]]) -> None:
    few = recorded(_period_project(tmp_path / "few", months=2), "monthly")
    many = recorded(_period_project(tmp_path / "many", months=6), "monthly")
    # The reference's class counts, labelled rows, quality counts... once each, not once a period.
    assert sorted(_reading_the_reference(few)) == sorted(_reading_the_reference(many))
    assert any("COUNT(*)" in s and "GROUP BY" in s and '"prediction"' in s for s in _reading_the_reference(many))
    assert _repeated(many, "monthly__reference_") == {}


def test_a_period_store_runs_no_statement_twice(tmp_path: Path, recorded: Callable[[Path, str], list[str]]) -> None:
    statements = recorded(_period_project(tmp_path / "project", months=4), "monthly")
    evaluation = [s for s in statements if "monthly" in s or "mlmon.evaluations" in s or "mlmon.metrics" in s]
    assert _repeated(evaluation, "") == {}


# -- two stores of one model against its training rows ---------------------------------------------

TWO_STORES = """
evaluations:
  - name: first_store
    model: clf
    data: current_scored
  - name: second_store
    model: clf
    data: current
    sampling: {method: random, size: 400, seed: 7}
"""


@pytest.fixture
def two_stores(base_project: Path, tmp_path: Path) -> Path:
    root = tmp_path / "project"
    shutil.copytree(base_project, root)
    (root / "monitors" / "evaluations.yml").write_text(TWO_STORES.lstrip())
    return root


def test_two_stores_of_one_model_read_its_training_rows_once_per_build(
        two_stores: Path, recorded: Callable[[Path, str], list[str]]) -> None:
    statements = recorded(two_stores, "first_store second_store")
    # Reads of the version's held-out rows alone (its profile, drift sample, labelled count,
    # CBPE's calibration rows, quality counts), and the lookups of its cached statistics.
    reference = [s for s in statements if '"ref_clf_v1"' in s and "__" not in s and not s.startswith("DESCRIBE")]
    assert len(reference) >= 4
    repeated = _repeated(statements, '"ref_clf_v1"')
    # Samples of different sizes (each store's drift sample, the model importance's rows) are
    # different draws: each plans its sort with the same count of rows and distinct values.
    # Held-out rows this few are compared by reading their values whole (mlmon.metrics.values),
    # once per store: the same one scan a store's first round of cells makes of them.
    values_read = [s for s in repeated if s.startswith("SELECT * FROM (SELECT CAST((") and " AS v0" in s]
    assert len(values_read) == 1 and repeated[values_read[0]] == 2
    assert {s for s in repeated if "APPROX_COUNT_DISTINCT" not in s} == set(values_read)
    lookups = [s for s in statements if "FROM mlmon.reference_profiles" in s]
    assert len(lookups) == len(set(lookups)) >= 2  # the profile and the model importance, once each


def test_the_second_store_finds_the_profile_the_first_one_wrote(
        two_stores: Path, recorded: Callable[[Path, str], list[str]]) -> None:
    recorded(two_stores, "first_store")
    statements = recorded(two_stores, "second_store")
    # The first build kept the profile in the warehouse: this build looks it up once and
    # computes no quantile of the reference's features (the model's score is no feature: its
    # reference quantiles are not in the profile).
    assert sum("FROM mlmon.reference_profiles" in s and "univariate_profile" in s for s in statements) == 1
    assert not any("QUANTILE" in s.upper() and '"ref_clf_v1"' in s and '"x1"' in s for s in statements)


def test_the_nodes_of_one_build_read_the_model_row_once(
        two_stores: Path, recorded: Callable[[Path, str], list[str]]) -> None:
    statements = recorded(two_stores, "first_store second_store")
    assert sum("FROM mlmon.model_versions" in s for s in statements) == 1


def _reading_periods_one_by_one(statements: list[str]) -> list[str]:
    """Statements reading one period's rows (its view), DDL and column lookups aside."""
    return [s for s in statements if "monthly__period_" in s and not s.startswith(("DESCRIBE", "CREATE", "DROP"))]


def test_a_period_store_counts_its_periods_in_grouped_scans_whatever_their_number(
        tmp_path: Path, recorded: Callable[[Path, str], list[str]]) -> None:
    few = recorded(_period_project(tmp_path / "few", months=2), "monthly")
    many = recorded(_period_project(tmp_path / "many", months=6), "monthly")
    # The logged decisions' classes (prediction drift) among them: one grouped count, not one a period.
    assert _reading_periods_one_by_one(many) == _reading_periods_one_by_one(few) == []
    grouped = [s for s in many if "GROUP BY 1, 2" in s and '"prediction"' in s and "monthly__renamed_" in s]
    assert len(grouped) == 1


def test_a_period_store_reads_the_domain_classifiers_rows_of_small_periods_together(
        tmp_path: Path, recorded: Callable[[Path, str], list[str]]) -> None:
    """Every row of each 200-row period goes to its domain classifier (drift_sample 10,000): the
    rows of all periods are read in one statement, not one a period."""
    builds = {}
    for months in (2, 6):
        root = _period_project(tmp_path / str(months), months=months)
        store = root / "monitors" / "evaluations.yml"
        store.write_text(store.read_text().replace("data_drift: false", "data_drift: true"))
        builds[months] = recorded(root, "monthly")
    for statements in builds.values():
        assert _reading_periods_one_by_one(statements) == []
        assert sum("__mlmon_group" in s and "monthly__renamed_" in s for s in statements) == 1
