"""A tracking server that goes away while a training runs (a restart, an outage): metrics wait
in the hook's buffer and arrive when it is back; only a refused request is an error. Against a
real `mlflow server` stopped and started again on the same port."""

from __future__ import annotations

import mlflow
import pytest
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

from prove.tracking import client
from tests.services.postgres import free_port
from tests.support import mlflow_process, store_uri


@pytest.mark.slow(35)
def test_metrics_wait_in_the_buffer_while_the_server_is_away(tmp_path, monkeypatch, capsys):
    from prove.training.mlflow_hook import TrackingHook

    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")  # MLflow gives up at once: prove's buffer decides
    backend, port = store_uri(tmp_path / 'store.db'), free_port()
    with mlflow_process("server", backend, port=port) as uri:
        mlflow.set_tracking_uri(uri)
        exp = MlflowClient(uri).create_experiment("outage")
        run_id = MlflowClient(uri).create_run(exp).info.run_id
        hook = TrackingHook(run_id)
        hook._add("train/loss", 1.0, 1)
        hook.flush()
        assert hook._buffer == []
    hook._add("train/loss", 2.0, 2)
    hook._add("train/loss", 3.0, 3)
    hook.flush()  # the server is gone: nothing is dropped, training goes on
    assert [m.step for m in hook._buffer] == [2, 3]
    assert "tracking server not answering; 2 metrics kept" in capsys.readouterr().err
    with mlflow_process("server", backend, port=port) as uri:  # back, on the same address
        hook.flush(final=True)
        assert hook._buffer == []
        history = MlflowClient(uri).get_metric_history(run_id, "train/loss")
        assert sorted((m.step, m.value) for m in history) == [(1, 1.0), (2, 2.0), (3, 3.0)]


def test_a_refused_request_is_not_waited_for(tmp_path):
    import requests

    assert client.server_gone(requests.exceptions.ConnectionError("refused"))
    assert client.server_gone(MlflowException("API request to http://h/api/2.0/mlflow/runs/log-batch failed with "
                                              "exception HTTPConnectionPool: Max retries exceeded"))
    refused = MlflowException("Run 'x' not found", error_code="RESOURCE_DOES_NOT_EXIST")
    assert not client.server_gone(refused)
    calls = []

    def refuse():
        calls.append(1)
        raise refused

    with pytest.raises(MlflowException):
        client.retrying(refuse, "a refused request", limit_s=60)
    assert len(calls) == 1  # no retry for a request the server refused
