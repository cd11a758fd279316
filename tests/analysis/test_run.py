"""`prove leaderboard` against a real sqlite store: results imported as test runs, the report
and its analysis run, the warm (nothing new) path, incremental updates and bad input."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from prove.cli import cli
from prove.tracking.importer import import_results
from tests.analysis.tables import GAINS, results

MODELS = {"segformer": "segformer_mit-b3", "pspnet": "pspnet_r50"}
STRATEGIES = {"baseline": "baseline", "std_cutmix": "std_cutmix", "gen_cyclegan": "gen_cycleGAN",
              "gen_flux": "gen_flux_kontext"}


def study_csv(path, stages=("s1", "s2")):
    """The hand-made tables of tests/analysis/tables.py as a results CSV with real names."""
    df = pd.concat([results(s) for s in stages], ignore_index=True)
    out = pd.DataFrame({
        "stage": df["stage"], "dataset": df["dataset"], "model": df["model"].map(MODELS),
        "strategy": df["strategy"].map(STRATEGIES), "ratio": df["ratio"], "aux_loss": df["aux_loss"],
        "pretrained": df["pretrained"], "test_dataset": df["test_dataset"], "domain": df["domain"],
        "mIoU": df["mIoU"], "checkpoint_iter": df["checkpoint_iter"],
    })
    out.to_csv(path, index=False)
    return path


@pytest.fixture
def study(store, monkeypatch):
    """The group's study CSV imported into this test's store, the cwd in the test's folder."""
    monkeypatch.setenv("PROVE_CACHE_DIR", str(store.tmp / "cache"))
    monkeypatch.chdir(store.tmp)  # no exclusions.yaml here unless a test writes one
    import_results(study_csv(store.tmp / "study.csv"), experiment="study")
    return dict(uri=store.uri, tmp=store.tmp, client=store)


def analysis_runs(client):
    exps = [e.experiment_id for e in client.search_experiments()]
    return client.search_runs(exps, filter_string="tags.`prove.kind` = 'analysis'")


def leaderboard(*args):
    return CliRunner().invoke(cli, ["leaderboard", *args])


def test_report_from_the_store_is_logged_as_an_analysis_run(study):
    out = study["tmp"] / "lb"
    result = leaderboard("--output", str(out))
    assert result.exit_code == 0, result.output
    s1 = pd.read_csv(out / "tables" / "leaderboard_s1.csv").set_index("strategy")
    for strategy, gains in GAINS.items():
        assert s1.loc[STRATEGIES[strategy], "mean_gain"] == pytest.approx(np.mean(gains))
    (run,) = analysis_runs(study["client"])
    assert run.info.status == "FINISHED" and run.data.params["metric"] == "mIoU"
    assert run.data.metrics["s1/n_beat_baseline"] == 2
    logged = {a.path for a in study["client"].list_artifacts(run.info.run_id)}
    assert {"report.md", "report.html", "runs_read.csv", "tables", "plots"} <= logged
    read = pd.read_csv(study["client"].download_artifacts(run.info.run_id, "runs_read.csv"))
    tests = study["client"].search_runs([e.experiment_id for e in study["client"].search_experiments()],
                                        filter_string="tags.`prove.kind` = 'test'")
    assert set(read.loc[read["kind"] == "test", "run_id"]) == {r.info.run_id for r in tests}  # the inputs, linked
    assert f"{len(tests)} test results" in run.data.tags["mlflow.note.content"]
    assert "analysis run" in result.output and f"#/experiments/{run.info.experiment_id}/runs/" in result.output
    html = (out / "report.html").read_text()
    assert "<table>" in html and 'src="data:image/png;base64,' in html and 'src="plots/' not in html
    plots = {a.path for a in study["client"].list_artifacts(run.info.run_id, "plots")}
    assert "plots/leaderboard_s1.png" in plots and "plots/rank_slope_stage_s1_vs_s2.png" in plots


def test_nothing_new_keeps_the_report_and_new_results_are_fetched_alone(study):
    out = study["tmp"] / "lb"
    assert leaderboard("--output", str(out)).exit_code == 0
    again = leaderboard("--output", str(out))
    assert again.exit_code == 0 and "nothing changed" in again.output
    assert "0 fetched" in again.output
    assert len(analysis_runs(study["client"])) == 1

    extra = study["tmp"] / "extra.csv"
    extra.write_text("stage,dataset,model,strategy,ratio,aux_loss,pretrained,test_dataset,domain,mIoU,checkpoint_iter\n"
                     "s1,bdd10k,segformer_mit-b3,std_mixup,1.0,none,true,bdd10k,all,45.0,20000\n")
    import_results(extra, experiment="study")
    third = leaderboard("--output", str(out))
    assert third.exit_code == 0 and "1 fetched" in third.output
    s1 = pd.read_csv(out / "tables" / "leaderboard_s1.csv").set_index("strategy")
    assert s1.loc["std_mixup", "mean_gain"] == pytest.approx(45.0 - 40.0)  # bdd10k/segformer baseline: 40
    assert len(analysis_runs(study["client"])) == 2


def test_reimporting_never_counts_a_result_twice(study):
    import_results(study["tmp"] / "study.csv", experiment="study")  # the same file again
    out = study["tmp"] / "lb"
    assert leaderboard("--output", str(out)).exit_code == 0
    s1 = pd.read_csv(out / "tables" / "leaderboard_s1.csv").set_index("strategy")
    assert (s1["n_pairs"] == 4).all()


def test_exclusions_file_is_applied_and_listed(study):
    (study["tmp"] / "exclusions.yaml").write_text(
        "exclusions:\n  - field: model\n    value: pspnet_r50\n    reason: broken baseline\n")
    out = study["tmp"] / "lb"
    assert leaderboard("--output", str(out)).exit_code == 0
    assert "excluded model = 'pspnet_r50': broken baseline" in (out / "report.md").read_text()
    assert "pspnet_r50" not in set(pd.read_csv(out / "tables" / "results.csv")["model"])


@pytest.mark.parametrize("args, message", [
    (["--metric", "miou"], "unknown metric 'miou'"),
    (["--stage", "s9"], "unknown stage"),
    (["--filter", "datset=bdd10k"], "filter column 'datset'"),
    (["--filter", "dataset"], "expected column=value"),
    (["--exclusions", "missing.yaml"], "exclusions file not found: missing.yaml"),
    (["--plan", "missing.yaml"], "plan file not found"),
    (["--compare", "stage:s1"], "expected column:value_a:value_b"),
    (["--experiments", "nope"], "unknown experiment"),
])
def test_bad_input_is_a_clear_error_and_logs_nothing(study, args, message):
    result = leaderboard("--output", str(study["tmp"] / "lb"), *args)
    assert result.exit_code == 2 and message in result.output, result.output
    assert analysis_runs(study["client"]) == []


def test_an_exclusion_without_reason_is_refused(study):
    (study["tmp"] / "ex.yaml").write_text("exclusions:\n  - field: model\n    value: pspnet_r50\n    reason: ''\n")
    result = leaderboard("--exclusions", str(study["tmp"] / "ex.yaml"))
    assert result.exit_code == 2 and "needs a reason" in result.output
    assert analysis_runs(study["client"]) == []


def test_plan_coverage_lists_what_is_missing(study):
    plan = study["tmp"] / "plan.yaml"
    plan.write_text("name: t\ngrid:\n  strategy: [baseline, std_cutmix, std_mixup]\n"
                    "fixed:\n  stage: s1\n  dataset: bdd10k\n  model: segformer_mit-b3\n  pretrained: 'true'\n")
    out = study["tmp"] / "lb"
    result = leaderboard("--output", str(out), "--plan", str(plan), "--stage", "s1")
    assert result.exit_code == 0, result.output
    missing = pd.read_csv(out / "tables" / "planned_not_trained.csv")
    # imported results have no training runs here but were trained elsewhere: only std_mixup,
    # never tested, is missing its training (the old report listed all three)
    assert set(missing["strategy"]) == {"std_mixup"}


def test_a_store_made_again_at_the_same_path_leaves_no_ghost_results(study):
    import os
    import subprocess
    import sys

    out = study["tmp"] / "lb"
    assert leaderboard("--output", str(out)).exit_code == 0
    assert pd.read_csv(out / "tables" / "results.csv")["run_id"].nunique() == 32
    # the user starts over with a new mlflow.db at the same URI (new processes: this one keeps
    # the old database open)
    (study["tmp"] / "store.db").unlink()
    csv = study_csv(study["tmp"] / "s1.csv", stages=("s1",))

    def prove(*args):
        return subprocess.run([sys.executable, "-m", "prove.cli", *args], env=dict(os.environ), capture_output=True,
                              text=True, cwd=study["tmp"], timeout=300)

    assert prove("import-results", str(csv), "--experiment", "study").returncode == 0
    again = prove("leaderboard", "--output", str(out))
    assert again.returncode == 0, again.stderr[-2000:]
    kept = pd.read_csv(out / "tables" / "results.csv")
    assert kept["run_id"].nunique() == 16 and set(kept["stage"]) == {"s1"}  # nothing of the old store
    refreshed = prove("leaderboard", "--output", str(out), "--refresh")
    assert refreshed.returncode == 0 and "16 test results (16 fetched" in refreshed.stderr


def test_filters_and_stages_accept_the_users_spellings(study):
    out = study["tmp"] / "lb-spelled"
    result = leaderboard("--output", str(out), "--stage", "Stage 1", "--filter", "dataset=BDD10K")
    assert result.exit_code == 0, result.output
    results = pd.read_csv(out / "tables" / "results.csv")
    assert set(results["stage"]) == {"s1"} and set(results["dataset"]) == {"bdd10k"}
    bad = leaderboard("--output", str(study["tmp"] / "lb-bad"), "--filter", "dataset=wether")
    assert bad.exit_code == 2 and "unknown dataset 'wether'" in bad.output


def test_a_study_filter_keeps_one_study_of_a_whole_program_store(study):
    """Two studies of one program in one store: `--filter study=NAME` (any spelling) keeps one."""
    s1 = pd.read_csv(study_csv(study["tmp"] / "s1.csv", stages=("s1",))).assign(checkpoint_iter=15000)
    s1.to_csv(study["tmp"] / "s1.csv", index=False)
    s1.assign(pretrained="false", checkpoint_iter=40000).to_csv(study["tmp"] / "scratch.csv", index=False)
    assert import_results(study["tmp"] / "s1.csv", experiment="program", study="S1").imported == 16
    assert import_results(study["tmp"] / "scratch.csv", experiment="program", study="scratch").imported == 16
    out = study["tmp"] / "lb-s1"
    result = leaderboard("--output", str(out), "--filter", "study=Stage1")
    assert result.exit_code == 0, result.output
    kept = pd.read_csv(out / "tables" / "results.csv")
    assert set(kept["study"]) == {"s1"} and set(kept["checkpoint_iter"]) == {15000} and kept["run_id"].nunique() == 16
    bad = leaderboard("--output", str(study["tmp"] / "lb-bad"), "--filter", "study=S7")
    assert bad.exit_code == 2 and "unknown study 'S7'; accepted:" in bad.output


def test_the_shipped_exclusions_file_excludes_hrnet_with_the_groups_reason():
    from pathlib import Path

    from prove.analysis.exclusions import load_exclusions

    (entry,) = load_exclusions(Path(__file__).resolve().parents[2] / "exclusions.yaml")
    assert (entry.field, entry.value) == ("model", "hrnet_hr48") and "baseline was broken" in entry.reason


def test_a_preset_is_a_plan_by_its_name(study):
    out = study["tmp"] / "lb"
    result = leaderboard("--output", str(out), "--plan", "Batch-Size", "--stage", "s1")
    assert result.exit_code == 0, result.output
    summary = pd.read_csv(out / "tables" / "coverage.csv").set_index("step")
    assert summary.loc["planned", "specs"] == 8  # the batch-size preset's 8 trainings, none run here
    # the study's imported S1 bdd10k segformer_mit-b3 baseline records no batch size: an
    # unrecorded budget matches any planned one, so it counts as trained at each batch size
    # (docs/leaderboard.md); std_autoaugment, never imported, is missing at all four
    missing = pd.read_csv(out / "tables" / "planned_not_trained.csv")
    assert set(missing["strategy"]) == {"std_autoaugment"} and sorted(missing["batch_size"]) == [2, 4, 8, 16]
    bad = leaderboard("--output", str(out), "--plan", "batchsize-typo")
    assert bad.exit_code == 2 and "a sweep YAML file or a preset: stage1" in bad.output
