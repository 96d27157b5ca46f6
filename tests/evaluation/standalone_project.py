"""A project monitoring a model mlmon did not train: logged scores, outcomes joined by key, months.

The logged probabilities are calibrated by construction (each outcome drawn with the logged
probability), so CBPE's estimate must match the realised ROC AUC. `decision` is the service's
own decision at a threshold of 0.35 (not 0.5), so a metric cut at 0.5 instead of reading it is
caught. Outcomes are DOUBLE (1.0) where the reference's target is BIGINT (1). Outcome waves:
`early` holds the outcomes known after May, `late` those known after June (more of April-June).
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import numpy as np
import pandas as pd

__all__ = ["THRESHOLD", "MONTHS", "add_segmented_store", "write_standalone_project", "logged_frame"]

THRESHOLD = 0.35

PROJECT_YML = """
name: standalone_tests
vars:
  wave: early
"""

DATASETS_YML = """
datasets:
  - name: reference_scores
    files: data/reference.parquet
  - name: logged_scores
    files: data/logged.parquet
  - name: outcomes
    files: "data/outcomes_{{ var('wave') }}.parquet"
"""

# The keys every store judging the logged scores against the reference shares.
VS_REFERENCE = """
    data: logged_scores
    reference: reference_scores
    predictions: {proba: score, prediction: decision}
    target: is_fraud
    ground_truth: {data: outcomes, key: id}"""

MONTHLY = "\n    period: {column: scored_at, every: month}"

MONITORS_YML = f"""
evaluations:
  - name: monthly{VS_REFERENCE}{MONTHLY}
    labels: {{team: risk}}
  - name: vs_previous
    data: logged_scores
    reference: previous
    predictions: {{proba: score, threshold: 0.35}}
    target: is_fraud
    ground_truth: {{data: outcomes, key: [id]}}
    period: {{column: scored_at, every: month}}
    skip_performance: true
  - name: whole{VS_REFERENCE}
"""

# A second monthly store, cut by the category column (appended by `add_segmented_store`).
SEGMENTED_STORE = f"""
  - name: by_category{VS_REFERENCE}{MONTHLY}
    segments: [cat]
    data_drift: false
"""

CHECKS_YML = """
checks:
  - name: coverage
    store: monthly
    metric: label_coverage
    soft_min: 0.5
"""

MONTHS = ("2019-04", "2019-05", "2019-06")


def _rows(rng: np.random.Generator, n: int, shift: float, start: str, days: int) -> pd.DataFrame:
    x1 = rng.normal(shift, 1.0, n)
    x2 = rng.gamma(2.0, 1.0 + shift / 2, n)
    cat = rng.choice(["a", "b", "c"], n, p=[0.5 - shift / 4, 0.3, 0.2 + shift / 4])
    logit = 1.6 * x1 - 0.5 * x2 + np.where(cat == "a", 0.8, 0.0)
    score = 1.0 / (1.0 + np.exp(-logit))
    outcome = (rng.random(n) < score).astype(np.int64)  # calibrated: P(fraud | score) = score
    seconds = rng.integers(0, days * 86_400, n)
    scored_at = pd.Timestamp(start) + pd.to_timedelta(np.sort(seconds), unit="s")
    return pd.DataFrame({"x1": x1, "x2": x2, "cat": cat, "score": score,
                         "decision": (score >= THRESHOLD).astype(np.int64), "scored_at": scored_at,
                         "is_fraud": outcome})


def logged_frame(seed: int = 1) -> pd.DataFrame:
    """April to June, 600 rows a month, May and June drifting; ids 100000 on."""
    rng = np.random.default_rng(seed)
    parts = [_rows(rng, 600, shift, f"{month}-01", 28) for month, shift in zip(MONTHS, (0.0, 0.4, 0.8))]
    frame = pd.concat(parts, ignore_index=True)
    frame.insert(0, "id", np.arange(100_000, 100_000 + len(frame)))
    return frame


def write_standalone_project(root: Path, checks: bool = False) -> pd.DataFrame:
    """Write the project (with a coverage check on `monthly` if `checks`); returns the logged
    rows with their true outcome (`is_fraud`)."""
    files = {"mlmon_project.yml": PROJECT_YML, "models/datasets.yml": DATASETS_YML,
             "monitors/evaluations.yml": MONITORS_YML, **({"checks/checks.yml": CHECKS_YML} if checks else {})}
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip(), encoding="utf-8")
    data = root / "data"
    data.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    reference = _rows(rng, 2000, 0.0, "2019-01-01", 89)
    reference.insert(0, "id", np.arange(len(reference)))
    reference.to_parquet(data / "reference.parquet", index=False)
    logged = logged_frame()
    logged.drop(columns=["is_fraud"]).to_parquet(data / "logged.parquet", index=False)
    month = logged["scored_at"].dt.strftime("%Y-%m")
    known_early = rng.random(len(logged)) < np.select([month == MONTHS[0], month == MONTHS[1]], [0.9, 0.4], 0.0)
    known_late = known_early | (rng.random(len(logged)) < np.select([month == MONTHS[1], month == MONTHS[2]], [0.8, 0.5], 0.0))
    for wave, known in (("early", known_early), ("late", known_late)):
        outcomes = logged.loc[known, ["id", "is_fraud"]].astype({"is_fraud": "float64"})
        outcomes.sample(frac=1.0, random_state=0).to_parquet(data / f"outcomes_{wave}.parquet", index=False)
    logged["known_early"], logged["known_late"] = known_early, known_late
    return logged


def add_segmented_store(root: Path, drift: str | None = None) -> None:
    """Append the `by_category` store (segments: [cat]) to the project written by
    `write_standalone_project`, with `drift:` settings (a YAML flow mapping) if given."""
    monitors = root / "monitors" / "evaluations.yml"
    store = SEGMENTED_STORE.lstrip("\n")
    if drift is not None:
        store += f"    drift: {drift}\n"
    monitors.write_text(monitors.read_text(encoding="utf-8") + store, encoding="utf-8")
