"""The tracking client's contract with the MLflow UI and with `mlflow run`: experiments made for
model training, links to the runs view, provenance tags, MLflow Projects' run taken over or
removed, and a tracking server that does not answer reported within seconds."""

from __future__ import annotations

import socket
import subprocess
import sys
import threading
import time

import pytest
from click.testing import CliRunner
from mlflow.tracking import MlflowClient

from prove.cli import cli
from prove.errors import ProveError
from prove.tracking import client, reaper, schema


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]  # closed again when the block ends: nothing listens there


def test_experiments_prove_writes_to_open_on_their_runs(store):
    created = client.experiment_id("made-by-prove")
    assert MlflowClient().get_experiment(created).tags[schema.EXPERIMENT_KIND] == "custom_model_development"
    existing = MlflowClient().create_experiment("made-by-hand")  # MLflow 3 infers GenAI for such
    client._MARKED.clear()
    assert client.experiment_id("made-by-hand") == existing
    assert MlflowClient().get_experiment(existing).tags[schema.EXPERIMENT_KIND] == "custom_model_development"


def test_links_open_the_runs_view(store, monkeypatch):
    assert client.runs_url("3").startswith("http://127.0.0.1:5000/#/experiments/3/runs (after: mlflow ui "
                                           f"--backend-store-uri {store.uri}")
    monkeypatch.setattr(client, "tracking_uri", lambda: "https://mlflow.lab.example/")
    assert client.runs_url("3", "abc") == "https://mlflow.lab.example/#/experiments/3/runs/abc"


def test_runs_prove_creates_say_where_they_come_from(store, monkeypatch):
    monkeypatch.setenv("PROVE_COMMAND", "prove train")
    run_id = client.create_run(client.experiment_id(), "x", {schema.KIND: schema.TRAIN}, {"a": "1"})
    tags = MlflowClient().get_run(run_id).data.tags
    assert tags["mlflow.source.name"] == "prove train" and tags["mlflow.source.type"] == "LOCAL"
    assert tags["mlflow.user"] and tags["mlflow.source.git.commit"] == client.code_version() != "unknown"


def test_a_run_of_the_right_entry_point_is_taken_over_and_another_is_removed(store, monkeypatch):
    exp = client.experiment_id()
    c = MlflowClient()
    project = c.create_run(exp, tags={"mlflow.project.entryPoint": "train"}).info.run_id
    c.log_param(project, "strategy", "baseline")
    monkeypatch.setenv("MLFLOW_RUN_ID", project)
    mine = client.create_run(exp, "baseline · s1", {schema.KIND: schema.TRAIN}, {"strategy": "baseline", "seed": "0"})
    assert mine == project and c.get_run(mine).info.run_name == "baseline · s1"
    assert "MLFLOW_RUN_ID" not in __import__("os").environ  # asked once: later runs make their own

    other = c.create_run(exp, tags={"mlflow.project.entryPoint": "train"}).info.run_id
    c.log_param(other, "strategy", "STD_Minimal")  # a spelling prove canonicalises: not the same params
    monkeypatch.setenv("MLFLOW_RUN_ID", other)
    own = client.create_run(exp, "std_minimal · s1", {schema.KIND: schema.TRAIN}, {"strategy": "std_minimal"})
    assert own != other and c.get_run(other).info.lifecycle_stage == "active"  # removed at the end only
    assert client._not_taken == [other]
    client._not_taken.clear()  # (its removal, by the reaper after `mlflow run` ends, is tested below)

    hand_made = c.create_run(exp).info.run_id  # not made by `mlflow run`: removed at once
    monkeypatch.setenv("MLFLOW_RUN_ID", hand_made)
    client.settle_project_run()
    assert c.get_run(hand_made).info.lifecycle_stage == "deleted"


def test_the_reaper_deletes_mlflow_s_run_once_mlflow_ended_it(store):
    c = MlflowClient()
    run_id = c.create_run(client.experiment_id(), tags={"mlflow.project.entryPoint": "test"}).info.run_id
    entry_point = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(0.5)"])
    worker = threading.Thread(target=reaper.reap, args=(store.uri, run_id, entry_point.pid))
    worker.start()
    entry_point.wait()
    time.sleep(0.5)
    assert c.get_run(run_id).info.lifecycle_stage == "active"  # `mlflow run` has not ended it yet
    c.set_terminated(run_id, "FAILED")  # what `mlflow run` does when the entry point exits non-zero
    worker.join(10)
    assert c.get_run(run_id).info.lifecycle_stage == "deleted"


def test_a_tracking_server_that_does_not_answer_fails_fast(store):
    uri = f"http://127.0.0.1:{_closed_port()}"
    with pytest.raises(ProveError, match=f"tracking server {uri} does not answer \\(connection refused"):
        client.check_reachable(uri)
    start = time.monotonic()
    result = CliRunner().invoke(cli, ["leaderboard", "--tracking-uri", uri, "--output", "out"])
    assert result.exit_code == 2 and uri in result.output and "Traceback" not in result.output
    assert time.monotonic() - start < 10
