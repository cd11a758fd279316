"""Sweeps through a real SLURM (ci/slurm.sh), submitted by PSI/J: 4 specs shared by a job array
of 2 workers, and a worker warned at its wall clock mid-training (USR2, what `--signal=USR2@s` sends)
that hands its spec back, the next round's job resuming it into the same run. Against a sqlite
store on this machine. Skipped with the reason where SLURM cannot start."""

from __future__ import annotations

import json
import subprocess
import threading
import time
from pathlib import Path

import mlflow
import pytest
import yaml
from click.testing import CliRunner

from prove.cli import cli
from tests.data.fixtures import build_acdc
from tests.services.slurm import REPO
from tests.support import store_uri


def test_cluster_has_a_usable_node(slurm_cluster):
    assert slurm_cluster.cpus >= 1 and slurm_cluster.memory_mb >= 1024
    out = subprocess.run(["sinfo", "-h", "-N", "-o", "%N %T"], capture_output=True, text=True, check=True)
    assert out.stdout.split()[0] == slurm_cluster.node


def _environment(monkeypatch, tmp_path: Path) -> str:
    uri = store_uri(tmp_path / 'store.db')
    for key, value in {"MLFLOW_TRACKING_URI": uri, "PROVE_WORK_DIR": str(tmp_path / "work"),
                       "PROVE_PLUGINS": "tests.support", "PYTHONPATH": str(REPO), "PROVE_BATCH_POLL": "1"}.items():
        monkeypatch.setenv(key, value)
    mlflow.set_tracking_uri(uri)
    return uri


def _runs(uri: str, kind: str) -> list:
    client = mlflow.tracking.MlflowClient(uri)
    exps = [e.experiment_id for e in client.search_experiments()]
    return client.search_runs(exps, filter_string=f"tags.`prove.kind` = '{kind}'")


@pytest.mark.slow
def test_sweep_runs_as_slurm_jobs_submitted_by_psij(slurm_cluster, tmp_path, monkeypatch):
    root = tmp_path / "acdc"
    build_acdc(root)
    uri = _environment(monkeypatch, tmp_path)
    sweep = tmp_path / "sweep.yaml"
    sweep.write_text(yaml.safe_dump({
        "name": "slurm-mini", "grid": {"strategy": ["baseline", "std_minimal"], "seed": [0, 1]},
        "fixed": {"stage": "s2", "dataset": "acdc_mini", "max_iters": 2, "batch_size": 2, "eval_interval": 2,
                  "data_root": str(root)},
        "resources": {"cpus": 1, "mem_gb": 2, "time_min": 10, "partition": slurm_cluster.partition}}))
    result = CliRunner().invoke(cli, ["ablation", "--sweep", str(sweep), "--executor", "slurm", "--workers", "2"])
    assert result.exit_code == 0, result.output[-4000:]
    assert "submitted a job array of 2 workers to slurm" in result.output and "done 4" in result.output

    trains, tests = _runs(uri, "train"), _runs(uri, "test")
    hashes = [r.data.tags["prove.spec_hash"] for r in trains]
    assert len(hashes) == 4 and len(set(hashes)) == 4  # every spec once, across both jobs
    assert len(tests) == 4 and all(r.info.status == "FINISHED" for r in trains + tests)
    (parent,) = _runs(uri, "sweep")
    assert parent.data.params["executor"] == "slurm" and parent.info.status == "FINISHED"
    assert all(r.data.tags["mlflow.parentRunId"] == parent.info.run_id for r in trains)
    # each element of the array: its own output and error files and its report, in the round's folder
    folder = tmp_path / "work" / "batch" / parent.info.run_id / "round-0"
    reports = [json.loads((folder / f"slurm0.{i}.json").read_text()) for i in range(2)]
    assert sum(len(r["done"]) for r in reports) == 4
    assert all((folder / f"slurm0.{i}.err").is_file() and (folder / f"slurm0.{i}.out").is_file() for i in range(2))
    script = next((folder / "psij" / "slurm").glob("*.job")).read_text()
    assert '#SBATCH --array="0-1"' in script and '#SBATCH --signal="USR2@300"' in script and "--cpus-per-task=1" in script and "--time=0:10:0" in script
    assert "MLFLOW_TRACKING_URI" not in script  # the tracking URI travels in the environment only


def _warn_when_checkpointed(work: Path, name: str, sent: dict, deadline_s: float = 300) -> None:
    """Send the wall-clock warning (USR2 to the job's steps, as SLURM's --signal does) to the
    sweep's job once its training has written a checkpoint."""
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


@pytest.mark.slow(60)
def test_a_job_warned_at_its_wall_clock_hands_back_and_the_next_resumes(slurm_cluster, tmp_path, monkeypatch):
    root = tmp_path / "acdc"
    build_acdc(root)
    uri = _environment(monkeypatch, tmp_path)
    work = tmp_path / "work"
    sweep = tmp_path / "sweep.yaml"
    sweep.write_text(yaml.safe_dump({
        "name": "wallclock", "grid": {"seed": [0]},
        "fixed": {"stage": "s2", "dataset": "acdc_mini", "max_iters": 1500, "batch_size": 2,
                  "checkpoint_interval": 50, "eval_interval": 1500, "data_root": str(root)},
        "resources": {"cpus": 1, "mem_gb": 2, "time_min": 30, "partition": slurm_cluster.partition}}))
    sent: dict = {}
    signaller = threading.Thread(target=_warn_when_checkpointed, args=(work, "prove-wallclock", sent), daemon=True)
    signaller.start()
    result = CliRunner().invoke(cli, ["ablation", "--sweep", str(sweep), "--executor", "slurm", "--workers", "1"])
    signaller.join(timeout=5)
    assert result.exit_code == 0, result.output[-4000:]
    assert sent.get("job"), "the job finished before it could be warned"
    assert "handed back at the wall clock" in result.output  # the first round's job gave the spec back

    (train,) = _runs(uri, "train")  # resumed, not redone
    assert train.info.status == "FINISHED"
    client = mlflow.tracking.MlflowClient(uri)
    steps = [m.step for m in client.get_metric_history(train.info.run_id, "train/loss")]
    assert set(steps) == set(range(1, 1501))  # one run holds every iteration: resumed, not restarted
    (test,) = _runs(uri, "test")
    assert test.info.status == "FINISHED"
    (parent,) = _runs(uri, "sweep")
    first = json.loads((work / "batch" / parent.info.run_id / "round-0" / "slurm0.0.json").read_text())
    assert first["interrupted"] and not first["done"]
    second = json.loads((work / "batch" / parent.info.run_id / "round-1" / "slurm1.0.json").read_text())
    assert second["done"] and not second["interrupted"]
