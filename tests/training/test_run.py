"""`prove train` end to end on a tiny ACDC-layout tree and a real sqlite MLflow store."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from click.testing import CliRunner

from prove.cli import cli
from tests.data.fixtures import build_acdc
from tests.support import prove_command, store_uri

FAST = ["--dataset", "acdc_mini", "--stage", "s2", "--batch-size", "2"]


@pytest.fixture(scope="module")
def acdc(tmp_path_factory):
    root = tmp_path_factory.mktemp("data") / "acdc"
    build_acdc(root)
    return root


def all_runs(client):
    exps = [e.experiment_id for e in client.search_experiments()]
    return client.search_runs(exps) if exps else []


def invoke(*args):
    return CliRunner().invoke(cli, ["train", *args], catch_exceptions=False)


def test_system_metrics_are_on_by_default_and_off_on_request(store, acdc, monkeypatch):
    monkeypatch.setenv("MLFLOW_SYSTEM_METRICS_SAMPLING_INTERVAL", "0.2")  # a tiny training lasts seconds
    for seed, switch in ((0, ()), (1, ("--system-metrics", "off"))):
        result = invoke(*FAST, "--data-root", str(acdc), "--max-iters", "4", "--eval-interval", "4",
                        "--seed", str(seed), *switch)
        assert result.exit_code == 0, result.output
    by_seed = {r.data.params["seed"]: r.data.metrics for r in all_runs(store)}
    assert {"system/cpu_utilization_percentage", "system/system_memory_usage_megabytes"} <= set(by_seed["0"])
    assert not any(k.startswith("system/") for k in by_seed["1"])


def test_train_logs_one_curated_run_and_skips_when_done(store, acdc):
    result = invoke(*FAST, "--data-root", str(acdc), "--max-iters", "4", "--eval-interval", "2")
    assert result.exit_code == 0, result.output
    runs = all_runs(store)
    assert len(runs) == 1
    run = runs[0]
    assert run.info.status == "FINISHED"
    assert run.info.run_name == "baseline+scratch+bs2 · s2 · acdc_mini · fcn_r18-tiny"  # batch 2: not the protocol's 8
    tags, params = run.data.tags, run.data.params
    assert tags["prove.kind"] == "train" and len(tags["prove.spec_hash"]) == 16
    assert tags["prove.family"] == "baseline" and "torch==" in tags["prove.versions"]
    assert params["strategy"] == "baseline" and params["dataset"] == "acdc_mini" and params["ratio"] == "1.0"
    assert len(params) < 40, "params must be the curated spec, not MMEngine's flattened config"
    loss_steps = [m.step for m in store.get_metric_history(run.info.run_id, "train/loss")]
    assert loss_steps == [1, 2, 3, 4]
    assert [m.step for m in store.get_metric_history(run.info.run_id, "val/mIoU")] == [2, 4]
    artifacts = {a.path for a in store.list_artifacts(run.info.run_id)}
    assert {"config.py", "pipeline_audit.json", "training_curves.png", "checkpoints.json",
            "batch_composition.json"} <= artifacts
    inputs = {d.dataset.name: d.dataset.digest for d in run.inputs.dataset_inputs}
    assert set(inputs) == {"acdc_mini/train", "acdc_mini/val"} and all(inputs.values())
    refs = json.loads(Path(store.download_artifacts(run.info.run_id, "checkpoints.json")).read_text())
    assert any(c["file"] == "iter_4.pth" and c["sha256"] for c in refs["checkpoints"])

    again = invoke(*FAST, "--data-root", str(acdc), "--max-iters", "4", "--eval-interval", "2")
    assert again.exit_code == 0 and "already trained" in again.output
    assert again.output.strip().splitlines()[-1] == run.info.run_id
    assert len(all_runs(store)) == 1


@pytest.mark.parametrize(
    "args,needle",
    [
        (["--strategy", "std_cutmx"], "std_cutmix"),
        (["--model", "unet_huge"], "segformer_mit-b3"),
        (["--ratio", "1.2", "--strategy", "gen_random_noise"], "0..1"),
        (["--aux-loss", "dice"], "lovasz, boundary, focal"),
        (["--pretrained", "/nope.pth"], "existing checkpoint"),
        (["--strategy", "gen_random_noise", "--manifest", "/nope.csv"], "manifest not found"),
        (["--data-root", "/nonexistent/acdc"], "does not exist"),
        (["--dataset", "cityscapes", "--stage", "cg"], "PROVE_CITYSCAPES_ROOT"),
    ],
)
def test_bad_input_is_a_clear_error_and_writes_nothing(store, acdc, args, needle, monkeypatch):
    monkeypatch.delenv("PROVE_CITYSCAPES_ROOT", raising=False)
    base = [*FAST, "--max-iters", "2"]
    if "--data-root" not in args and "cityscapes" not in args:
        base += ["--data-root", str(acdc)]
    result = CliRunner().invoke(cli, ["train", *base, *args])
    assert result.exit_code == 2, result.output
    assert needle in result.output and "Traceback" not in result.output
    assert all_runs(store) == []


def test_generated_images_are_mixed_at_the_ratio(store, acdc):
    result = invoke(*FAST, "--data-root", str(acdc), "--max-iters", "3", "--strategy", "gen_random_noise",
                    "--ratio", "0.5", "--batch-size", "4")
    assert result.exit_code == 0, result.output
    run = all_runs(store)[0]
    assert run.data.tags["prove.family"] == "control"
    fractions = [m.value for m in store.get_metric_history(run.info.run_id, "train/real_fraction")]
    assert fractions == [0.5, 0.5, 0.5]
    composition = json.loads(Path(store.download_artifacts(run.info.run_id, "batch_composition.json")).read_text())
    assert composition["real"] == composition["generated"] == 6
    names = {d.dataset.name for d in run.inputs.dataset_inputs}
    assert any(n.startswith("manifest:") for n in names)


def _train_process(args, env):
    return subprocess.Popen(prove_command("train", *args), env=env, cwd=Path(__file__).resolve().parents[2],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def _final_weights(work_dir: Path, iteration: int) -> dict:
    return torch.load(work_dir / f"iter_{iteration}.pth", weights_only=False, map_location="cpu")["state_dict"]


@pytest.mark.slow
def test_kill_and_resume_ends_as_an_uninterrupted_run(tmp_path, acdc):
    iters = 16
    args = [*FAST, "--data-root", str(acdc), "--max-iters", str(iters), "--checkpoint-interval", "2",
            "--eval-interval", "8", "--strategy", "std_photometric_distort"]
    env = {**os.environ, "PROVE_NUM_WORKERS": "0"}

    # uninterrupted reference, in its own store and work folder
    ref_env = {**env, "MLFLOW_TRACKING_URI": store_uri(tmp_path / 'ref.db'), "PROVE_WORK_DIR": str(tmp_path / "ref")}
    ref = _train_process(args, ref_env)
    assert ref.wait(timeout=300) == 0, ref.stdout.read()

    run_env = {**env, "MLFLOW_TRACKING_URI": store_uri(tmp_path / 'run.db'), "PROVE_WORK_DIR": str(tmp_path / "run"),
               "PROVE_NUM_WORKERS": "1"}  # workers here, none in the reference: augmentation must not care
    proc = _train_process(args, run_env)
    deadline = time.time() + 240
    while not list((tmp_path / "run").glob("*/iter_2.pth")) and time.time() < deadline:
        time.sleep(0.05)
    proc.send_signal(signal.SIGTERM)
    output = proc.communicate(timeout=240)[0]
    assert proc.returncode == 128 + signal.SIGTERM, output
    assert "marked KILLED" in output

    import mlflow

    client = mlflow.tracking.MlflowClient(run_env["MLFLOW_TRACKING_URI"])
    (killed,) = client.search_runs([client.get_experiment_by_name("prove").experiment_id])
    assert killed.info.status == "KILLED"

    resumed = _train_process(args, run_env)
    output = resumed.communicate(timeout=300)[0]
    assert resumed.returncode == 0, output
    assert f"resuming run {killed.info.run_id}" in output
    (final,) = client.search_runs([client.get_experiment_by_name("prove").experiment_id])
    assert final.info.run_id == killed.info.run_id and final.info.status == "FINISHED"
    loss_steps = [m.step for m in client.get_metric_history(final.info.run_id, "train/loss")]
    assert sorted(set(loss_steps)) == list(range(1, iters + 1))

    (ref_dir,) = (tmp_path / "ref").iterdir()
    (run_dir,) = (tmp_path / "run").iterdir()
    expected, got = _final_weights(ref_dir, iters), _final_weights(run_dir, iters)
    assert expected.keys() == got.keys()
    for key in expected:
        assert torch.equal(expected[key], got[key]), key


@pytest.mark.slow
def test_a_run_left_running_by_sigkill_is_resumed_when_stale(tmp_path, acdc):
    args = [*FAST, "--data-root", str(acdc), "--max-iters", "12", "--checkpoint-interval", "2", "--eval-interval", "12"]
    env = {**os.environ, "MLFLOW_TRACKING_URI": store_uri(tmp_path / 'db.db'), "PROVE_WORK_DIR": str(tmp_path / "w")}
    proc = _train_process(args, env)
    deadline = time.time() + 240
    while not list((tmp_path / "w").glob("*/iter_2.pth")) and time.time() < deadline:
        time.sleep(0.05)
    proc.kill()
    proc.wait(timeout=60)

    fresh = _train_process(args, {**env, "PROVE_STALE_AFTER": "3600"})
    output = fresh.communicate(timeout=120)[0]
    assert fresh.returncode == 2 and "is being trained by run" in output

    stale = _train_process(args, {**env, "PROVE_STALE_AFTER": "0"})
    output = stale.communicate(timeout=300)[0]
    assert stale.returncode == 0, output
    assert "resuming run" in output


@pytest.mark.slow
def test_torchrun_two_processes_log_one_run_with_the_same_spec_hash(tmp_path, acdc):
    args = [*FAST, "--data-root", str(acdc), "--max-iters", "4", "--eval-interval", "4"]
    env = {**os.environ, "MLFLOW_TRACKING_URI": store_uri(tmp_path / 'ddp.db'), "PROVE_WORK_DIR": str(tmp_path / "w"),
           "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_port", "29531",
           "-m", "tests.support", "train", *args]
    result = subprocess.run(cmd, env=env, cwd=Path(__file__).resolve().parents[2], capture_output=True, text=True,
                            timeout=600)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    import mlflow

    client = mlflow.tracking.MlflowClient(env["MLFLOW_TRACKING_URI"])
    runs = client.search_runs([client.get_experiment_by_name("prove").experiment_id])
    assert len(runs) == 1 and runs[0].info.status == "FINISHED"
    from prove.spec import TrainSpec

    single = TrainSpec.create(dataset="acdc_mini", stage="s2", batch_size=2, data_root=str(acdc), max_iters=4,
                              eval_interval=4)
    assert runs[0].data.tags["prove.spec_hash"] == single.spec_hash()
    assert [m.step for m in client.get_metric_history(runs[0].info.run_id, "train/loss")] == [1, 2, 3, 4]
    (work,) = (tmp_path / "w").iterdir()
    audit = json.loads((work / "pipeline_audit.json").read_text())
    assert audit["observed"]["sampler"]["world_size"] == 2


def test_pretrained_checkpoint_is_loaded_and_what_it_provided_is_logged(store, acdc, tmp_path):
    from prove.models import build_model

    backbone = build_model("fcn_r18-tiny", crop_size=(16, 16)).backbone.state_dict()
    del backbone["layer4.1.conv2.weight"]  # missing from the checkpoint
    backbone["extra.weight"] = torch.zeros(1)  # not in the model
    path = tmp_path / "imagenet_r18_tiny.pth"
    torch.save({"state_dict": backbone}, path)
    result = invoke(*FAST, "--data-root", str(acdc), "--max-iters", "2", "--pretrained", str(path))
    assert result.exit_code == 0, result.output
    run = all_runs(store)[0]
    assert run.data.params["pretrained.missing_keys"] == "1" and run.data.params["pretrained.unexpected_keys"] == "1"
    report = json.loads(Path(store.download_artifacts(run.info.run_id, "pretrained_load.json")).read_text())
    assert report["missing_keys"] == ["layer4.1.conv2.weight"] and report["unexpected_keys"] == ["extra.weight"]
    assert not run.info.run_name.endswith("+scratch")


def test_a_new_store_never_resumes_another_store_s_work_dir(tmp_path, monkeypatch, acdc):
    """The issue's case: the same spec trained against a fresh store from the same folder used to
    load the other store's final checkpoint, train 0 iterations and report FINISHED."""
    import mlflow

    monkeypatch.setenv("PROVE_WORK_DIR", str(tmp_path / "work_dirs"))
    args = [*FAST, "--data-root", str(acdc), "--max-iters", "4", "--eval-interval", "4"]
    runs = {}
    for store in ("first", "second"):
        uri = f"sqlite:///{tmp_path / store}.db"
        monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
        mlflow.set_tracking_uri(uri)
        result = invoke(*args)
        assert result.exit_code == 0, result.output
        client = mlflow.tracking.MlflowClient(uri)
        (run,) = all_runs(client)
        history = client.get_metric_history(run.info.run_id, "train/lr")
        runs[store] = (run, sorted({m.step for m in history}))
    (first, first_steps), (second, second_steps) = runs["first"], runs["second"]
    assert second.info.status == "FINISHED" and second_steps == first_steps and len(second_steps) == 4
    first_dir, second_dir = Path(first.data.tags["prove.work_dir"]), Path(second.data.tags["prove.work_dir"])
    assert second_dir == first_dir.with_name(first_dir.name + ".2")  # a folder of its own
    owner = json.loads((second_dir / "prove_run.json").read_text())
    assert owner["run_id"] == second.info.run_id and owner["tracking_uri"].endswith("second.db")
    assert json.loads((first_dir / "prove_run.json").read_text())["run_id"] == first.info.run_id


def test_a_run_that_trained_nothing_is_never_finished(store, acdc, monkeypatch):
    """Whatever put a final checkpoint in a run's folder, 0 iterations trained is a FAILED run."""
    from prove.training import run as train_module

    args = [*FAST, "--data-root", str(acdc), "--max-iters", "2", "--eval-interval", "2"]
    assert invoke(*args).exit_code == 0
    (done,) = all_runs(store)
    finished_dir = done.data.tags["prove.work_dir"]
    monkeypatch.setattr(train_module, "fresh_work_dir", lambda base: finished_dir)  # the old bug's folder choice
    result = CliRunner().invoke(cli, ["train", *args, "--force"])
    assert result.exit_code == 2 and "trained 0 iterations" in result.output
    forced = next(r for r in all_runs(store) if r.info.run_id != done.info.run_id)
    assert forced.info.status == "FAILED"


@pytest.mark.slow
def test_a_ratio_schedule_killed_mid_training_resumes_on_the_same_composition(tmp_path, acdc):
    """linear from all-real to ratio 0.25 over 8 iterations of batch 4: the real images per step
    are 4 4 3 3 2 2 1 1 (prove.data.schedules, by hand), before the kill and after the resume."""
    from prove.data.schedules import real_counts

    iters = 8
    args = [*FAST, "--data-root", str(acdc), "--max-iters", str(iters), "--checkpoint-interval", "2",
            "--eval-interval", "8", "--batch-size", "4", "--strategy", "gen_random_noise", "--ratio", "0.25",
            "--ratio-schedule", "linear"]
    env = {**os.environ, "PROVE_NUM_WORKERS": "0", "MLFLOW_TRACKING_URI": store_uri(tmp_path / 'run.db'),
           "PROVE_WORK_DIR": str(tmp_path / "run")}
    proc = _train_process(args, env)
    deadline = time.time() + 240
    while not list((tmp_path / "run").glob("*/iter_4.pth")) and time.time() < deadline:
        time.sleep(0.05)
    proc.send_signal(signal.SIGTERM)
    output = proc.communicate(timeout=240)[0]
    assert proc.returncode == 128 + signal.SIGTERM, output

    import mlflow

    client = mlflow.tracking.MlflowClient(env["MLFLOW_TRACKING_URI"])
    (killed,) = client.search_runs([client.get_experiment_by_name("prove").experiment_id])
    before = {m.step for m in client.get_metric_history(killed.info.run_id, "train/real_fraction")}
    assert killed.info.status == "KILLED" and 4 <= max(before) < iters
    resumed = _train_process(args, env)
    output = resumed.communicate(timeout=300)[0]
    assert resumed.returncode == 0 and f"resuming run {killed.info.run_id}" in output, output

    (run,) = client.search_runs([client.get_experiment_by_name("prove").experiment_id])
    assert run.info.run_id == killed.info.run_id and run.info.status == "FINISHED"
    assert run.data.params["ratio_schedule"] == "linear"
    expected = [4, 4, 3, 3, 2, 2, 1, 1]
    assert list(real_counts("linear", 0.25, 0.5, 4, iters)) == expected
    history = client.get_metric_history(run.info.run_id, "train/real_fraction")
    assert {m.step for m in history} == set(range(1, iters + 1))
    for m in history:  # a step redone after the resume logged the same composition again
        assert m.value == expected[m.step - 1] / 4, (m.step, m.value)


def test_gen_domains_keep_only_the_images_aimed_at_them_and_count_the_rest(store, tmp_path, monkeypatch):
    import csv

    monkeypatch.setenv("PROVE_CACHE_DIR", str(tmp_path / "cache"))
    args = ["--strategy", "gen_albumentations_weather", "--max-iters", "2", "--batch-size", "4"]
    result = invoke(*args, "--gen-domains", "night,Foggy")
    assert result.exit_code == 0, result.output
    (run,) = all_runs(store)
    assert run.data.params["gen_domains"] == "foggy,night"
    (generated,) = [d for d in run.inputs.dataset_inputs if d.tags and d.tags[0].value == "train_generated"]
    manifest = json.loads(generated.dataset.source)["uri"].removeprefix("file://")
    with open(manifest, newline="") as fh:  # counted here from the CSV itself
        targets = [r["target_domain"] for r in csv.DictReader(fh)]
    kept = sum(t in ("foggy", "night") for t in targets)
    assert 0 < kept < len(targets)
    assert run.data.metrics["data/generated_kept"] == kept
    assert run.data.metrics["data/generated_dropped"] == len(targets) - kept
    summary = json.loads(Path(store.download_artifacts(run.info.run_id, "generated_images.json")).read_text())
    assert sum(summary["dropped"].values()) == len(targets) - kept and set(summary["kept"]) == {"foggy", "night"}
    assert json.loads(generated.dataset.profile)["target_domains"] == summary["kept"]
    assert f"{kept} kept, {len(targets) - kept} left out" in result.output

    # a domain the manifest has no images for: a clear error, nothing in the store
    bad = CliRunner().invoke(cli, ["train", "--strategy", "gen_physics_fog", "--max-iters", "2", "--gen-domains",
                                   "night"])
    assert bad.exit_code == 2 and "gen_domains names night" in bad.output and "foggy (" in bad.output
    assert len(all_runs(store)) == 1
