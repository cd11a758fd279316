"""Sweeps: definitions and presets, the plan, claims, and real sweeps (one worker, two local
workers, two concurrent sweeps) on a real sqlite store with the ACDC fixture."""

from __future__ import annotations

import os
import subprocess
import time

import mlflow
import pytest
import yaml
from click.testing import CliRunner

from prove.settings import stale_after_s
from prove.tracking import claims, client, schema
from prove.cli import cli
from prove.errors import ProveError
from prove.sweeps.presets import PRESETS, STUDY_DATASETS, STUDY_MODELS, all_strategies
from prove.sweeps.definition import from_mapping, load_sweep
from prove.sweeps.status import counts, status_table as plan
from tests.data.fixtures import build_acdc
from tests.support import prove_command

GRID = {"strategy": ["baseline", "std_minimal"], "seed": [0, 1]}


@pytest.fixture
def store(tmp_path, monkeypatch):
    root = tmp_path / "acdc"
    build_acdc(root)
    uri = f"sqlite:///{tmp_path / 'store.db'}"
    for key, value in {"MLFLOW_TRACKING_URI": uri, "PROVE_WORK_DIR": str(tmp_path / "work"),
                       "PROVE_PLUGINS": "tests.support"}.items():
        monkeypatch.setenv(key, value)
    mlflow.set_tracking_uri(uri)
    sweep = {"name": "mini", "grid": GRID,
             "fixed": {"stage": "s2", "dataset": "acdc_mini", "max_iters": 2, "batch_size": 2, "eval_interval": 2,
                       "data_root": str(root)}}
    path = tmp_path / "sweep.yaml"
    path.write_text(yaml.safe_dump(sweep))
    return dict(tmp=tmp_path, uri=uri, sweep=path, client=mlflow.tracking.MlflowClient(uri))


def runs_of(client, kind):
    exps = [e.experiment_id for e in client.search_experiments()]
    return client.search_runs(exps, filter_string=f"tags.`prove.kind` = '{kind}'") if exps else []


# -- definitions ------------------------------------------------------------------------------

@pytest.mark.parametrize("data, message", [
    ({"grid": {}}, "needs a non-empty 'grid'"),
    ({"grid": {"strategie": ["baseline"]}}, "grid axis 'strategie' is not a train option"),
    ({"grid": {"seed": 3}}, "grid axis 'seed' must be a non-empty list"),
    ({"grid": {"seed": [0]}, "fixed": {"seed": 1}}, "in both grid and fixed"),
    ({"grid": {"seed": [0]}, "colour": 1}, "unknown keys ['colour']"),
    ({"grid": {"seed": [0]}, "checkpoint": "best"}, "checkpoint 'best'; accepted: last, all"),
    ({"grid": {"seed": [0]}, "resources": {"gpu": 1}}, "unknown resource 'gpu'"),
    ({"grid": {"seed": [0]}, "resources": {"gpus": "two"}}, "resource gpus 'two' must be int"),
    ({"grid": {"seed": [0]}, "tests": [{"dataset": "acdcc"}]}, "acdcc"),
    ({"grid": {"seed": [0]}, "exclude": [{"sed": 1}]}, "not train options"),
    ({"grid": {"strategy": ["std_nope"]}}, "std_nope"),
    ({"grid": {"seed": [0]}, "manifests": {"x": "{gen}/m.csv"}}, "only {generator} and {dataset}"),
])
def test_bad_sweep_definitions_are_clear_errors(data, message):
    with pytest.raises(ProveError) as err:
        from_mapping(data, "t.yaml")
    assert message in str(err.value)


def test_sweep_file_errors(tmp_path):
    with pytest.raises(ProveError, match="sweep file not found"):
        load_sweep(tmp_path / "nope.yaml")
    (tmp_path / "bad.yaml").write_text("grid: [")
    with pytest.raises(ProveError, match="not valid YAML"):
        load_sweep(tmp_path / "bad.yaml")


def test_grid_exclude_and_dedup():
    sweep = from_mapping({"grid": {"strategy": ["baseline", "std_minimal"], "ratio": [0.5, 1.0], "seed": [0, 1]},
                          "exclude": [{"strategy": "std_minimal", "seed": 1}]}, "t")
    specs = [i.spec for i in sweep.items()]
    # ratio is forced to 1.0 without generated images: 0.5 and 1.0 collapse onto one spec
    assert sorted((s.strategy, s.seed) for s in specs) == [("baseline", 0), ("baseline", 1), ("std_minimal", 0)]


def test_presets_cover_the_registries():
    strategies = all_strategies()
    assert "baseline" in strategies and "gen_random_noise" not in strategies
    stage1 = PRESETS.get("stage1").sweep().items()
    assert len(stage1) == len(strategies) * len(STUDY_DATASETS) * len(STUDY_MODELS)
    blocked = [i for i in stage1 if i.spec is None]
    assert blocked and all("manifest" in i.blocked for i in blocked)  # external generators without images here
    for name, preset in PRESETS.items():
        items = preset.sweep().items()
        assert items, name
    loss = PRESETS.get("loss").sweep().items()
    assert not any(i.spec and i.spec.aux_loss == "lovasz" and i.spec.main_loss == "lovasz" for i in loss)


def test_unknown_preset_and_both_sources():
    result = CliRunner().invoke(cli, ["ablation", "--preset", "stage9", "--dry-run"])
    assert result.exit_code == 2 and "unknown preset 'stage9'; accepted: stage1" in result.output
    result = CliRunner().invoke(cli, ["ablation", "--dry-run"])
    assert result.exit_code == 2 and "exactly one of --preset" in result.output


# -- claims -----------------------------------------------------------------------------------

def test_claims_are_exclusive_and_expire(store, monkeypatch):
    exp = client.experiment_id("claims")
    first = claims.try_claim(exp, "abc")
    assert first is not None and claims.try_claim(exp, "abc") is None
    assert claims.try_claim(exp, "other") is not None  # claims are per spec
    assert set(claims.live_claims(exp)) == {"abc", "other"}
    claims.release(first)
    assert claims.try_claim(exp, "abc") is not None
    monkeypatch.setenv("PROVE_STALE_AFTER", "0")
    time.sleep(0.01)
    assert claims.live_claims(exp) == {} and claims.expire_stale(exp) == 2


# -- plans and runs ---------------------------------------------------------------------------

def test_dry_run_plans_and_writes_nothing(store):
    result = CliRunner().invoke(cli, ["ablation", "--sweep", str(store["sweep"]), "--dry-run",
                                      "--plan-csv", str(store["tmp"] / "plan.csv")])
    assert result.exit_code == 0, result.output
    assert "total 4  done 0  to_test 0  to_train 4" in result.output
    assert store["client"].search_experiments() == [] or not runs_of(store["client"], "train")
    assert (store["tmp"] / "plan.csv").read_text().count("to_train") == 4


@pytest.mark.slow
def test_sweep_trains_tests_resumes_nothing_twice(store):
    result = CliRunner().invoke(cli, ["ablation", "--sweep", str(store["sweep"])])
    assert result.exit_code == 0, result.output
    trains, tests = runs_of(store["client"], "train"), runs_of(store["client"], "test")
    assert len(trains) == 4 and len(tests) == 4
    (parent,) = runs_of(store["client"], "sweep")
    assert parent.info.status == "FINISHED" and parent.data.metrics["sweep/done"] == 4
    assert all(r.data.tags["mlflow.parentRunId"] == parent.info.run_id for r in trains + tests)
    assert "sweep mini finished: total 4  done 4" in result.output

    sweep = load_sweep(store["sweep"])
    assert counts(plan(sweep, "prove"))["done"] == 4
    again = CliRunner().invoke(cli, ["ablation", "--sweep", str(store["sweep"])])
    assert again.exit_code == 0 and len(runs_of(store["client"], "train")) == 4  # nothing twice

    # a test set added to the sweep: only the tests run, nothing is trained again
    data = yaml.safe_load(store["sweep"].read_text())
    data["tests"] = [{"dataset": "same"}, {"dataset": "same", "split": "train"}]
    store["sweep"].write_text(yaml.safe_dump(data))
    dry = CliRunner().invoke(cli, ["ablation", "--sweep", str(store["sweep"]), "--dry-run"])
    assert "to_test 4" in dry.output and "missing tests: acdc_mini/train" in dry.output
    third = CliRunner().invoke(cli, ["ablation", "--sweep", str(store["sweep"])])
    assert third.exit_code == 0, third.output
    assert len(runs_of(store["client"], "train")) == 4 and len(runs_of(store["client"], "test")) == 8


@pytest.mark.slow
def test_reconcile_marks_runs_of_dead_jobs_resumable(store):
    sweep = load_sweep(store["sweep"])
    spec = sweep.items()[0].spec
    exp = client.experiment_id("prove")
    # a run left RUNNING by a job that died before its first checkpoint: no heartbeat for long
    dead = client.create_run(exp, spec.run_name, {schema.KIND: "train", schema.SPEC_HASH: spec.spec_hash(),
                                                    schema.WORK_DIR: str(store["tmp"] / "gone")}, spec.to_params())
    client.set_tags(dead, {schema.HEARTBEAT: str(time.time() - 10 * stale_after_s())})
    assert plan(sweep, "prove").set_index("spec_hash").loc[spec.spec_hash(), "status"] == "resumable"
    result = CliRunner().invoke(cli, ["ablation", "--sweep", str(store["sweep"]), "--reconcile", "--dry-run"])
    assert result.exit_code == 0 and f"({dead})" in result.output
    assert store["client"].get_run(dead).info.status == "KILLED"


@pytest.mark.slow
def test_two_concurrent_sweeps_never_train_a_spec_twice(store):
    env = dict(os.environ)
    procs = [subprocess.Popen(prove_command("ablation", "--sweep", str(store["sweep"])), env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True) for _ in range(2)]
    outputs = [p.communicate(timeout=600)[0] for p in procs]
    assert all(p.returncode == 0 for p in procs), "\n".join(f"[rc {p.returncode}] " + o[-3000:] for p, o in zip(procs, outputs))
    trains = runs_of(store["client"], "train")
    hashes = [r.data.tags["prove.spec_hash"] for r in trains]
    assert len(hashes) == 4 and len(set(hashes)) == 4  # every spec exactly once
    assert len(runs_of(store["client"], "test")) == 4
    assert counts(plan(load_sweep(store["sweep"]), "prove"))["done"] == 4


@pytest.mark.slow
def test_local_workers_share_the_sweep(store):
    result = CliRunner().invoke(cli, ["ablation", "--sweep", str(store["sweep"]), "--workers", "2"])
    assert result.exit_code == 0, result.output
    hashes = [r.data.tags["prove.spec_hash"] for r in runs_of(store["client"], "train")]
    assert len(hashes) == 4 and len(set(hashes)) == 4
    assert "done 4" in result.output


def test_wall_clock_signal_gives_the_spec_back(store):
    """What a SLURM task does when its time is up (SweepTask.checkpoint): the training in
    progress becomes resumable and its claim is released, so the requeued task resumes it now."""
    from prove.sweeps.worker import _CURRENT
    from prove.sweeps.executors.slurm import SweepTask

    sweep = load_sweep(store["sweep"])
    spec = sweep.items()[0].spec
    exp = client.experiment_id("prove")
    run = client.create_run(exp, spec.run_name, {schema.KIND: "train", schema.SPEC_HASH: spec.spec_hash(),
                                                   schema.WORK_DIR: str(store["tmp"] / "w")}, spec.to_params())
    _CURRENT["claim"] = claims.try_claim(exp, spec.spec_hash())
    assert plan(sweep, "prove").set_index("spec_hash").loc[spec.spec_hash(), "status"] == "running"
    resubmission = SweepTask().checkpoint(sweep, "prove", "", "slurm0")
    assert resubmission.args == (sweep, "prove", "", "slurm0")  # submitit requeues the same call
    assert store["client"].get_run(run).info.status == "KILLED"
    assert claims.live_claims(exp) == {} and "claim" not in _CURRENT
    assert plan(sweep, "prove").set_index("spec_hash").loc[spec.spec_hash(), "status"] == "resumable"


def test_presets_find_the_users_manifests_one_per_method(tmp_path, monkeypatch):
    """GENERATED_IMAGES/<method>/manifest.csv, covering several datasets: a preset takes it for each
    dataset it has rows of, and says why the others are blocked."""
    import csv

    from tests.data.fixtures import build_bdd10k

    tree = build_bdd10k(tmp_path / "bdd")
    monkeypatch.setenv("PROVE_BDD10K_ROOT", str(tree.root))
    method = tmp_path / "GENERATED_IMAGES" / "cycleGAN"
    method.mkdir(parents=True)
    with (method / "manifest.csv").open("w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["gen_path", "original_path", "name", "domain", "dataset", "target_domain"])
        writer.writerow([str(method / "a.png"), str(tree.root / tree.samples["train"][0]), "", "clear_day", "BDD10k",
                         "foggy"])
    monkeypatch.setenv("PROVE_GENERATED_ROOT", str(tmp_path / "GENERATED_IMAGES"))
    items = [i for i in PRESETS.get("stage1").sweep().items() if dict(i.combination)["strategy"] == "gen_cycleGAN"]
    by_dataset = {dict(i.combination)["dataset"]: i for i in items}
    assert all(i.spec is not None and i.spec.manifest == str(method / "manifest.csv")
               for d, i in by_dataset.items() if d == "bdd10k")
    assert "has no rows of dataset 'iddaw'" in by_dataset["iddaw"].blocked


def test_exclusions_and_grids_match_whatever_the_spelling():
    sweep = from_mapping({"grid": {"stage": ["stage1", "Stage 2"], "strategy": ["baseline", "std_cutmix"]},
                          "exclude": [{"stage": "s2", "strategy": "STD_CutMix"}]}, "t")
    assert [(i.spec.stage, i.spec.strategy) for i in sweep.items()] == [
        ("s1", "baseline"), ("s1", "std_cutmix"), ("s2", "baseline")]
