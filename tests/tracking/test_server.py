"""`prove server` on a real PostgreSQL: basic authentication, parallel writers through
prove.tracking (every param and metric arrives), batched vs unbatched write cost, and the
command's refusal of bad input before anything starts."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import uuid

import pytest
import requests

from prove.errors import ProveError
from prove.tracking.server import auth_config, check_backend_store_uri, run_server
from tests.services.postgres import REPO, TrackingServer, free_port
from tests.support import store_uri

WORKERS, RUNS_PER_WORKER, STEPS, FLUSH_EVERY = 4, 2, 150, 60
METRIC_KEYS = ("train/loss", "train/lr")  # STEPS steps each: 300 metrics per run
PARAMS_PER_RUN = 24

# One sweep worker: what a cluster job does through prove.tracking, with the server's
# credentials in its environment. Prints the run ids it made as JSON.
WRITER = r"""
import json, sys, time
from mlflow.entities import Metric
from prove.tracking import client, schema

experiment, worker, runs, steps, flush_every, n_params = sys.argv[1], int(sys.argv[2]), *map(int, sys.argv[3:])
exp_id = client.experiment_id(experiment)
made, batches, started = [], 0, time.perf_counter()
for r in range(runs):
    params = {f"p{i:02d}": f"w{worker}-r{r}-{i}" for i in range(n_params)}
    half = dict(list(params.items())[: n_params // 2])
    run_id = client.create_run(exp_id, f"w{worker}-r{r}", {"prove.kind": "train", "worker": str(worker)}, half)
    client.log_params(run_id, params)  # the other half; already logged keys are skipped
    buffer = []
    for step in range(1, steps + 1):
        buffer.append(Metric("train/loss", worker + r / 10 + step / 1000, 1_700_000_000_000 + step, step))
        buffer.append(Metric("train/lr", 1.0 / step, 1_700_000_000_000 + step, step))
        if step % flush_every == 0 or step == steps:
            client.log_metrics(run_id, buffer)
            buffer, batches = [], batches + 1
    client.end_run(run_id, "FINISHED")
    made.append(run_id)
print(json.dumps({"worker": worker, "runs": made, "batches": batches, "seconds": time.perf_counter() - started}))
"""


def _writer_env(server: TrackingServer) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("MLFLOW_")}
    return {**env, **server.environ(), "PYTHONPATH": str(REPO)}


@pytest.fixture
def as_user(monkeypatch):
    """Point MlflowClient() at a server with a user's credentials (MLflow reads them from env)."""
    def use(server: TrackingServer, username: str | None = None, password: str | None = None):
        from mlflow.tracking import MlflowClient

        monkeypatch.setenv("MLFLOW_TRACKING_URI", server.uri)
        monkeypatch.setenv("MLFLOW_TRACKING_USERNAME", username or server.username)
        monkeypatch.setenv("MLFLOW_TRACKING_PASSWORD", password or server.password)
        return MlflowClient(tracking_uri=server.uri)

    return use


# ---- authentication ---------------------------------------------------------------------------

def test_requests_without_credentials_are_refused(tracking_server, as_user):
    search = f"{tracking_server.uri}/api/2.0/mlflow/experiments/search?max_results=1"
    admin = (tracking_server.username, tracking_server.password)
    assert requests.get(search, timeout=30).status_code == 401
    assert requests.get(search, auth=(admin[0], "wrong-password-123"), timeout=30).status_code == 401
    assert requests.get(search, auth=admin, timeout=30).status_code == 200

    # MLflow's DNS-rebinding check accepts this machine's name (jobs call http://<node>:<port>).
    port = tracking_server.uri.rsplit(":", 1)[1]
    by_name = requests.get(search, auth=admin, headers={"Host": f"{socket.gethostname()}:{port}"}, timeout=30)
    assert by_name.status_code == 200, by_name.text
    assert requests.get(search, auth=admin, headers={"Host": "evil.example.com"}, timeout=30).status_code in (400, 403)

    client = as_user(tracking_server)
    name = f"auth-{uuid.uuid4().hex[:8]}"
    exp_id = client.create_experiment(name)
    assert client.get_experiment_by_name(name).experiment_id == exp_id


def test_a_user_created_by_the_admin_writes_into_a_shared_experiment(tracking_server, as_user):
    """The docs' recipe: the admin creates a user over the REST API; with the default permission
    EDIT that user logs runs into an experiment someone else created."""
    user, password = f"u{uuid.uuid4().hex[:8]}", "a-user-password-42"
    created = requests.post(f"{tracking_server.uri}/api/2.0/mlflow/users/create", timeout=30,
                            auth=(tracking_server.username, tracking_server.password),
                            json={"username": user, "password": password})
    assert created.status_code == 200, created.text
    # Creating users is the admin's business.
    refused = requests.post(f"{tracking_server.uri}/api/2.0/mlflow/users/create", timeout=30,
                            auth=(user, password), json={"username": user + "x", "password": password})
    assert refused.status_code == 403

    exp_id = as_user(tracking_server).create_experiment(f"shared-{uuid.uuid4().hex[:8]}")
    client = as_user(tracking_server, user, password)
    run_id = client.create_run(exp_id).info.run_id
    client.log_param(run_id, "who", user)
    client.set_terminated(run_id)
    assert client.get_run(run_id).data.params == {"who": user}


# ---- parallel writers -------------------------------------------------------------------------

def test_parallel_writers_through_prove_tracking_lose_nothing(tracking_server, as_user):
    experiment = f"sweep-{uuid.uuid4().hex[:8]}"
    client = as_user(tracking_server)
    client.create_experiment(experiment)
    started = time.perf_counter()
    workers = [
        subprocess.Popen([sys.executable, "-c", WRITER, experiment, str(w), str(RUNS_PER_WORKER), str(STEPS),
                          str(FLUSH_EVERY), str(PARAMS_PER_RUN)],
                         cwd=REPO, env=_writer_env(tracking_server), stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True)
        for w in range(WORKERS)
    ]
    reports = []
    for worker in workers:
        out, err = worker.communicate(timeout=600)
        assert worker.returncode == 0, err[-3000:]
        reports.append(json.loads(out.strip().splitlines()[-1]))
    elapsed = time.perf_counter() - started

    exp_id = client.get_experiment_by_name(experiment).experiment_id
    runs = {r.info.run_id: r for r in client.search_runs([exp_id], max_results=1000)}
    assert len(runs) == WORKERS * RUNS_PER_WORKER
    for report in reports:
        w = report["worker"]
        assert report["batches"] == RUNS_PER_WORKER * -(-STEPS // FLUSH_EVERY)
        for r, run_id in enumerate(report["runs"]):
            run = runs[run_id]
            assert run.info.status == "FINISHED"
            assert run.data.params == {f"p{i:02d}": f"w{w}-r{r}-{i}" for i in range(PARAMS_PER_RUN)}
            assert run.data.tags["worker"] == str(w)
            assert run.data.tags["prove.kind"] == "train"
            loss = client.get_metric_history(run_id, "train/loss")
            lr = client.get_metric_history(run_id, "train/lr")
            assert sorted((m.step, m.value, m.timestamp) for m in loss) == [
                (s, w + r / 10 + s / 1000, 1_700_000_000_000 + s) for s in range(1, STEPS + 1)]
            assert sorted((m.step, m.value) for m in lr) == [(s, 1.0 / s) for s in range(1, STEPS + 1)]
            assert set(run.data.metrics) == set(METRIC_KEYS)
            assert run.data.metrics["train/loss"] == pytest.approx(w + r / 10 + STEPS / 1000)
    metrics = WORKERS * RUNS_PER_WORKER * STEPS * len(METRIC_KEYS)
    print(f"\n{WORKERS} writers x {RUNS_PER_WORKER} runs: {metrics} metrics in {elapsed:.1f} s "
          f"(incl. interpreter start); per worker {[round(r['seconds'], 1) for r in reports]} s")


def test_parallel_workers_may_create_the_same_experiment(tracking_server, tmp_path):
    """Every job of a sweep calls experiment_id(name) at about the same time; whoever loses
    the race to create the experiment must get its id, not an error."""
    experiment = f"race-{uuid.uuid4().hex[:8]}"
    # Import first, then start together (all ready files exist): the race is in get-or-create.
    code = ("import sys, time; from pathlib import Path; from prove.tracking import client; "
            "gate = Path(sys.argv[2]); (gate / sys.argv[3]).touch(); "
            f"exec('while len(list(gate.iterdir())) < {WORKERS}: time.sleep(0.005)'); "
            "print(client.experiment_id(sys.argv[1]), time.time())")
    workers = [subprocess.Popen([sys.executable, "-c", code, experiment, str(tmp_path), str(w)],
                                cwd=REPO, env=_writer_env(tracking_server), stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True) for w in range(WORKERS)]
    results = [w.communicate(timeout=300) + (w.returncode,) for w in workers]
    failures = [err.strip().splitlines()[-3:] for _, err, rc in results if rc != 0]
    assert not failures, failures
    assert len({out.split()[0] for out, _, _ in results}) == 1


# ---- what batching buys -----------------------------------------------------------------------

def test_batched_writes_cost_far_less_per_metric(tracking_server, as_user, capsys):
    from mlflow.entities import Metric

    client = as_user(tracking_server)
    run_id = client.create_run(client.create_experiment(f"latency-{uuid.uuid4().hex[:8]}")).info.run_id
    client.log_metric(run_id, "warmup", 0.0)
    single_calls, batches, per_batch = 40, 5, 900
    started = time.perf_counter()
    for step in range(single_calls):
        client.log_metric(run_id, "single", float(step), step=step)
    single_s = (time.perf_counter() - started) / single_calls
    started = time.perf_counter()
    for b in range(batches):
        client.log_batch(run_id, metrics=[Metric("batched", float(i), 0, b * per_batch + i) for i in range(per_batch)])
    batch_s = (time.perf_counter() - started) / batches
    assert len(client.get_metric_history(run_id, "batched")) == batches * per_batch
    with capsys.disabled():
        print(f"\nthrough prove server (basic auth, PostgreSQL): log_metric {single_s * 1e3:.1f} ms per call; "
              f"log_batch of {per_batch} metrics {batch_s * 1e3:.1f} ms per call = "
              f"{batch_s / per_batch * 1e3:.3f} ms per metric")
    assert batch_s / per_batch < single_s / 10


# ---- the command refuses bad input before anything starts ---------------------------------------

def test_plain_postgresql_uri_is_refused_with_the_reason():
    with pytest.raises(ProveError, match=r"postgresql\+psycopg2://prove:\*\*\*@db:5432/prove.*psycopg 3"):
        check_backend_store_uri("postgresql://prove:secret@db:5432/prove")
    for bad in ("mysql://u:p@h/db", "postgresql+psycopg://u:p@h/db", "file:///tmp/mlruns", ""):
        with pytest.raises(ProveError):
            check_backend_store_uri(bad)
    assert check_backend_store_uri("sqlite:///tmp/x.db") == "sqlite:///tmp/x.db"


def test_command_exits_2_and_starts_nothing_on_bad_input(tmp_path):
    port, db_port = free_port(), free_port()  # nothing listens on either
    cases = {
        "postgresql://prove:secret@127.0.0.1:5432/prove": "use 'postgresql+psycopg2://prove:***@127.0.0.1:5432/prove'",
        f"postgresql+psycopg2://prove:secret@127.0.0.1:{db_port}/prove": "cannot connect to the backend store",
    }
    for uri, message in cases.items():
        started = time.perf_counter()
        done = subprocess.run([sys.executable, "-m", "prove.cli", "server", "--backend-store-uri", uri, "--port", str(port),
                               "--artifacts-destination", str(tmp_path / "artifacts"), "--admin-password", "x" * 12],
                              cwd=REPO, capture_output=True, text=True, timeout=120)
        assert done.returncode == 2, done.stderr
        assert done.stderr.startswith("Error: ") and message in done.stderr, done.stderr
        assert "secret" not in done.stderr + done.stdout
        assert "mlflow" not in done.stdout.lower()  # nothing was announced, so nothing started
        assert time.perf_counter() - started < 60
        with socket.socket() as probe:  # and nothing listens on the port
            assert probe.connect_ex(("127.0.0.1", port)) != 0
    assert not (tmp_path / "artifacts").exists()


def test_wrong_database_password_is_a_clear_error(postgres_db):
    from sqlalchemy.engine import make_url

    wrong = make_url(postgres_db).set(password="not-the-password").render_as_string(hide_password=False)
    with pytest.raises(ProveError, match="cannot connect to the backend store .*password authentication failed"):
        run_server(wrong, port=free_port())


def test_first_start_needs_an_admin_password_and_a_free_port(tmp_path):
    store = store_uri(tmp_path / 'mlflow.db')
    with pytest.raises(ProveError, match="admin user 'admin' does not exist yet.*PROVE_SERVER_ADMIN_PASSWORD"):
        run_server(store, artifacts_destination=str(tmp_path / "a"), port=free_port())
    with pytest.raises(ProveError, match="at least 12 characters"):
        run_server(store, artifacts_destination=str(tmp_path / "a"), port=free_port(), admin_password="short")
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        with pytest.raises(ProveError, match=f"cannot listen on 127.0.0.1:{busy.getsockname()[1]}"):
            run_server(store, artifacts_destination=str(tmp_path / "a"), port=busy.getsockname()[1], no_auth=True)


@pytest.mark.filterwarnings("ignore:starlette.middleware.wsgi is deprecated")
def test_auth_config_keeps_a_url_encoded_password(tmp_path, monkeypatch):
    """configparser would read '%40' as interpolation; MLflow must get the URI back unchanged."""
    from mlflow.server.auth.config import read_auth_config

    uri = "postgresql+psycopg2://prove:p%40ss%25word@db.cluster:5432/prove"
    path = tmp_path / "basic_auth.ini"
    path.write_text(auth_config(uri, "admin", "EDIT", 60))
    monkeypatch.setenv("MLFLOW_AUTH_CONFIG_PATH", str(path))
    for key in ("MLFLOW_AUTH_ADMIN_USERNAME", "MLFLOW_AUTH_ADMIN_PASSWORD"):
        monkeypatch.delenv(key, raising=False)
    config = read_auth_config()
    assert (config.database_uri, config.admin_username, config.default_permission) == (uri, "admin", "EDIT")
    assert config.auth_cache_ttl_seconds == 60 and config.admin_password is None
