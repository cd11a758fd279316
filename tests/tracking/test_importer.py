"""Importing hand-kept result CSVs as test runs, read back through the real store sync."""

from __future__ import annotations

import csv
import math
from pathlib import Path

import pytest
from mlflow.entities import ViewType
from mlflow.tracking import MlflowClient

from prove.tracking import client, importer
from prove.analysis.gains import matched_gains
from prove.analysis.schema import validate_results
from prove.analysis.store import sync_results
from prove.errors import ProveError
from prove.tracking.importer import import_results

FIXTURE = Path(__file__).resolve().parents[1] / "data" / "import_fixture.csv"
# accepted variant spellings on purpose (Weather-Bench, ACDC, FCN_R18-tiny, gen_cyclegan, FALSE, None):
# the store must only ever see canonical names
HEADER, *ROWS = list(csv.reader(FIXTURE.read_text().splitlines()))
CANONICAL_TEST_SET = {"weather_bench": "weather_bench", "WeatherBench": "weather_bench", "ACDC": "acdc", "acdc": "acdc"}
CANONICAL_STRATEGY = {"baseline": "baseline", "std_autoaugment": "std_autoaugment", "gen_cycleGAN": "gen_cycleGAN",
                      "gen_cyclegan": "gen_cycleGAN"}
RESULTS = 5  # baseline, std_autoaugment, gen_cycleGAN on weather_bench; baseline, gen_cycleGAN on ACDC


def expected_miou(rows=ROWS) -> dict[tuple[str, str, str], float]:
    """(strategy, test_dataset, domain) -> mIoU, straight from the CSV rows."""
    return {(CANONICAL_STRATEGY[r[3]], CANONICAL_TEST_SET[r[7]], r[8]): float(r[9]) for r in rows}


def write_csv(path, rows=ROWS, header=HEADER):
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)
    return path


@pytest.fixture
def kept(store):
    """A results CSV as the group keeps them; every run counted here was written by this test
    (its own store)."""
    return dict(uri=store.uri, cache=store.tmp / "cache", csv=write_csv(store.tmp / "results.csv"))


def runs(view=ViewType.ACTIVE_ONLY) -> list:
    client = MlflowClient()
    exp_ids = [e.experiment_id for e in client.search_experiments(view_type=ViewType.ALL)]
    return client.search_runs(exp_ids, run_view_type=view, max_results=1000)


def synced(kept):
    results, _, report = sync_results(kept["cache"], tracking_uri=kept["uri"])
    return validate_results(results), report


def quiet(*_args, **_kwargs) -> None:
    pass


def test_imported_results_sync_as_the_csv_values_with_canonical_names(kept):
    report = import_results(kept["csv"], echo=quiet)
    assert (report.imported, report.skipped, report.replaced, report.rows) == (RESULTS, 0, 0, len(ROWS))
    assert len(report.run_ids) == RESULTS == len(runs())

    results, sync = synced(kept)
    assert sync.total_runs == RESULTS and len(results) == len(ROWS)
    got = {(r.strategy, r.test_dataset, r.domain): r.mIoU for r in results.itertuples()}
    assert got == expected_miou()
    assert set(results.dataset) == {"weather_bench"} and set(results.model) == {"fcn_r18-tiny"}
    assert set(results.test_dataset) == {"weather_bench", "acdc"}
    assert not ((results.test_dataset == "acdc") & (results.domain == "all")).any()  # none made up
    family = dict(zip(results.strategy, results.strategy_family))
    assert family == {"baseline": "baseline", "std_autoaugment": "standard", "gen_cycleGAN": "generative"}
    assert set(results.loc[results.strategy == "gen_cycleGAN", "generator_family"]) == {"gan"}
    ratio = dict(zip(results.strategy, results.ratio))
    assert ratio == {"baseline": 1.0, "std_autoaugment": 1.0, "gen_cycleGAN": 0.5}  # 1.0 without generated images
    assert set(results.checkpoint_iter) == {2000} and set(results.seed) == {0}
    assert set(results.test_split) == {"test"} and set(results.main_loss) == {"ce"}
    assert set(results.pretrained) == {"false"} and set(results.aux_loss) == {"none"}

    overall = results[(results.strategy == "baseline") & (results.test_dataset == "weather_bench")].set_index("domain")
    assert (overall.loc["all", "aAcc"], overall.loc["all", "mAcc"], overall.loc["all", "fwIoU"]) == (80.0, 50.0, 70.0)
    assert math.isnan(overall.loc["night", "aAcc"])  # not given: not logged

    train_ids = results.groupby("strategy").train_run_id.nunique()
    assert (train_ids == 1).all()  # one training shared by both of its test sets
    assert results.train_run_id.nunique() == 3 and results.train_run_id.str.startswith("import-").all()

    run = MlflowClient().get_run(report.run_ids[0])
    tags, params = run.data.tags, run.data.params
    assert run.info.status == "FINISHED" and tags["prove.kind"] == "test" and tags["prove.source"] == "import"
    assert tags["prove.test_key"] == f"{tags['prove.train_run_id']}/weather_bench/test/iter_2000"
    assert tags["prove.import_lines"] == "2,3,4" and tags["prove.import_file"] == str(kept["csv"].resolve())
    assert params["checkpoint"] == "imported" and params["train_run_id"] == tags["prove.train_run_id"]
    assert run.info.run_name == "baseline · s1 · weather_bench · fcn_r18-tiny · imported weather_bench @2000"
    assert {m.step for m in MlflowClient().get_metric_history(run.info.run_id, "test/mIoU")} == {2000}


def test_importing_twice_adds_nothing_and_gains_count_each_result_once(kept):
    first = import_results(kept["csv"], echo=quiet)
    results, _ = synced(kept)
    again = import_results(kept["csv"], echo=quiet)
    assert (again.imported, again.skipped, again.replaced) == (0, RESULTS, 0)
    assert again.run_ids == first.run_ids
    assert len(runs(ViewType.ALL)) == RESULTS
    resynced, report = synced(kept)
    assert report.fetched_runs == 0 and len(resynced) == len(results) == len(ROWS)

    gains = matched_gains(resynced)
    assert gains.unmatched.empty and (gains.gains.baseline_n == 1).all()
    values = expected_miou()
    by_hand = {(s, t, d): v - values[("baseline", t, d)] for (s, t, d), v in values.items() if s != "baseline"}
    got = {(r.strategy, r.test_dataset, r.domain): r.gain for r in gains.gains.itertuples()}
    assert got.keys() == by_hand.keys() and all(got[k] == pytest.approx(by_hand[k]) for k in by_hand)


def test_a_changed_value_is_refused_and_force_replaces_it(kept, tmp_path):
    first = import_results(kept["csv"], echo=quiet)
    synced(kept)
    changed = [list(r) for r in ROWS]
    changed[7][9] = "37.0"  # gen_cycleGAN night on weather_bench: file line 9
    path = write_csv(tmp_path / "changed.csv", changed)
    before = {r.info.run_id: r.data.metrics for r in runs(ViewType.ALL)}

    with pytest.raises(ProveError) as error:
        import_results(path, echo=quiet)
    assert "line 9: test/night/mIoU 36.5 -> 37.0" in str(error.value) and "force" in str(error.value)
    assert {r.info.run_id: r.data.metrics for r in runs(ViewType.ALL)} == before

    report = import_results(path, force=True, echo=quiet)
    assert (report.imported, report.skipped, report.replaced) == (0, RESULTS - 1, 1)
    assert [new == kept for new, kept in zip(report.run_ids, first.run_ids)] == [True, True, False, True, True]
    old = first.run_ids[2]
    assert MlflowClient().get_run(old).info.lifecycle_stage == "deleted"
    results, sync = synced(kept)
    assert sync.removed_runs == 1 and len(results) == len(ROWS) and results.run_id.nunique() == RESULTS
    assert {(r.strategy, r.test_dataset, r.domain): r.mIoU for r in results.itertuples()} == expected_miou(changed)


def row(**cells: str) -> list[str]:
    """The fixture's first row (line 2) with some cells changed."""
    values = dict(zip(HEADER, ROWS[0]), **cells)
    return [values[c] for c in HEADER]


BAD_ROWS = [
    ROWS[0],  # line 2: fine, and still not written
    row(dataset="wether_bench", domain="night"),
    row(strategy="gen_cycleGAN", ratio="1.5"),
    row(domain="foggy", mIoU="120"),
    row(domain="hazy"),
    ROWS[0],  # line 7: the overall result of line 2 again
    row(strategy="std_autoagment"),
    row(stage="cg", dataset="acdc", pretrained="maybe", mIoU="", checkpoint_iter="-3"),
]


def test_bad_rows_are_all_named_with_their_lines_and_nothing_is_written(kept, tmp_path):
    with pytest.raises(ProveError) as error:
        import_results(write_csv(tmp_path / "bad.csv", BAD_ROWS), echo=quiet)
    message = str(error.value)
    for needle in ("line 3: dataset 'wether_bench' is unknown; accepted: acdc,", "line 4: ratio '1.5'",
                   "line 5: mIoU '120'", "line 6: domain 'hazy'", "line 7: domain 'all' appears twice",
                   "also line 2", "line 8: unknown strategy 'std_autoagment'", "line 9: pretrained 'maybe'",
                   "line 9: mIoU '' is empty", "line 9: checkpoint_iter '-3'", "line 9: dataset 'acdc' cannot be"):
        assert needle in message, needle
    assert "line 2" not in message.replace("also line 2", "")
    assert runs(ViewType.ALL) == []


def test_a_long_list_of_problems_is_cut_short(kept, tmp_path):
    with pytest.raises(ProveError) as error:
        import_results(write_csv(tmp_path / "bad.csv", [row(seed=str(-s)) for s in range(1, 26)]), echo=quiet)
    message = str(error.value)
    assert "25 problem(s)" in message and "line 21: seed '-20'" in message and "line 22:" not in message
    assert message.endswith("and 5 more")
    assert runs(ViewType.ALL) == []


@pytest.mark.parametrize("header, needle", [
    ([c for c in HEADER if c != "aux_loss"], "missing required column(s) aux_loss"),
    ([c if c != "mIoU" else "mIOU" for c in HEADER], "unknown column(s) 'mIOU'"),
    ([*HEADER, "notes"], "unknown column(s) 'notes'"),
])
def test_header_problems_name_the_columns_and_what_is_accepted(kept, tmp_path, header, needle):
    rows = [r[:len(header)] + [""] * (len(header) - len(HEADER)) for r in ROWS]
    with pytest.raises(ProveError) as error:
        import_results(write_csv(tmp_path / "header.csv", rows, header), echo=quiet)
    assert needle in str(error.value) and "line 1" in str(error.value) and "accepted: stage, dataset" in str(error.value)
    assert runs(ViewType.ALL) == []


def test_missing_empty_or_ragged_files_are_clear_errors(kept, tmp_path):
    with pytest.raises(ProveError, match="results file not found: .*nowhere.csv"):
        import_results(tmp_path / "nowhere.csv", echo=quiet)
    (tmp_path / "empty.csv").write_text("")
    with pytest.raises(ProveError, match="is empty; expected a header"):
        import_results(tmp_path / "empty.csv", echo=quiet)
    with pytest.raises(ProveError, match="holds no results"):
        import_results(write_csv(tmp_path / "header_only.csv", []), echo=quiet)
    with pytest.raises(ProveError, match="(?s)line 3: 3 fields, the header has 16.*line 4: domain 'hazy'"):
        import_results(write_csv(tmp_path / "ragged.csv", [ROWS[0], ROWS[1][:3], row(domain="hazy")]), echo=quiet)
    (tmp_path / "results.xlsx").write_bytes(b"PK\x03\x04\x14\x00\x06\x00\xff\xfe" * 20)  # a workbook, not its CSV
    with pytest.raises(ProveError, match=r"results.xlsx is not a UTF-8 CSV file: byte \d+ is 0x.*xlsx workbook"):
        import_results(tmp_path / "results.xlsx", echo=quiet)
    (tmp_path / "plot.csv").write_bytes(bytes(range(256)))
    with pytest.raises(ProveError, match="plot.csv is not a UTF-8 CSV file: byte 128 is 0x80; expected a CSV"):
        import_results(tmp_path / "plot.csv", echo=quiet)
    assert runs(ViewType.ALL) == []


def test_a_failure_midway_leaves_no_half_result_and_a_rerun_completes(kept, monkeypatch):
    from prove.tracking import bulk

    real, calls = bulk.uuid.uuid4, []

    def failing():
        calls.append(1)
        if len(calls) == 3:  # inside the second page's transaction
            raise RuntimeError("store went away")
        return real()

    monkeypatch.setattr(bulk, "PAGE", 2)
    monkeypatch.setattr(bulk.uuid, "uuid4", failing)
    with pytest.raises(Exception, match="store went away"):  # (MLflow's session wraps it in MlflowException)
        import_results(kept["csv"], echo=quiet)
    assert len(runs()) == 2 and {r.info.status for r in runs()} == {"FINISHED"}  # page 2 rolled back whole
    monkeypatch.setattr(bulk.uuid, "uuid4", real)
    report = import_results(kept["csv"], echo=quiet)
    assert (report.imported, report.skipped) == (RESULTS - 2, 2)
    results, _ = synced(kept)
    assert len(results) == len(ROWS)


def test_progress_and_summary_go_to_stderr(kept, monkeypatch):
    from prove.tracking import bulk

    monkeypatch.setattr(importer, "PROGRESS_EVERY", 2)
    monkeypatch.setattr(bulk, "PAGE", 2)  # progress moves a page at a time
    said = []
    import_results(kept["csv"], echo=lambda message, err=False: said.append((message, err)))
    assert [m.split(" (")[0] for m, _ in said[:2]] == ["imported 2/5 results", "imported 4/5 results"]
    assert all("elapsed" in m and "left" in m for m, _ in said[:2])  # progress says how long is left
    assert "13 rows, 5 results: 5 imported, 0 replaced, 0 already imported" in said[-1][0]
    assert all(err for _, err in said)


def test_the_run_mlflow_made_for_the_import_is_removed_and_never_counted(kept, monkeypatch):
    launcher = MlflowClient().create_run(client.experiment_id()).info.run_id
    monkeypatch.setenv("MLFLOW_RUN_ID", launcher)
    import_results(kept["csv"], echo=quiet)
    client.settle_project_run()  # what the CLI does when the command ends
    run = MlflowClient().get_run(launcher)
    assert run.info.lifecycle_stage == "deleted" and run.info.status == "FINISHED"  # `mlflow run` leaves it so
    assert "prove.kind" not in run.data.tags and "MLFLOW_RUN_ID" not in __import__("os").environ
    assert synced(kept)[1].total_runs == RESULTS


# -- the users' own result tables ---------------------------------------------------------------
USERS_STRATEGIES = ("baseline", "std_cutmix", "gen_IP2P", "gen_Qwen_Image_Edit", "gen_step1x_new", "gen_step1x_v1p2",
                    "gen_cycleGAN", "gen_flux_kontext")
USERS_STAGES = {"s1": "stage1", "s2": "Stage 2"}  # as their CSVs and scripts write them
USERS_DATASETS = ("BDD10k", "IDD-AW")
USERS_MODELS = ("segformer_mit-b3", "PSPNet_R50")


def users_table(path: Path) -> tuple[Path, dict]:
    """A result table in the users' spellings, with known mIoUs: truth[(stage, dataset, model, strategy)]."""
    import numpy as np

    rng = np.random.default_rng(11)
    truth, rows = {}, []
    for stage, written in USERS_STAGES.items():
        for dataset in USERS_DATASETS:
            for model in USERS_MODELS:
                for strategy in USERS_STRATEGIES:
                    miou = round(float(rng.uniform(30, 60)), 3)
                    truth[(stage, dataset, model, strategy)] = miou
                    ratio = "0.5" if strategy.startswith("gen_") else "1.0"
                    rows.append([written, dataset, model, strategy, ratio, "none", "TRUE" if stage == "s1" else "false",
                                 dataset, "all", str(miou), "", "", "", "15000", "0", ""])
    return write_csv(path, rows), truth


def test_a_table_in_the_users_spellings_imports_and_its_figures_match_scipy(kept, tmp_path):
    """stage1 / 'Stage 2', the seeds' generator names (gen_IP2P, gen_Qwen_Image_Edit, gen_step1x_new and
    gen_step1x_v1p2 distinct), BDD10k / IDD-AW, TRUE/false: imported, kept in the users' spelling, and the
    leaderboard's gains and S1-vs-S2 Spearman rho equal what numpy and scipy compute from the CSV."""
    import numpy as np
    import pandas as pd
    from click.testing import CliRunner
    from scipy import stats

    from prove.cli import cli

    table, truth = users_table(tmp_path / "downstream_results_stage1_stage2.csv")
    report = import_results(table, echo=quiet)
    assert report.imported == len(truth) and report.skipped == 0
    again = import_results(table, echo=quiet)
    assert (again.imported, again.skipped) == (0, len(truth)) and len(runs()) == len(truth)  # re-import adds nothing

    results, _ = synced(kept)
    assert set(results["strategy"]) == set(USERS_STRATEGIES)  # their spelling, not a lower-cased one
    assert set(results["stage"]) == {"s1", "s2"} and set(results["dataset"]) == {"bdd10k", "iddaw"}
    assert set(results["pretrained"]) == {"true", "false"}

    out = tmp_path / "lb"
    result = CliRunner().invoke(cli, ["leaderboard", "--output", str(out), "--stage", "stage1,Stage 2",
                                      "--tracking-uri", kept["uri"], "--exclusions", ""])
    assert result.exit_code == 0, result.output[-3000:]
    mean_gain = {}
    for stage in USERS_STAGES:
        board = pd.read_csv(out / "tables" / f"leaderboard_{stage}.csv").set_index("strategy")
        for strategy in USERS_STRATEGIES[1:]:
            expected = np.mean([truth[(stage, d, m, strategy)] - truth[(stage, d, m, "baseline")]
                                for d in USERS_DATASETS for m in USERS_MODELS])
            assert board.loc[strategy, "mean_gain"] == pytest.approx(expected, abs=1e-9)
            mean_gain[(stage, strategy)] = expected
    # the pretrained comparison is confounded with the stage here (s1 true, s2 false); rank by stage
    compare = [p for p in (out / "tables").glob("compare_stage_s1_vs_s2.csv")]
    assert compare, sorted(p.name for p in (out / "tables").iterdir())
    strategies = list(USERS_STRATEGIES[1:])
    rho, p_value = stats.spearmanr([mean_gain[("s1", s)] for s in strategies], [mean_gain[("s2", s)] for s in strategies])
    text = (out / "report.md").read_text()
    assert f"Spearman ρ = {rho:.3f} (p = {p_value:.3g}" in text


def test_a_batch_size_study_imports_its_settings_and_each_batch_size_is_matched_apart(kept, tmp_path):
    header = ["stage", "dataset", "model", "strategy", "ratio", "aux_loss", "pretrained", "test_dataset", "domain",
              "mIoU", "batch_size", "max_iters", "main_loss"]
    rows = [["s1", "weather_bench", "fcn_r18-tiny", s, "1.0", "none", "false", "weather_bench", "all", m, b, "15000",
             "ce"] for s, b, m in (("baseline", "8", "30.0"), ("baseline", "16", "32.0"),
                                    ("std_autoaugment", "8", "33.0"), ("std_autoaugment", "16", "31.0"))]
    path = write_csv(tmp_path / "batch.csv", rows, header)
    report = import_results(path, echo=quiet)
    assert report.imported == 4  # batch 8 and 16 are different results, not one result twice
    results, _ = synced(kept)
    assert sorted(results["batch_size"]) == [8, 8, 16, 16] and set(results["max_iters"]) == {15000}
    gains = matched_gains(results).gains.set_index("batch_size")["gain"].to_dict()
    assert gains == {8: pytest.approx(3.0), 16: pytest.approx(-1.0)}  # each against its own batch size
    bad = write_csv(tmp_path / "bad.csv", [rows[0][:10] + ["eight", "15000", "ce"]], header)
    with pytest.raises(ProveError, match="batch_size 'eight' is not an integer > 0"):
        import_results(bad, echo=quiet)


def test_files_without_setting_columns_keep_their_import_keys(kept):
    # a file imported before the setting columns existed must be found again, not imported twice
    result = importer._Result(dict(stage="s1", dataset="bdd10k", model="m", strategy="baseline", ratio=1.0,
                                   aux_loss="none", pretrained="true", seed=0, run_name="", test_dataset="acdc",
                                   checkpoint_iter=0), "baseline")
    assert result.key == importer._digest({k: result.fields[k] for k in importer.RESULT_FIELDS})


def test_a_study_column_and_the_study_option_tag_every_imported_run(kept, tmp_path):
    """The `study` column, as users write it, labels its rows' runs; --study labels the rest;
    a study nobody declared is refused before anything is written."""
    header = [*HEADER, "study"]
    rows = [[*row, "S1" if i == 0 else ""] for i, row in enumerate(ROWS)]
    path = write_csv(tmp_path / "with_study.csv", rows, header)
    first = {tuple(row[HEADER.index(c)] for c in ("strategy", "test_dataset")) for row in ROWS[:1]}
    import_results(path, echo=quiet, study="from_scratch")
    tagged = {r.data.tags.get("prove.study") for r in runs()}
    assert tagged == {"s1", "from-scratch"} and len(runs()) == RESULTS
    by_study = [r for r in runs() if r.data.tags.get("prove.study") == "s1"]
    assert {(r.data.params["strategy"], r.data.params["test_dataset"]) for r in by_study} == {
        (CANONICAL_STRATEGY[s], CANONICAL_TEST_SET[t]) for s, t in first}

    bad = write_csv(tmp_path / "bad_study.csv", [[*row, "stage9"] for row in ROWS], header)
    with pytest.raises(ProveError, match=r"study 'stage9' is unknown; accepted: .*s1-ratio"):
        import_results(bad, echo=quiet, force=True)
    with pytest.raises(ProveError, match=r"unknown study 'S7'; accepted:"):
        import_results(kept["csv"], echo=quiet, study="S7")
    assert len(runs()) == RESULTS  # nothing written by either
