"""The demo end to end at a toy budget: plan -> train -> test every checkpoint -> store ->
leaderboard with coverage, validation-vs-test and convergence (the README's main job runs
it at full budget)."""

from __future__ import annotations

import mlflow
import pandas as pd
import pytest
from click.testing import CliRunner

from prove.cli import cli
from prove.sweeps.definition import from_mapping
from prove.sweeps.presets import DEMO_STRATEGIES, demo_grid
from tests.support import private_store


def test_demo_plan_is_the_documented_grid():
    specs = from_mapping(demo_grid(50), "demo").specs()
    assert len(specs) == 2 * len(DEMO_STRATEGIES) + 2 == 12  # + the baseline's second seed, per stage
    assert sorted(s.seed for s in specs if s.strategy == "baseline") == [0, 0, 1, 1]
    assert {s.stage for s in specs} == {"s1", "s2"} and {s.max_iters for s in specs} == {50}
    families = {s.strategy.split("_")[0] for s in specs}
    assert families == {"baseline", "std", "gen"}


@pytest.mark.slow(140)
def test_demo_trains_tests_and_reports(tmp_path, monkeypatch):
    uri = private_store(tmp_path, monkeypatch, db="demo.db")
    monkeypatch.chdir(tmp_path)
    out = tmp_path / "demo"
    result = CliRunner().invoke(cli, ["demo", "--max-iters", "2", "--output", str(out)])
    assert result.exit_code == 0, result.output[-3000:]
    assert "sweep demo finished: total 12  done 12;" in result.output  # every training trained and tested
    assert "mlflow ui --backend-store-uri " + uri in result.output

    client = mlflow.tracking.MlflowClient(uri)
    (exp,) = [e for e in client.search_experiments() if e.name == "prove-demo"]
    runs = client.search_runs([exp.experiment_id])
    kinds = pd.Series([r.data.tags.get("prove.kind") for r in runs]).value_counts()
    assert kinds["train"] == 12 and kinds["test"] == 24 and kinds["analysis"] == 1  # 2 checkpoints each
    assert kinds["sweep"] == 1  # the demo is `prove ablation --preset demo`: its trainings nest under one sweep run

    tables = out / "tables"
    for stage in ("s1", "s2"):
        board = pd.read_csv(tables / f"leaderboard_{stage}.csv")
        assert set(board["strategy"]) == set(DEMO_STRATEGIES) - {"baseline"}
        assert (out / "plots" / f"leaderboard_{stage}.png").is_file()
        # the baseline's two seeds give each strategy a noise floor and a paired test over blocks
        assert board["noise_sd"].notna().all() and board["wilcoxon_p"].notna().all()
        assert len(pd.read_csv(tables / f"noise_floor_{stage}.csv").query("n_seeds == 2")) == 1
    coverage = pd.read_csv(tables / "coverage.csv").set_index("step")
    assert (coverage["specs"] == 12).all() and (coverage["missing"] == 0).all()  # planned = trained = tested
    gap = pd.read_csv(tables / "val_test_gap.csv")
    assert "Seed noise floor: the baseline's mIoU moves by" in (out / "report.md").read_text()
    assert len(gap) == 12 and gap["same_checkpoint"].all()
    assert set(pd.read_csv(tables / "convergence.csv")["checkpoint_iter"]) == {1, 2}
    assert (out / "plots" / "rank_slope_stage_s1_vs_s2.png").is_file()
    assert (out / "plots" / "cd_s1.png").is_file()

    again = CliRunner().invoke(cli, ["demo", "--max-iters", "2", "--output", str(out)])
    assert again.exit_code == 0 and "nothing changed since the last report" in again.output
    assert len(client.search_runs([exp.experiment_id])) == len(runs)  # a rerun adds nothing
