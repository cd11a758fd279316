"""Sweeps: definitions and presets, the plan, claims, and real sweeps (one worker, two local
workers, two concurrent sweeps) on a real sqlite store with the ACDC fixture."""

from __future__ import annotations

import os
import subprocess
import time

import pytest
import yaml
from click.testing import CliRunner

from prove.settings import stale_after_s
from prove.tracking import claims, client, schema
from prove.cli import cli
from prove.errors import ProveError
from prove.sweeps.presets import PRESETS, every_strategy as all_strategies
from prove.sweeps.definition import from_mapping, load_sweep
from prove.sweeps.status import counts, status_table as plan
from tests.data.fixtures import build_acdc
from tests.support import prove_command

GRID = {"strategy": ["baseline", "std_minimal"], "seed": [0, 1]}


@pytest.fixture
def mini(store, monkeypatch):
    """The `mini` sweep file (4 trainings on a tiny ACDC tree) and this test's store."""
    root = store.tmp / "acdc"
    build_acdc(root)
    monkeypatch.setenv("PROVE_PLUGINS", "tests.support")
    sweep = {"name": "mini", "study": "S2", "grid": GRID,  # the study as users write it
             "fixed": {"stage": "s2", "dataset": "acdc_mini", "max_iters": 2, "batch_size": 2, "eval_interval": 2,
                       "data_root": str(root)}}
    path = store.tmp / "sweep.yaml"
    path.write_text(yaml.safe_dump(sweep))
    return dict(tmp=store.tmp, uri=store.uri, sweep=path, client=store)


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
    ({"grid": {"seed": [0]}, "resources": {"gpus": "two"}}, "resource gpus 'two' must be a whole number"),
    ({"grid": {"seed": [0]}, "resources": {"queues": "gpu"}}, "unknown resource 'queues'; accepted: gpus, cpus"),
    ({"grid": {"seed": [0]}, "resources": {"time_min": 20, "warn_min": 30}},
     "warn_min 30 must be shorter than time_min 20"),
    ({"grid": {"seed": [0]}, "resources": {"cpus": 0}}, "resource cpus 0 must be >= 1"),
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


def grid_of(name: str) -> list[dict]:
    """The planned trainings of a preset, as the spec values that define them."""
    from prove.sweeps.status import SPEC_FIELDS

    items = PRESETS.get(name).sweep().items()
    return [{f: getattr(i.spec or i.planned, f) for f in SPEC_FIELDS} for i in items]


def axis(rows: list[dict], field: str) -> set:
    return {r[field] for r in rows}


def test_every_preset_plans_its_declared_number_of_trainings():
    for name, preset in PRESETS.items():
        if preset.trainings is not None:
            assert len(PRESETS.get(name).sweep().items()) == preset.trainings, name


def test_the_stage_studies_are_the_seeds_design():
    users_generators = {"cycleGAN", "CUT", "stargan_v2", "SUSTechGAN", "TSIT", "LANIT", "Attribute_Hallucination",
                        "cyclediffusion", "IP2P", "Img2Img", "flux_kontext", "step1x_new", "step1x_v1p2",
                        "Qwen_Image_Edit", "UniControl", "VisualCloze", "CNetSeg", "Weather_Effect_Generator",
                        "albumentations_weather", "automold", "augmenters"}
    for name, stage in (("stage1", "s1"), ("stage2", "s2")):
        rows = grid_of(name)
        assert len(rows) == 416 and axis(rows, "stage") == {stage}
        assert axis(rows, "dataset") == {"bdd10k", "iddaw", "mapillary", "outside15k"}
        # not hrnet_hr48 (exclusions.yaml), not deeplabv3plus_r50 (no S1/S2 baseline in the records)
        assert axis(rows, "model") == {"pspnet_r50", "segformer_mit-b3", "segnext_mscan-b", "mask2former_swin-b"}
        strategies = axis(rows, "strategy")
        assert {s for s in strategies if s.startswith("gen_")} == {f"gen_{g}" for g in users_generators}
        assert {s for s in strategies if s.startswith("std_")} == {"std_autoaugment", "std_randaugment", "std_cutmix",
                                                                  "std_mixup"}  # std_photometric_distort: removed
        assert len(strategies) == 26 and "baseline" in strategies
        # the protocol: 15k iterations, batch 16, ImageNet weights (mask2former: 10k, batch 8)
        plain = [r for r in rows if r["model"] != "mask2former_swin-b"]
        assert axis(plain, "max_iters") == {15000} and axis(plain, "batch_size") == {16}
        assert axis(plain, "pretrained") == {"true"}
        m2f = [r for r in rows if r["model"] == "mask2former_swin-b"]
        assert axis(m2f, "max_iters") == {10000} and axis(m2f, "batch_size") == {8}
    cg = grid_of("cityscapes-gen")
    assert len(cg) == 100 and axis(cg, "dataset") == {"cityscapes"} and axis(cg, "stage") == {"cg"}
    assert "gen_LANIT" not in axis(cg, "strategy") and len(axis(cg, "strategy")) == 25
    assert axis([r for r in cg if r["model"] != "mask2former_swin-b"], "max_iters") == {20000}
    tests = PRESETS.get("cityscapes-gen").sweep().tests
    assert [(t.dataset, t.stage) for t in tests] == [("same", ""), ("acdc", "cg")]


def test_the_ablation_presets_are_the_seeds_design():
    ratio = grid_of("ratio")
    cs = [r for r in ratio if r["stage"] == "cg"]
    s1 = [r for r in ratio if r["stage"] == "s1"]
    assert (len(cs), len(s1)) == (48, 24) and axis(ratio, "ratio") == {0.0, 0.25, 0.75}
    assert axis(cs, "strategy") == {"gen_VisualCloze", "gen_step1x_v1p2", "gen_flux_kontext", "gen_TSIT"}
    assert axis(s1, "dataset") == {"bdd10k", "iddaw"} and axis(s1, "model") == {"pspnet_r50", "segformer_mit-b3"}
    noise = grid_of("noise")
    assert len(noise) == 36 and axis(noise, "strategy") == {"gen_random_noise"}
    assert axis([r for r in noise if r["stage"] == "cg"], "ratio") == {0.0}
    combination = grid_of("combination")
    assert len(combination) == 18 and axis(combination, "ratio") == {0.5} and axis(combination, "max_iters") == {20000}
    assert all("+std_" in s for s in axis(combination, "strategy"))
    extended = grid_of("extended")
    assert len(extended) == 30 and PRESETS.get("extended").sweep().checkpoint == "all"
    assert axis([r for r in extended if r["stage"] == "s1"], "max_iters") == {45000}
    assert axis([r for r in extended if r["stage"] == "cg"], "max_iters") == {60000}
    scratch = grid_of("from-scratch")
    assert len(scratch) == 104 and axis(scratch, "pretrained") == {"false"} and axis(scratch, "max_iters") == {40000}
    assert axis(grid_of("from-scratch-ratio0"), "ratio") == {0.0}
    loss = grid_of("loss")
    assert {(r["aux_loss"], r["main_loss"]) for r in loss} == {("lovasz", "ce"), ("boundary", "ce"), ("focal", "ce"),
                                                               ("none", "lovasz")}
    assert axis(grid_of("batch-size"), "batch_size") == {2, 4, 8, 16}


def test_trainings_that_cannot_run_here_are_blocked_with_the_reason(monkeypatch):
    monkeypatch.delenv("PROVE_BDD10K_ROOT", raising=False)
    items = PRESETS.get("stage1").sweep().items()
    reasons = {i.blocked for i in items}
    assert all(i.spec is None for i in items)
    assert any("no data root for dataset 'bdd10k'" in r for r in reasons)
    assert any("mask2former_swin-b needs mmdet" in r for r in reasons)


def test_every_strategy_preset_takes_every_declared_strategy():
    assert set(all_strategies()) <= {r["strategy"] for r in grid_of("all-strategies")}


def test_unknown_preset_and_both_sources():
    result = CliRunner().invoke(cli, ["ablation", "--preset", "stage9", "--dry-run"])
    assert result.exit_code == 2 and "unknown preset 'stage9'; accepted: stage1" in result.output
    result = CliRunner().invoke(cli, ["ablation", "--dry-run"])
    assert result.exit_code == 2 and "exactly one of --preset" in result.output


# -- claims -----------------------------------------------------------------------------------

def test_claims_are_exclusive_and_expire(mini, monkeypatch):
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

def test_dry_run_plans_and_writes_nothing(mini):
    result = CliRunner().invoke(cli, ["ablation", "--sweep", str(mini["sweep"]), "--dry-run",
                                      "--plan-csv", str(mini["tmp"] / "plan.csv")])
    assert result.exit_code == 0, result.output
    assert "total 4  done 0  to_test 0  to_train 4" in result.output
    assert mini["client"].search_experiments() == [] or not runs_of(mini["client"], "train")
    assert (mini["tmp"] / "plan.csv").read_text().count("to_train") == 4


@pytest.mark.slow
def test_sweep_trains_tests_resumes_nothing_twice(mini):
    result = CliRunner().invoke(cli, ["ablation", "--sweep", str(mini["sweep"])])
    assert result.exit_code == 0, result.output
    trains, tests = runs_of(mini["client"], "train"), runs_of(mini["client"], "test")
    assert len(trains) == 4 and len(tests) == 4
    (parent,) = runs_of(mini["client"], "sweep")
    assert parent.info.status == "FINISHED" and parent.data.metrics["sweep/done"] == 4
    assert all(r.data.tags["mlflow.parentRunId"] == parent.info.run_id for r in trains)  # sweep -> trainings
    assert all(r.data.tags["mlflow.parentRunId"] == r.data.tags["prove.train_run_id"] for r in tests)  # -> tests
    assert "sweep mini finished: total 4  done 4" in result.output
    assert {r.data.tags.get("prove.study") for r in trains + tests} == {"s2"}  # the sweep's study, on every run

    sweep = load_sweep(mini["sweep"])
    assert counts(plan(sweep, "prove"))["done"] == 4
    again = CliRunner().invoke(cli, ["ablation", "--sweep", str(mini["sweep"])])
    assert again.exit_code == 0 and len(runs_of(mini["client"], "train")) == 4  # nothing twice

    # a test set added to the sweep: only the tests run, nothing is trained again
    data = yaml.safe_load(mini["sweep"].read_text())
    data["tests"] = [{"dataset": "same"}, {"dataset": "same", "split": "train"}]
    mini["sweep"].write_text(yaml.safe_dump(data))
    dry = CliRunner().invoke(cli, ["ablation", "--sweep", str(mini["sweep"]), "--dry-run"])
    assert "to_test 4" in dry.output and "missing tests: acdc_mini/train" in dry.output
    third = CliRunner().invoke(cli, ["ablation", "--sweep", str(mini["sweep"])])
    assert third.exit_code == 0, third.output
    assert len(runs_of(mini["client"], "train")) == 4 and len(runs_of(mini["client"], "test")) == 8


@pytest.mark.slow
def test_reconcile_marks_runs_of_dead_jobs_resumable(mini):
    sweep = load_sweep(mini["sweep"])
    spec = sweep.items()[0].spec
    exp = client.experiment_id("prove")
    # a run left RUNNING by a job that died before its first checkpoint: no heartbeat for long
    dead = client.create_run(exp, spec.run_name, {schema.KIND: "train", schema.SPEC_HASH: spec.spec_hash(),
                                                    schema.WORK_DIR: str(mini["tmp"] / "gone")}, spec.to_params())
    client.set_tags(dead, {schema.HEARTBEAT: str(time.time() - 10 * stale_after_s())})
    assert plan(sweep, "prove").set_index("spec_hash").loc[spec.spec_hash(), "status"] == "resumable"
    result = CliRunner().invoke(cli, ["ablation", "--sweep", str(mini["sweep"]), "--reconcile", "--dry-run"])
    assert result.exit_code == 0 and f"({dead})" in result.output
    assert mini["client"].get_run(dead).info.status == "KILLED"


@pytest.mark.slow
def test_two_concurrent_sweeps_never_train_a_spec_twice(mini):
    env = dict(os.environ)
    procs = [subprocess.Popen(prove_command("ablation", "--sweep", str(mini["sweep"])), env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True) for _ in range(2)]
    outputs = [p.communicate(timeout=600)[0] for p in procs]
    assert all(p.returncode == 0 for p in procs), "\n".join(f"[rc {p.returncode}] " + o[-3000:] for p, o in zip(procs, outputs))
    trains = runs_of(mini["client"], "train")
    hashes = [r.data.tags["prove.spec_hash"] for r in trains]
    assert len(hashes) == 4 and len(set(hashes)) == 4  # every spec exactly once
    assert len(runs_of(mini["client"], "test")) == 4
    assert counts(plan(load_sweep(mini["sweep"]), "prove"))["done"] == 4


@pytest.mark.slow
def test_local_workers_share_the_sweep(mini):
    result = CliRunner().invoke(cli, ["ablation", "--sweep", str(mini["sweep"]), "--workers", "2"])
    assert result.exit_code == 0, result.output
    hashes = [r.data.tags["prove.spec_hash"] for r in runs_of(mini["client"], "train")]
    assert len(hashes) == 4 and len(set(hashes)) == 4
    assert "done 4" in result.output


def test_wall_clock_signal_gives_the_spec_back(mini):
    """What a worker does when its job's time is up (`interrupt_current`): the training in
    progress becomes resumable and its claim is released, so the next job resumes it now."""
    from prove.sweeps.worker import _CURRENT, interrupt_current

    sweep = load_sweep(mini["sweep"])
    spec = sweep.items()[0].spec
    exp = client.experiment_id("prove")
    run = client.create_run(exp, spec.run_name, {schema.KIND: "train", schema.SPEC_HASH: spec.spec_hash(),
                                                   schema.WORK_DIR: str(mini["tmp"] / "w")}, spec.to_params())
    _CURRENT["claim"] = claims.try_claim(exp, spec.spec_hash())
    assert plan(sweep, "prove").set_index("spec_hash").loc[spec.spec_hash(), "status"] == "running"
    interrupt_current()
    assert mini["client"].get_run(run).info.status == "KILLED"
    assert claims.live_claims(exp) == {} and "claim" not in _CURRENT
    assert plan(sweep, "prove").set_index("spec_hash").loc[spec.spec_hash(), "status"] == "resumable"


@pytest.mark.slow
def test_two_pull_workers_train_each_spec_once(mini):
    """`prove ablation --worker`, as two people's job scripts would start it on one plan."""
    procs = [subprocess.Popen(prove_command("ablation", "--sweep", str(mini["sweep"]), "--worker", "--worker-name",
                                            f"pull{i}", "--report", str(mini["tmp"] / f"pull{i}.json")),
                              env=dict(os.environ), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
             for i in range(2)]
    outputs = [p.communicate(timeout=600)[0] for p in procs]
    assert all(p.returncode == 0 for p in procs), "\n".join(o[-3000:] for o in outputs)
    hashes = [r.data.tags["prove.spec_hash"] for r in runs_of(mini["client"], "train")]
    assert len(hashes) == 4 and len(set(hashes)) == 4
    assert len(runs_of(mini["client"], "test")) == 4
    import json

    reports = [json.loads((mini["tmp"] / f"pull{i}.json").read_text()) for i in range(2)]
    assert sum(len(r["done"]) for r in reports) == 4 and not any(r["failed"] for r in reports)
    assert runs_of(mini["client"], "sweep") == []  # pull workers need no sweep run


def test_a_pull_worker_stops_at_its_own_deadline_and_hands_the_spec_back(mini):
    """Where the scheduler sends no warning (PBS), `--stop-after-min` is the worker's wall clock:
    the training checkpoints and is handed back (KILLED, resumable); the next worker resumes it."""
    import json

    data = yaml.safe_load(mini["sweep"].read_text())
    data["grid"] = {"seed": [0]}
    data["fixed"].update(max_iters=3000, checkpoint_interval=100000, eval_interval=3000)
    mini["sweep"].write_text(yaml.safe_dump(data))
    report = mini["tmp"] / "late.json"
    done = subprocess.run(prove_command("ablation", "--sweep", str(mini["sweep"]), "--worker", "--stop-after-min",
                                        "0.1", "--report", str(report)),
                          env=dict(os.environ), capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    first = json.loads(report.read_text())
    assert first["interrupted"] and not first["done"], done.stderr[-2000:]
    assert "handed back for the next job" in done.stderr
    (train,) = runs_of(mini["client"], "train")
    assert train.info.status == "KILLED"
    stopped_at = int(train.data.metrics.get("train/iter", 0)) or max(
        m.step for m in mini["client"].get_metric_history(train.info.run_id, "train/loss"))
    assert 0 < stopped_at < 3000
    assert plan(load_sweep(mini["sweep"]), "prove")["status"].tolist() == ["resumable"]


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
    items = [i for i in PRESETS.get("stage1").sweep().items() if dict(i.combination)["strategy"] == "gen_cycleGAN"
             and dict(i.combination)["model"] == "pspnet_r50"]
    by_dataset = {dict(i.combination)["dataset"]: i for i in items}
    assert by_dataset["bdd10k"].spec is not None and by_dataset["bdd10k"].spec.manifest == str(method / "manifest.csv")
    assert "has no rows of dataset 'iddaw'" in by_dataset["iddaw"].blocked


def test_exclusions_and_grids_match_whatever_the_spelling():
    sweep = from_mapping({"grid": {"stage": ["stage1", "Stage 2"], "strategy": ["baseline", "std_cutmix"]},
                          "exclude": [{"stage": "s2", "strategy": "STD_CutMix"}]}, "t")
    assert [(i.spec.stage, i.spec.strategy) for i in sweep.items()] == [
        ("s1", "baseline"), ("s1", "std_cutmix"), ("s2", "baseline")]
