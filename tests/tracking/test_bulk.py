"""Many finished runs at once: written a page per transaction on a SQL store, by parallel
writers elsewhere; read back through MLflow's public API they equal runs written one by one
with MlflowClient (the reference), and a failure leaves no half-written run."""

from __future__ import annotations

import os
import uuid

import pytest
from mlflow.entities import Metric, Param, ViewType
from mlflow.tracking import MlflowClient

from prove.tracking import bulk, client
from tests.support import mlflow_process, private_store, store_uri


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """A real `mlflow server` (sqlite behind it) on 127.0.0.1: the REST path users have."""
    tmp = tmp_path_factory.mktemp("server")
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_")}
    with mlflow_process("server", store_uri(tmp / 'server.db'), "--workers", "2", "--artifacts-destination",
                        str(tmp / "artifacts"), env=env) as uri:
        yield uri


def _use(monkeypatch, uri: str) -> None:
    import mlflow

    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    mlflow.set_tracking_uri(uri)


def _runs(n: int) -> list[bulk.NewRun]:
    return [bulk.NewRun(f"r{i} · s1", {"prove.kind": "test", "prove.i": str(i)},
                        {"stage": "s1", "seed": str(i), **{f"p{k}": str(k) for k in range(120)}},  # > 100 params
                        {"test/mIoU": (40.0 + i / 7, 2000), "test/night/mIoU": (30.0 - i / 3, 2000)})
            for i in range(n)]


def _reference(exp_id: str, runs: list[bulk.NewRun]) -> None:
    """The same runs through MLflow's public client, one request at a time."""
    c = MlflowClient()
    for run in runs:
        run_id = c.create_run(exp_id, run_name=run.name, tags=run.tags).info.run_id
        params = [Param(k, v) for k, v in run.params.items()]
        for i in range(0, len(params), 100):
            c.log_batch(run_id, params=params[i:i + 100])
        c.log_batch(run_id, metrics=[Metric(k, v, 0, s) for k, (v, s) in run.metrics.items()])
        c.set_terminated(run_id, "FINISHED")


def _read(exp_id: str) -> dict[str, tuple]:
    """What the public API says of every run: by name, its status, params, tags, latest metrics."""
    out = {}
    for run in MlflowClient().search_runs([exp_id], run_view_type=ViewType.ACTIVE_ONLY, max_results=1000):
        steps = {m.key: m.step for m in run.data.to_proto().metrics}
        tags = {k: v for k, v in run.data.tags.items() if k.startswith("prove.")}
        out[run.info.run_name] = (run.info.status, run.data.params, tags, run.data.metrics, steps,
                                  run.info.end_time is not None)
        assert MlflowClient().get_metric_history(run.info.run_id, "test/mIoU")[0].step == 2000
    return out


@pytest.mark.parametrize("scheme", ["sqlite", "postgresql", "server"])
def test_bulk_runs_read_back_as_runs_written_one_by_one(tmp_path, monkeypatch, scheme, request):
    if scheme == "sqlite":
        private_store(tmp_path, monkeypatch)
    else:  # PostgreSQL: the lab's shared database (ci/postgres.sh), skipped with the reason where absent
        _use(monkeypatch, request.getfixturevalue("postgres_db" if scheme == "postgresql" else "server"))
    assert (bulk._sql_store(client.mlflow_client()) is not None) == (scheme != "server")
    suffix = uuid.uuid4().hex[:8]  # the PostgreSQL database is shared by the session's tests
    runs = _runs(7)
    seen = []
    ids = bulk.write_runs(client.experiment_id(f"bulk-{suffix}"), runs, seen.append, page=3, writers=3)
    _reference(client.experiment_id(f"reference-{suffix}"), runs)
    assert len(set(ids)) == 7 and sorted(i for batch in seen for i in batch) == list(range(7))
    if scheme != "server":
        assert seen == [[0, 1, 2], [3, 4, 5], [6]]  # a page per transaction
    assert _read(client.experiment_id(f"bulk-{suffix}")) == _read(client.experiment_id(f"reference-{suffix}"))


def test_a_failing_parallel_writer_leaves_no_half_run(server, monkeypatch):
    _use(monkeypatch, server)
    real = MlflowClient.log_batch

    def failing(self, run_id, metrics=(), params=(), tags=(), synchronous=None):
        if any(m.key == "test/mIoU" and m.value == 40.0 + 2 / 7 for m in metrics):
            raise RuntimeError("server went away")
        return real(self, run_id, metrics=metrics, params=params, tags=tags)

    monkeypatch.setattr(MlflowClient, "log_batch", failing)
    exp_id = client.experiment_id("bulk-failing")
    with pytest.raises(RuntimeError, match="server went away"):
        bulk.write_runs(exp_id, _runs(5), writers=2)
    left = MlflowClient().search_runs([exp_id], run_view_type=ViewType.ACTIVE_ONLY)
    assert "r2 · s1" not in {r.info.run_name for r in left} and {r.info.status for r in left} <= {"FINISHED"}
