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


@pytest.mark.slow(280)
def test_a_sweep_survives_a_server_restart_and_a_minute_without_it(postgres_db, tmp_path, monkeypatch):
    """The shared server is restarted, then gone for a minute, while two workers train: every
    spec is still trained exactly once and every metric step that was logged is in the store."""
    import time

    from tests.services.postgres import ADMIN_PASSWORD, ADMIN_USERNAME, free_port, start_server, stop_process_group

    root = tmp_path / "acdc"
    build_acdc(root)
    # The two workers first claim the two long trainings (plan order), which run through the
    # restart and the outage; the two short ones come after it, their claims and runs through
    # the restarted server. Every spec's own max_iters is checked step by step at the end.
    long, short = 3000, 300
    sweep = tmp_path / "sweep.yaml"
    sweep.write_text(yaml.safe_dump({
        "name": "restart", "grid": [{"strategy": ["baseline", "std_minimal"], "seed": [0], "max_iters": [long],
                                     "eval_interval": [long], "checkpoint_interval": [500]},
                                    {"strategy": ["baseline", "std_minimal"], "seed": [1], "max_iters": [short],
                                     "eval_interval": [short], "checkpoint_interval": [short]}],
        "fixed": {"stage": "s2", "dataset": "acdc_mini", "batch_size": 2, "data_root": str(root)}}))
    port = free_port()
    server, uri = start_server(postgres_db, tmp_path, port)
    auth = {"MLFLOW_TRACKING_URI": uri, "MLFLOW_TRACKING_USERNAME": ADMIN_USERNAME,
            "MLFLOW_TRACKING_PASSWORD": ADMIN_PASSWORD}
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_")}
    env.update(auth, PROVE_WORK_DIR=str(tmp_path / "work"), PROVE_PLUGINS="tests.support", PYTHONPATH=str(REPO),
               PROVE_PROGRESS="lines")
    experiment = f"restart-{tmp_path.name[-12:]}"
    for key, value in auth.items():
        monkeypatch.setenv(key, value)
    client = MlflowClient(uri)
    log = open(tmp_path / "sweep.log", "w")
    sweep_proc = subprocess.Popen(prove_command("ablation", "--sweep", str(sweep), "--workers", "2",
                                                "--experiment", experiment),
                                  env=env, stdout=log, stderr=subprocess.STDOUT, cwd=tmp_path)
    try:
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:  # training under way, metrics arriving
            exp = client.get_experiment_by_name(experiment)
            runs = client.search_runs([exp.experiment_id], "tags.`prove.kind` = 'train'") if exp else []
            if any("train/loss" in r.data.metrics for r in runs):
                break
            assert sweep_proc.poll() is None, (tmp_path / "sweep.log").read_text()[-4000:]
            time.sleep(1)
        else:
            pytest.fail("no training logged metrics within 300 s")
        stop_process_group(server)  # a restart
        server, _ = start_server(postgres_db, tmp_path, port)
        time.sleep(15)
        stop_process_group(server)  # ... then a minute without the server
        time.sleep(60)
        server, _ = start_server(postgres_db, tmp_path, port)
        running = client.search_runs([exp.experiment_id], "tags.`prove.kind` = 'train' and attributes.status = 'RUNNING'")
        assert running, "no training was running through the outage"  # it hit trainings mid-way
        assert sweep_proc.wait(timeout=1500) == 0, (tmp_path / "sweep.log").read_text()[-6000:]
        _check_every_spec_once_and_every_step(client, experiment, (tmp_path / "sweep.log").read_text())
    finally:
        if sweep_proc.poll() is None:
            sweep_proc.kill()
        stop_process_group(server)
        log.close()


def _check_every_spec_once_and_every_step(client, experiment: str, output: str) -> None:
    exp = client.get_experiment_by_name(experiment)
    runs = client.search_runs([exp.experiment_id])
    trains = [r for r in runs if r.data.tags.get("prove.kind") == "train"]
    tests = [r for r in runs if r.data.tags.get("prove.kind") == "test"]
    assert len({r.data.tags["prove.spec_hash"] for r in trains}) == len(trains) == 4, output[-6000:]
    assert len(tests) == 4 and all(r.info.status == "FINISHED" for r in trains + tests), output[-6000:]
    assert sorted(int(r.data.params["max_iters"]) for r in trains) == [300, 300, 3000, 3000]
    for run in trains:  # every step the workers logged, none dropped
        iters = int(run.data.params["max_iters"])
        for key in ("train/loss", "train/lr"):
            steps = [m.step for m in client.get_metric_history(run.info.run_id, key)]
            assert sorted(set(steps)) == list(range(1, iters + 1)), (key, len(set(steps)), output[-3000:])
        assert "val/mIoU" in run.data.metrics
