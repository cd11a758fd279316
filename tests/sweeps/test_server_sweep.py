"""A sweep with two parallel workers against a real `prove server` (MLflow on PostgreSQL,
basic auth): every training and test run arrives with its params and metrics."""

from __future__ import annotations

import os
import subprocess

import pytest
import yaml
from mlflow.tracking import MlflowClient

from tests.services.postgres import REPO
from tests.data.fixtures import build_acdc
from tests.support import prove_command


@pytest.mark.slow
def test_sweep_with_parallel_workers_against_the_tracking_server(tracking_server, tmp_path, monkeypatch):
    root = tmp_path / "acdc"
    build_acdc(root)
    sweep = tmp_path / "sweep.yaml"
    sweep.write_text(yaml.safe_dump({
        "name": "server-mini", "grid": {"strategy": ["baseline", "std_minimal"], "seed": [0, 1]},
        "fixed": {"stage": "s2", "dataset": "acdc_mini", "max_iters": 2, "batch_size": 2, "eval_interval": 2,
                  "data_root": str(root)}}))
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_")}
    env.update(tracking_server.environ(), PROVE_WORK_DIR=str(tmp_path / "work"), PROVE_PLUGINS="tests.support",
               PYTHONPATH=str(REPO))
    experiment = f"server-sweep-{tmp_path.name[-12:]}"
    result = subprocess.run(prove_command("ablation", "--sweep", str(sweep), "--workers", "2",
                                          "--experiment", experiment),
                            env=env, capture_output=True, text=True, timeout=900, cwd=tmp_path)
    assert result.returncode == 0, (result.stdout + result.stderr)[-4000:]

    for key, value in tracking_server.environ().items():
        monkeypatch.setenv(key, value)  # credentials for this client; restored after the test
    client = MlflowClient(tracking_server.uri)
    exp = client.get_experiment_by_name(experiment)
    runs = client.search_runs([exp.experiment_id])
    by_kind: dict[str, list] = {}
    for run in runs:
        by_kind.setdefault(run.data.tags.get("prove.kind"), []).append(run)
    trains, tests, (parent,) = by_kind["train"], by_kind["test"], by_kind["sweep"]
    assert len({r.data.tags["prove.spec_hash"] for r in trains}) == len(trains) == 4, (result.stdout + result.stderr)[-6000:]
    assert len(tests) == 4 and parent.data.metrics["sweep/done"] == 4
    for run in trains:  # params and the buffered metrics of each training arrived
        assert run.info.status == "FINISHED"
        assert {"stage", "strategy", "seed", "resolved.lr"} <= set(run.data.params)
        assert "train/loss" in run.data.metrics and "val/mIoU" in run.data.metrics
        assert run.data.tags["mlflow.parentRunId"] == parent.info.run_id
    for run in tests:
        assert run.info.status == "FINISHED" and "test/mIoU" in run.data.metrics
        assert any(k.startswith("test/IoU/") for k in run.data.metrics)
