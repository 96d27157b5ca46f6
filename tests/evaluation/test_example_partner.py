"""The example's partner scores: a model mlmon did not train, judged per month as chargebacks arrive."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from sklearn import metrics as skm

from tests.conftest import copy_example_project, query_frame
from tests.evaluation.conftest import run_cli

pytestmark = pytest.mark.slow

STORE = "mes_for_partner_scores"


@pytest.fixture(scope="module")
def example(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("partner") / "project"
    root.mkdir(parents=True)
    return copy_example_project(root)


def test_data_files_stay_small():
    from tests.conftest import REPO_ROOT

    files = [*REPO_ROOT.glob("data/partner_scores_2017_*.csv"), *REPO_ROOT.glob("data/chargebacks_2017_*.csv")]
    assert len(files) >= 23 and sum(f.stat().st_size for f in files) < 400_000


def test_outcomes_arriving_re_evaluate_only_the_months_they_touch(example):
    early = run_cli(example, "build", "-s", f"+{STORE}+", "--vars", "{chargebacks_as_of: '2017-06-30'}")
    assert early.exit_code == 0, early.output  # the coverage check's bound is soft
    assert "WARN" in early.output and "partner_label_coverage" in early.output
    first = query_frame(example, f"SELECT CAST(period AS VARCHAR) AS period, label_coverage, evaluation_id FROM {STORE}")
    assert len(first) == 12 and first["period"].min() == "2017-01-01" and first["period"].max() == "2017-12-01"
    assert first.set_index("period")["label_coverage"]["2017-12-01"] == 0.0

    late = run_cli(example, "build", "-s", f"+{STORE}+")
    assert late.exit_code == 0, late.output
    view = query_frame(example, f"SELECT CAST(period AS VARCHAR) AS period, is_latest, label_coverage, n_labelled, "
                                f"roc_auc, estimated_roc_auc, evaluation_id FROM {STORE} ORDER BY period, created_at")
    again = sorted(view.loc[~view["evaluation_id"].isin(first["evaluation_id"]), "period"])
    coverage_before = first.set_index("period")["label_coverage"]
    latest = view[view["is_latest"]].set_index("period")
    assert again == sorted(p for p in latest.index if latest["label_coverage"][p] != coverage_before[p])
    assert "2017-01-01" not in again and "2017-12-01" not in again  # settled / still unlabelled
    assert view.groupby("period")["is_latest"].sum().eq(1).all()

    # the realised ROC AUC of a month equals scikit-learn on its labelled rows
    scores = pd.concat(pd.read_csv(p) for p in sorted((example / "data").glob("partner_scores_2017_*.csv")))
    outcomes = pd.concat(pd.read_csv(p) for p in sorted((example / "data").glob("chargebacks_2017_*.csv")))
    march = scores[scores["scored_at"].str.startswith("2017-03")].merge(outcomes, on="transaction_id")
    assert latest["roc_auc"]["2017-03-01"] == pytest.approx(skm.roc_auc_score(march["is_fraud"], march["partner_score"]),
                                                            rel=1e-9)
    assert latest["estimated_roc_auc"].notna().all()


def test_dashboard_shows_coverage_and_estimated_vs_realised(example):
    out = example / "partner.html"
    result = run_cli(example, "dashboard", "partner_monitoring", "-o", str(out))
    assert result.exit_code == 0, result.output
    page = out.read_text()
    assert "estimated (CBPE)" in page and "realised" in page and "label coverage" in page
    assert "2017-12-01" in page
