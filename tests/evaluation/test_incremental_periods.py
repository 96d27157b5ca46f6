"""A later build of a period store reads only what it evaluates: the rows of the stale periods,
and of the earlier periods their references read. Nothing at all when no period changed.

The statistics of a period evaluated from that smaller copy equal scipy's on the period's own
rows and its reference's. Builds run on a warehouse that records its statements (`recorded`).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Callable

import pandas as pd
import pytest
from scipy import stats
from sklearn.metrics import roc_auc_score

from tests.conftest import query_frame
from tests.evaluation.conftest import run_cli
from tests.evaluation.standalone_project import MONTHS, write_standalone_project
from tests.evaluation.test_standalone import period_metrics

Recorded = Callable[..., list[str]]

# `vs_first`: with no kept rows (`evaluation_keep_rows: 0`), `reference: first` reads the first
# period's rows from the data itself. `sampled`: 250 of each month's 600 rows.
MORE_STORES = """
  - name: vs_first
    data: logged_scores
    reference: first
    predictions: {proba: score, threshold: 0.35}
    target: is_fraud
    ground_truth: {data: outcomes, key: [id]}
    period: {column: scored_at, every: month}
    skip_performance: true
  - name: sampled
    data: logged_scores
    reference: reference_scores
    predictions: {proba: score, prediction: decision}
    target: is_fraud
    ground_truth: {data: outcomes, key: id}
    period: {column: scored_at, every: month}
    sampling: {method: random, size: 250, seed: 3}
    skip_performance: true
"""


@pytest.fixture
def project(tmp_path: Path) -> tuple[Path, pd.DataFrame]:
    """The standalone project with `MORE_STORES`, keeping no rows, and two more outcome waves on
    top of the early outcomes: `june` (June's late ones: only June's labelled count changes) and
    `april` (half of April's unknown ones: only April's changes)."""
    root = tmp_path / "project"
    logged = write_standalone_project(root)
    monitors = root / "monitors" / "evaluations.yml"
    monitors.write_text(monitors.read_text(encoding="utf-8") + MORE_STORES.lstrip("\n"), encoding="utf-8")
    settings = root / "mlmon_project.yml"
    settings.write_text(settings.read_text(encoding="utf-8") + "settings:\n  evaluation_keep_rows: 0\n",
                        encoding="utf-8")
    month = logged["scored_at"].dt.strftime("%Y-%m")
    april = (month == MONTHS[0]) & ~logged["known_early"] & (logged["id"] % 2 == 0)
    waves = {"june": logged["known_early"] | ((month == MONTHS[2]) & logged["known_late"]),
             "april": logged["known_early"] | april}
    for wave, known in waves.items():
        logged[f"known_{wave}"] = known
        logged.loc[known, ["id", "is_fraud"]].astype({"is_fraud": "float64"}).to_parquet(
            root / "data" / f"outcomes_{wave}.parquet", index=False)
    return root, logged


def _copies(statements: list[str]) -> list[str]:
    """The statements that copy the logged rows or the reference into scratch tables."""
    return [s for s in statements if "__renamed_" in _created(s) or "__reference_" in _created(s)]


def _created(statement: str) -> str:
    """The name of the table a statement creates ('' for other statements)."""
    found = re.match(r'CREATE TABLE "[^"]+"\."([^"]+)"', statement)
    return found.group(1) if found else ""


def _evaluated(root: Path, store: str) -> list[str]:
    rows = query_frame(root, "SELECT json_extract_string(labels, '$.period') AS period FROM mlmon.evaluations "
                             "WHERE store = ? ORDER BY created_at, period", [store])
    return rows["period"].tolist()


def _month(logged: pd.DataFrame, month: str) -> pd.DataFrame:
    return logged[logged["scored_at"].dt.strftime("%Y-%m") == month]


def _counted_on(statements: list[str]) -> list[str]:
    """Which relation each count of the periods read: the copy (`renamed`) or the rows in place (`joined`)."""
    counts = [s for s in statements if s.startswith("SELECT COUNT(*), COUNT(") and 'GROUP BY "__mlmon_period"' in s]
    return ["renamed" if "__renamed_" in s else "joined" if "__joined_" in s else s for s in counts]


def test_an_unchanged_build_copies_nothing(project: tuple[Path, pd.DataFrame], recorded: Recorded) -> None:
    root, _ = project
    first = recorded(root, "monthly vs_previous")
    assert len(_copies(first)) == 3  # the logged rows of each store, the reference of `monthly`
    assert _counted_on(first) == ["renamed", "renamed"]  # a first build copies every period, then counts
    again = recorded(root, "monthly vs_previous")
    assert _copies(again) == []
    assert _counted_on(again) == ["joined", "joined"]
    assert _evaluated(root, "monthly") == ["2019-04-01", "2019-05-01", "2019-06-01"]
    refreshed = recorded(root, "monthly", "--full-refresh")
    assert len(_copies(refreshed)) == 2 and _counted_on(refreshed) == ["renamed"]
    assert _evaluated(root, "monthly") == ["2019-04-01", "2019-05-01", "2019-06-01"] * 2


def test_a_fixed_reference_store_copies_only_its_stale_periods(project: tuple[Path, pd.DataFrame],
                                                               recorded: Recorded) -> None:
    root, logged = project
    recorded(root, "monthly")
    statements = recorded(root, "monthly", "--vars", "{wave: late}")  # May's and June's outcomes change
    renamed = [s for s in _copies(statements) if "__renamed_" in s]
    assert len(renamed) == 1
    assert "'2019-05-01'" in renamed[0] and "'2019-06-01'" in renamed[0] and "'2019-04-01'" not in renamed[0]
    assert _evaluated(root, "monthly") == ["2019-04-01", "2019-05-01", "2019-06-01", "2019-05-01", "2019-06-01"]

    reference = pd.read_parquet(root / "data" / "reference.parquet")
    values = period_metrics(lambda sql, params=None: query_frame(root, sql, params), "monthly")
    for month in MONTHS:
        rows = _month(logged, month)
        ks = stats.ks_2samp(reference["x1"], rows["x1"])
        assert values[f"{month}-01"][("ks_statistic", "x1")] == pytest.approx(ks.statistic, rel=1e-9)
        assert values[f"{month}-01"][("n_labelled", None)] == rows["known_late"].sum()
        labelled = rows[rows["known_late"]]  # the logged score, renamed in the copy, against the outcomes
        auc = roc_auc_score(labelled["is_fraud"], labelled["score"])
        assert values[f"{month}-01"][("roc_auc", None)] == pytest.approx(auc, rel=1e-9)


@pytest.mark.parametrize("store, wave, copied, compared", [
    # store, outcome wave, months the copy holds (None: all, unfiltered), {stale month: its reference month}
    ("vs_previous", "june", [MONTHS[1], MONTHS[2]], {MONTHS[2]: MONTHS[1]}),
    ("vs_first", "june", [MONTHS[0], MONTHS[2]], {MONTHS[2]: MONTHS[0]}),
    ("vs_previous", "late", None, {MONTHS[1]: MONTHS[0], MONTHS[2]: MONTHS[1]}),
    ("vs_previous", "april", [MONTHS[0]], {MONTHS[0]: MONTHS[0]}),  # no earlier month: April against itself
])
def test_a_period_reference_is_copied_with_the_stale_periods(project: tuple[Path, pd.DataFrame], recorded: Recorded,
                                                             store: str, wave: str, copied: list[str] | None,
                                                             compared: dict[str, str]) -> None:
    root, logged = project
    recorded(root, store)
    statements = recorded(root, store, "--vars", f"{{wave: {wave}}}")
    (renamed,) = [s for s in _copies(statements) if "__renamed_" in s]
    if copied is None:
        assert '"__mlmon_period" IN' not in renamed
    else:
        assert [m for m in MONTHS if f"'{m}-01'" in renamed] == copied
    assert _evaluated(root, store) == [f"{m}-01" for m in (*MONTHS, *compared)]

    values = period_metrics(lambda sql, params=None: query_frame(root, sql, params), store)
    for month, reference in compared.items():
        for feature in ("x1", "x2"):
            ks = stats.ks_2samp(_month(logged, reference)[feature], _month(logged, month)[feature])
            assert values[f"{month}-01"][("ks_statistic", feature)] == pytest.approx(ks.statistic, rel=1e-9, abs=1e-12)
            assert values[f"{month}-01"][("ks_pvalue", feature)] == pytest.approx(ks.pvalue, rel=1e-9)
        assert values[f"{month}-01"][("n_labelled", None)] == _month(logged, month)[f"known_{wave}"].sum()


def test_a_sampled_period_is_judged_by_the_labels_of_its_sample(project: tuple[Path, pd.DataFrame],
                                                                 recorded: Recorded) -> None:
    """A sample records its own labelled rows (`n_labelled`): a later build compares the sample's
    count, drawn again, not the whole month's, which differs whenever the sample cuts the month."""
    root, logged = project
    for wave in ("early", "early"):
        recorded(root, "sampled", "--vars", f"{{wave: {wave}}}")
    statements = recorded(root, "sampled", "--vars", "{wave: june}")
    assert _evaluated(root, "sampled") == [f"{m}-01" for m in (*MONTHS, MONTHS[2])]
    (read,) = [s for s in statements if _created(s).startswith("sampled__read_")]
    assert [m for m in MONTHS if f"'{m}-01'" in read] == [MONTHS[2]]  # the other months' samples are drawn again
    stored = query_frame(root, "SELECT e.n_rows, e.n_evaluated, m.value AS n_labelled FROM mlmon.evaluations AS e "
                               "JOIN mlmon.metrics AS m USING (evaluation_id) WHERE e.store = 'sampled' "
                               "AND m.metric = 'n_labelled' ORDER BY e.created_at")
    assert stored["n_rows"].tolist() == [600] * 4 and stored["n_evaluated"].tolist() == [250] * 4
    june = _month(logged, MONTHS[2])
    assert june["known_early"].sum() == 0 and stored["n_labelled"].iloc[2] == 0
    assert stored["n_labelled"].iloc[3] < june["known_june"].sum()  # a sample of the month's labelled rows


# -- a model's store: only the rows of stale periods are scored -------------------------------------

SCORED_STORE = """
datasets:
  - name: dated
    files: data/dated.parquet
evaluations:
  - name: by_month
    model: clf
    data: dated
    period: {column: at, every: month}
    sampling: {method: full}
"""


def _dated(months: int) -> pd.DataFrame:
    from tests.evaluation.conftest import make_frame

    frames = []
    for i in range(months):
        frame = make_frame(400, 20 + i, shift=0.3 * i)
        frame["at"] = pd.Timestamp(f"2021-0{i + 1}-03") + pd.to_timedelta(frame["id"] * 60, unit="s")
        frames.append(frame)
    return pd.concat(frames, ignore_index=True)


def _stored(root: Path, store: str) -> dict[tuple[str, str, str | None], float]:
    rows = query_frame(root, "SELECT json_extract_string(e.labels, '$.period') AS period, m.metric, m.feature, "
                             "m.value FROM mlmon.metrics AS m JOIN mlmon.evaluations AS e USING (evaluation_id) "
                             f"JOIN {store} AS v USING (evaluation_id) WHERE v.is_latest AND m.segment IS NULL")
    return {(r.period, r.metric, None if pd.isna(r.feature) else r.feature): r.value for r in rows.itertuples()}


def test_a_model_store_scores_only_its_stale_periods(base_project: Path, tmp_path: Path, recorded: Recorded) -> None:
    root = tmp_path / "project"
    import shutil

    shutil.copytree(base_project, root)
    (root / "monitors" / "dated.yml").write_text(SCORED_STORE.lstrip(), encoding="utf-8")
    _dated(2).to_parquet(root / "data" / "dated.parquet", index=False)
    recorded(root, "by_month")
    assert _evaluated(root, "by_month") == ["2021-01-01", "2021-02-01"]
    _dated(3).to_parquet(root / "data" / "dated.parquet", index=False)  # March arrives
    statements = recorded(root, "by_month")
    (read,) = [s for s in statements if _created(s).startswith("by_month__read_")]
    assert "'2021-03-01'" in read and "'2021-01-01'" not in read and "'2021-02-01'" not in read
    assert not any(_created(s).startswith("by_month__joined_") for s in statements)  # a view: no copy
    assert _counted_on(statements) == ["joined"]
    assert _evaluated(root, "by_month") == ["2021-01-01", "2021-02-01", "2021-03-01"]
    incremental = _stored(root, "by_month")

    refreshed = recorded(root, "by_month", "--full-refresh")  # every month scored and evaluated again
    assert not any(_created(s).startswith("by_month__read_") for s in refreshed)
    assert any(_created(s).startswith("by_month__joined_") for s in refreshed)  # every month: copied once
    assert _evaluated(root, "by_month") == ["2021-01-01", "2021-02-01", "2021-03-01"] * 2
    again = _stored(root, "by_month")
    march = {key: value for key, value in again.items() if key[0] == "2021-03-01"}
    assert len(march) > 20
    for key, value in march.items():
        if key[1] != "data_drift":  # its forest's train/test split draws from each period's rows
            assert incremental[key] == pytest.approx(value, rel=1e-12, abs=1e-12, nan_ok=True), key


def test_rows_in_no_period_are_counted_and_said_on_every_build(project: tuple[Path, pd.DataFrame]) -> None:
    """Rows without a timestamp belong to no period: each build says how many, whether it counts
    the periods on its copy (the first build) or on the rows in place (a later one)."""
    root, logged = project
    rows = pd.read_parquet(root / "data" / "logged.parquet")
    undated = rows["id"] % 97 == 0
    rows.loc[undated, "scored_at"] = pd.NaT
    rows.to_parquet(root / "data" / "logged.parquet", index=False)
    warning = f"{int(undated.sum())} rows have no scored_at: they are in no period"
    for wave, evaluated in (("early", MONTHS), ("late", MONTHS[1:])):
        result = run_cli(root, "build", "-s", "monthly", "--vars", f"{{wave: {wave}}}")
        assert result.exit_code == 0, result.output
        assert warning in result.output
        counted = query_frame(root, "SELECT json_extract_string(labels, '$.period') AS period, n_rows "
                                    "FROM mlmon.evaluations WHERE invocation_id = (SELECT invocation_id FROM "
                                    "mlmon.evaluations ORDER BY created_at DESC LIMIT 1) ORDER BY period")
        dated = logged[~undated.to_numpy()]
        assert counted["period"].tolist() == [f"{m}-01" for m in evaluated]
        assert counted["n_rows"].tolist() == [len(_month(dated, m)) for m in evaluated]
