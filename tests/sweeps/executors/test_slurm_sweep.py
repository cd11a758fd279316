"""Sweeps through a real SLURM (ci/slurm.sh): 4 specs shared by a 2-task job array, and a
task signalled at its time limit that submitit requeues and that resumes its training; against
a sqlite store on this machine. Skipped with the reason where SLURM cannot start."""

from __future__ import annotations

import subprocess
import threading
import time
from pathlib import Path

import mlflow
import pytest
import yaml
from click.testing import CliRunner

from prove.cli import cli
from tests.services.slurm import REPO, scontrol_job
from tests.data.fixtures import build_acdc


@pytest.mark.slow
def test_sweep_runs_as_a_slurm_job_array(slurm_cluster, tmp_path, monkeypatch):
    root = tmp_path / "acdc"
    build_acdc(root)
    uri = f"sqlite:///{tmp_path / 'store.db'}"
    for key, value in {"MLFLOW_TRACKING_URI": uri, "PROVE_WORK_DIR": str(tmp_path / "work"),
                       "PROVE_PLUGINS": "tests.support", "PYTHONPATH": str(REPO), "PROVE_SLURM_POLL": "1"}.items():
        monkeypatch.setenv(key, value)
    mlflow.set_tracking_uri(uri)
    sweep = tmp_path / "sweep.yaml"
    sweep.write_text(yaml.safe_dump({
        "name": "slurm-mini", "grid": {"strategy": ["baseline", "std_minimal"], "seed": [0, 1]},
        "fixed": {"stage": "s2", "dataset": "acdc_mini", "max_iters": 2, "batch_size": 2, "eval_interval": 2,
                  "data_root": str(root)},
        "resources": {"cpus": 1, "mem_gb": 2, "time_min": 10, "partition": slurm_cluster.partition}}))
    result = CliRunner().invoke(cli, ["ablation", "--sweep", str(sweep), "--executor", "slurm", "--workers", "2"])
    assert result.exit_code == 0, result.output[-4000:]
    assert "submitted job array" in result.output and "done 4" in result.output

    client = mlflow.tracking.MlflowClient(uri)
    exps = [e.experiment_id for e in client.search_experiments()]
    trains = client.search_runs(exps, filter_string="tags.`prove.kind` = 'train'")
    tests = client.search_runs(exps, filter_string="tags.`prove.kind` = 'test'")
    hashes = [r.data.tags["prove.spec_hash"] for r in trains]
    assert len(hashes) == 4 and len(set(hashes)) == 4  # every spec once, across both tasks
    assert len(tests) == 4 and all(r.info.status == "FINISHED" for r in trains + tests)
    (parent,) = client.search_runs(exps, filter_string="tags.`prove.kind` = 'sweep'")
    assert parent.data.params["executor"] == "slurm" and parent.info.status == "FINISHED"
    assert all(r.data.tags["mlflow.parentRunId"] == parent.info.run_id for r in trains)


def _signal_when_checkpointed(work: Path, name: str, sent: dict, deadline_s: float = 300) -> None:
    """Send the time-limit signal (USR2, as SLURM does before the wall clock) to the sweep's
    task once its training has written a checkpoint."""
    end = time.monotonic() + deadline_s
    while time.monotonic() < end:
        if list(work.glob("*/iter_*.pth")):
            out = subprocess.run(["squeue", "-h", "-n", name, "-o", "%i"], capture_output=True, text=True)
            job = out.stdout.split()[0] if out.stdout.split() else ""
            if job:
                subprocess.run(["scancel", "--signal=USR2", job], check=False)
                sent["job"] = job
                return
        time.sleep(0.5)


@pytest.mark.slow
def test_task_signalled_at_its_time_limit_is_requeued_and_resumes(slurm_cluster, tmp_path, monkeypatch):
    root = tmp_path / "acdc"
    build_acdc(root)
    uri = f"sqlite:///{tmp_path / 'store.db'}"
    work = tmp_path / "work"
    for key, value in {"MLFLOW_TRACKING_URI": uri, "PROVE_WORK_DIR": str(work), "PROVE_PLUGINS": "tests.support",
                       "PYTHONPATH": str(REPO), "PROVE_SLURM_POLL": "1"}.items():
        monkeypatch.setenv(key, value)
    mlflow.set_tracking_uri(uri)
    sweep = tmp_path / "sweep.yaml"
    sweep.write_text(yaml.safe_dump({
        "name": "requeue", "grid": {"seed": [0]},
        "fixed": {"stage": "s2", "dataset": "acdc_mini", "max_iters": 1500, "batch_size": 2,
                  "checkpoint_interval": 50, "eval_interval": 1500, "data_root": str(root)},
        "resources": {"cpus": 1, "mem_gb": 2, "time_min": 30, "partition": slurm_cluster.partition}}))
    sent: dict = {}
    signaller = threading.Thread(target=_signal_when_checkpointed, args=(work, "prove-requeue", sent), daemon=True)
    signaller.start()
    result = CliRunner().invoke(cli, ["ablation", "--sweep", str(sweep), "--executor", "slurm", "--workers", "1"])
    signaller.join(timeout=5)
    assert result.exit_code == 0, result.output[-4000:]
    assert sent.get("job"), "the task finished before it could be signalled"
    assert scontrol_job(sent["job"]).get("Restarts") == "1"  # requeued once by submitit

    client = mlflow.tracking.MlflowClient(uri)
    exps = [e.experiment_id for e in client.search_experiments()]
    (train,) = client.search_runs(exps, filter_string="tags.`prove.kind` = 'train'")  # resumed, not redone
    assert train.info.status == "FINISHED"
    steps = [m.step for m in client.get_metric_history(train.info.run_id, "train/loss")]
    assert set(steps) == set(range(1, 1501))  # one run holds every iteration: resumed, not restarted
    (test,) = client.search_runs(exps, filter_string="tags.`prove.kind` = 'test'")
    assert test.info.status == "FINISHED"
