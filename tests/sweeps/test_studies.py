"""The studies of docs/studies.md on the embedded benchmark, end to end: a sweep file through
`prove ablation` (train + test) and `prove leaderboard` from the store."""

from __future__ import annotations

import pandas as pd
import pytest
import yaml
from click.testing import CliRunner

from prove.cli import cli
from prove.sweeps.presets import CURRICULUM_STRATEGY, PRESETS, TARGET_DOMAINS
from tests.support import private_store

TINY = {"dataset": "weather_bench", "model": "fcn_r18-tiny", "stage": "s1", "max_iters": 4, "batch_size": 4,
        "eval_interval": 4}


def sweep_and_report(tmp_path, monkeypatch, name: str, grid: list[dict]):
    """`prove ablation` of a tiny sweep on the embedded benchmark, then `prove leaderboard`; the report folder."""
    private_store(tmp_path, monkeypatch, PROVE_WORK_DIR=tmp_path / "work", PROVE_CACHE_DIR=tmp_path / "cache")
    sweep = tmp_path / f"{name}.yaml"
    sweep.write_text(yaml.safe_dump({"name": name, "fixed": TINY, "grid": grid}))
    result = CliRunner().invoke(cli, ["ablation", "--sweep", str(sweep)])
    assert result.exit_code == 0, result.output[-3000:]
    out = tmp_path / "report"
    result = CliRunner().invoke(cli, ["leaderboard", "--output", str(out)])
    assert result.exit_code == 0, result.output[-3000:]
    return out


def test_the_curriculum_preset_is_the_designed_grid():
    specs = PRESETS.get("curriculum").sweep().planned_specs()  # blocked here: no BDD10k, no manifest
    by_schedule = {s.ratio_schedule: s for s in specs if s.strategy == CURRICULUM_STRATEGY}
    assert sorted(by_schedule) == ["constant", "early", "late", "linear"]
    assert {s.strategy for s in specs} == {CURRICULUM_STRATEGY, "baseline"} and len(specs) == 5
    assert {(s.stage, s.dataset, s.model) for s in specs} == {("s1", "bdd10k", "segformer_mit-b3")}
    assert len({s.spec_hash() for s in specs}) == 5 and len({s.run_name for s in specs}) == 5


@pytest.mark.slow(65)
def test_a_curriculum_sweep_ranks_each_schedule_apart(tmp_path, monkeypatch):
    out = sweep_and_report(tmp_path, monkeypatch, "curriculum-demo", [
        {"strategy": ["gen_physics_fog"], "ratio": [0.5], "ratio_schedule": ["constant", "linear", "early", "late"]},
        {"strategy": ["baseline"]}])
    board = pd.read_csv(out / "tables" / "leaderboard_s1.csv")
    # never pooled into one gen_physics_fog: each schedule is its own row
    assert set(board["strategy"]) == {f"gen_physics_fog [ratio_schedule={s}]"
                                      for s in ("constant", "linear", "early", "late")}
    assert "ratio_schedule" in pd.read_csv(out / "tables" / "settings_present.csv")["field"].tolist()


def test_the_targeted_preset_is_one_run_per_target_domain():
    specs = PRESETS.get("targeted").sweep().planned_specs()
    targeted = sorted(s.gen_domains for s in specs if s.strategy == CURRICULUM_STRATEGY)
    assert targeted == sorted(["", *TARGET_DOMAINS]) and len(specs) == len(TARGET_DOMAINS) + 2
    assert len({s.spec_hash() for s in specs}) == len(specs)


@pytest.mark.slow(40)
def test_a_targeted_sweep_shows_what_targeting_one_domain_does_to_the_others(tmp_path, monkeypatch):
    out = sweep_and_report(tmp_path, monkeypatch, "targeted-demo", [
        {"strategy": ["gen_albumentations_weather"], "gen_domains": ["", "night", "foggy"]},
        {"strategy": ["baseline"]}])
    summary = pd.read_csv(out / "tables" / "targeting_summary_s1.csv", keep_default_na=False)
    assert sorted(summary["gen_domains"]) == ["all", "foggy", "night"]
    table = pd.read_csv(out / "tables" / "targeting_s1.csv", keep_default_na=False)
    assert set(table.loc[table["targeted"], "domain"]) == {"foggy", "night"}
    assert "### Domain-targeted generated images (s1)" in (out / "report.md").read_text()
    assert (out / "plots" / "targeting_s1.png").is_file()
