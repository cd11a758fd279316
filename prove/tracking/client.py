"""The only module that writes to MLflow: a pure client (no torch, no mmengine).

Runs are addressed by id through `MlflowClient` (never a global "active run"), so training
can resume into the same run from another process. Writes are batched (a call through a
tracking server costs tens of milliseconds); searches are paged with the garbage collector
paused (reading 10k runs makes a million small objects). Tag names: `prove.tracking.schema`.
"""

from __future__ import annotations

import functools
import gc
import os
import socket
import subprocess
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

import mlflow
from mlflow.entities import DatasetInput, InputTag, Metric, Param, RunTag, ViewType
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

from prove.settings import COMMAND_ENV, DEFAULT_EXPERIMENT, TRACKING_TIMEOUT_S, stale_after_s

DEFAULT_EXPERIMENT_ID = "0"  # MLflow's `Default` experiment
from prove.tracking import schema

METRICS_PER_BATCH = _BATCH = 900  # MLflow accepts up to 1000 metrics per log_batch
_PAGE = 50_000  # MLflow's largest search page: each page is a query


def mlflow_client(tracking_uri: str | None = None) -> MlflowClient:
    uri = tracking_uri or mlflow.get_tracking_uri()
    if uri not in _PREPARED:  # once per store, not on every call
        check_reachable(uri)
        share_sqlite_file(uri)
        _PREPARED.add(uri)
    return MlflowClient(tracking_uri) if tracking_uri else MlflowClient()


_PREPARED: set[str] = set()


def share_sqlite_file(uri: str) -> None:
    """A sqlite store that does not exist yet is created group-writable when outputs are shared:
    SQLite creates its files 0644 whatever the umask, and a colleague's job could then not
    write to the store (its journals take the database file's mode)."""
    from prove.settings import shared_outputs

    if not uri.startswith("sqlite:///") or not shared_outputs():
        return
    path = Path(uri[len("sqlite:///"):].split("?")[0])
    if not path.exists() and path.parent.is_dir():
        os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o666))  # the umask (002) leaves 664

_REACHABLE: set[str] = set()


def check_reachable(uri: str, timeout_s: float = TRACKING_TIMEOUT_S) -> None:
    """A tracking server that does not accept connections is a clear error within `timeout_s`
    (MLflow itself retries for minutes before it says anything). Checked once per URI."""
    if uri in _REACHABLE or not uri.startswith(("http://", "https://")):
        return
    from urllib.parse import urlsplit

    from prove.errors import ProveError

    parts = urlsplit(uri)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        socket.create_connection((parts.hostname or "localhost", port), timeout=timeout_s).close()
    except OSError as exc:
        reason = "timed out" if isinstance(exc, TimeoutError) else (exc.strerror or str(exc)).lower()
        raise ProveError(f"tracking server {uri} does not answer ({reason} after at most {timeout_s:.0f}s); "
                         "start it (prove server), or fix --tracking-uri / MLFLOW_TRACKING_URI") from None
    _REACHABLE.add(uri)


def tracking_uri() -> str:
    return mlflow.get_tracking_uri()


def experiment_name(name: str | None = None) -> str | None:
    """The experiment a verb writes to: `name` when given; else None, meaning the experiment
    MLflow Projects launched this process in (MLFLOW_EXPERIMENT_ID, set by `mlflow run`); else
    MLflow's MLFLOW_EXPERIMENT_NAME; else settings.DEFAULT_EXPERIMENT.

    `mlflow run` without `--experiment-name` launches in MLflow's `Default` experiment (id 0):
    that is no one's choice, so prove's default applies then (docs/tracking.md#mlflow-run)."""
    if name:
        return name
    if os.environ.get("MLFLOW_EXPERIMENT_ID") not in (None, "", DEFAULT_EXPERIMENT_ID):
        return None
    return os.environ.get("MLFLOW_EXPERIMENT_NAME") or DEFAULT_EXPERIMENT


def experiment_id(name: str | None = None) -> str:
    """The id of the experiment of `experiment_name(name)`, created when missing, and marked as
    one for model training (the MLflow UI then opens on its runs, not on GenAI traces)."""
    resolved = experiment_name(name)
    if resolved is None:
        return _mark_kind(os.environ["MLFLOW_EXPERIMENT_ID"])
    found = mlflow_client().get_experiment_by_name(resolved)
    if found:
        return _mark_kind(found.experiment_id, found.tags)
    try:
        return _mark_kind(mlflow_client().create_experiment(resolved, tags={schema.EXPERIMENT_KIND: schema.MODEL_TRAINING}))
    except MlflowException as exc:  # parallel workers creating it at once: one wins, all use it
        if exc.error_code != "RESOURCE_ALREADY_EXISTS":
            raise
        return _mark_kind(mlflow_client().get_experiment_by_name(resolved).experiment_id)


_MARKED: set[tuple[str, str]] = set()  # (tracking uri, experiment id) already marked by this process


def _mark_kind(exp_id: str, tags: dict | None = None) -> str:
    """Set `mlflow.experimentKind` on an experiment prove writes to, once per process."""
    key = (tracking_uri(), exp_id)
    if key not in _MARKED:
        if tags is None:
            tags = mlflow_client().get_experiment(exp_id).tags
        if tags.get(schema.EXPERIMENT_KIND) != schema.MODEL_TRAINING:
            mlflow_client().set_experiment_tag(exp_id, schema.EXPERIMENT_KIND, schema.MODEL_TRAINING)
        _MARKED.add(key)
    return exp_id


def runs_url(exp_id: str, run_id: str | None = None) -> str:
    """The MLflow UI's runs view of an experiment (or one run's page), for prove to print.

    A tracking server serves the UI itself; a local store (sqlite, a folder) is shown by
    `mlflow ui`, which listens on 127.0.0.1:5000 by default, so the link says how to start it."""
    uri = tracking_uri()
    page = f"#/experiments/{exp_id}/runs" + (f"/{run_id}" if run_id else "")
    if uri.startswith(("http://", "https://")):
        return f"{uri.rstrip('/')}/{page}"
    return f"http://127.0.0.1:5000/{page} (after: mlflow ui --backend-store-uri {uri})"


def find_experiment_id(name: str | None = None) -> str | None:
    """As `experiment_id`, but None instead of creating a missing experiment (for read-only
    commands such as a dry run)."""
    resolved = experiment_name(name)
    if resolved is None:
        return os.environ["MLFLOW_EXPERIMENT_ID"]
    found = mlflow_client().get_experiment_by_name(resolved)
    return found.experiment_id if found else None


def experiment_ids(names: Iterable[str] | None = None, client: MlflowClient | None = None) -> list[str]:
    """Ids of the named experiments (all of the store's when none are named); an unknown
    name is a clear error."""
    from prove.errors import ProveError

    experiments = (client or mlflow_client()).search_experiments()
    names = list(names or [])
    if not names:
        return [e.experiment_id for e in experiments]
    by_name = {e.name: e.experiment_id for e in experiments}
    missing = [n for n in names if n not in by_name]
    if missing:
        raise ProveError(f"unknown experiment(s) {missing}; the store has: {', '.join(sorted(by_name))}")
    return [by_name[n] for n in names]


@contextmanager
def no_gc():
    """Reading 10k runs makes about a million small objects that all live until the rows are
    built; the cyclic garbage collector rescans them again and again (2/3 of the sync time in
    bench/leaderboard_scale.py). Nothing here makes cycles, so it is paused while reading."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def search_runs(exp_ids: list[str], filter_string: str, view=None, client: MlflowClient | None = None) -> list:
    """Every run matching `filter_string`, all pages, with the GC paused (see `no_gc`)."""
    c = client or mlflow_client()
    runs, token = [], None
    with no_gc():
        while True:
            page = c.search_runs(exp_ids, filter_string=filter_string, run_view_type=view or ViewType.ACTIVE_ONLY,
                                 max_results=_PAGE, page_token=token)
            runs.extend(page)
            token = page.token
            if not token:
                return runs


@dataclass(frozen=True)
class ExistingRun:
    run_id: str
    status: str
    heartbeat: float
    work_dir: str
    name: str

    @property
    def stale(self) -> bool:
        return self.status == "RUNNING" and time.time() - self.heartbeat > stale_after_s()


def find_train_runs(exp_id: str, spec_hash: str) -> list[ExistingRun]:
    """The training runs of a spec in an experiment, newest first."""
    runs = mlflow_client().search_runs(
        [exp_id], filter_string=f"tags.`{schema.SPEC_HASH}` = '{spec_hash}' and tags.`{schema.KIND}` = '{schema.TRAIN}'",
        max_results=50, order_by=["attributes.start_time DESC"],
    )
    return [ExistingRun(r.info.run_id, r.info.status, float(r.data.tags.get(schema.HEARTBEAT, 0) or 0),
                        r.data.tags.get(schema.WORK_DIR, ""), r.info.run_name) for r in runs]


@functools.lru_cache(maxsize=1)
def code_version() -> str:
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5,
                             cwd=Path(__file__).resolve().parent)
        return out.stdout.strip() if out.returncode == 0 else "unknown"
    except (OSError, subprocess.SubprocessError):
        return "unknown"


@functools.lru_cache(maxsize=1)
def package_versions() -> str:
    from importlib.metadata import PackageNotFoundError, version

    parts = []
    for pkg in ("prove", "torch", "mmsegmentation", "mmengine", "mmcv-lite", "mmcv", "mlflow"):
        try:
            parts.append(f"{pkg}=={version(pkg)}")
        except PackageNotFoundError:
            continue
    return " ".join(parts)


# -- the run `mlflow run` made for this process ---------------------------------------------------
# MLflow Projects creates a run before it starts an entry point (MLFLOW_RUN_ID). The first run
# prove opens in this process takes it over when it is that run (same entry point, same
# experiment, -P values equal to prove's params, since MLflow's params cannot be rewritten: e.g.
# `-P pretrained=auto` is logged by MLflow as written but resolves to true or false). Else, when
# the command ends (also after bad input), MLflow's run is removed: deleted (`mlflow gc` purges
# it) once `mlflow run` has ended it, by a small detached process (prove.tracking.reaper),
# because `mlflow run` sets the status of its run after the entry point exits and fails on a
# run deleted before that. So one `mlflow run` leaves only the runs it is about, and a typo
# leaves none (docs/tracking.md#mlflow-run).
ENTRY_POINT_KINDS = {"train": schema.TRAIN, "adopt": schema.TRAIN, "test": schema.TEST, "ablation": schema.SWEEP,
                     "leaderboard": schema.ANALYSIS}
_not_taken: list[str] = []  # MLflow Projects' run, when no run of this process took it over


def _project_run(kind: str, exp_id: str, params: dict[str, str]) -> str | None:
    """MLflow Projects' run for this process when a run of `kind` in `exp_id` may take it over.
    Asked once: the variable is dropped, so later runs and workers make their own."""
    run_id = os.environ.pop("MLFLOW_RUN_ID", None)
    if not run_id:
        return None
    run = mlflow_client().get_run(run_id)
    entry = run.data.tags.get("mlflow.project.entryPoint", "")
    if (ENTRY_POINT_KINDS.get(entry) == kind and run.info.experiment_id == exp_id
            and run.info.lifecycle_stage == "active" and schema.KIND not in run.data.tags
            and all(k not in params or params[k] == _unquoted(v) for k, v in run.data.params.items())):
        return run_id
    _not_taken.append(run_id)
    return None


def _unquoted(value: str) -> str:
    """MLflow Projects logs an empty default as the shell word `''`."""
    return "" if value == "''" else value


def settle_project_run() -> None:
    """Remove MLflow Projects' run unless a run of this process took it over (see above);
    called by the CLI when a command ends, whatever the outcome."""
    run_id = os.environ.pop("MLFLOW_RUN_ID", None) or (_not_taken.pop() if _not_taken else None)
    if not run_id:
        return
    c = mlflow_client()
    try:
        run = c.get_run(run_id)
    except MlflowException:
        return
    if schema.KIND in run.data.tags or run.info.lifecycle_stage != "active":
        return
    if "mlflow.project.entryPoint" in run.data.tags:  # `mlflow run` ends it after this process exits
        import sys

        subprocess.Popen([sys.executable, "-m", "prove.tracking.reaper", tracking_uri(), run_id, str(os.getpid())],
                         stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                         start_new_session=True, cwd=str(Path(__file__).resolve().parents[2]))
        return
    if run.info.status in ("RUNNING", "SCHEDULED"):
        c.set_terminated(run_id, "FINISHED")
    c.delete_run(run_id)


@functools.lru_cache(maxsize=1)
def user_name() -> str:
    import getpass

    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


def provenance_tags() -> dict[str, str]:
    """MLflow's own source and user tags (what the UI's Source and User columns show)."""
    tags = {schema.MLFLOW_USER: user_name(), schema.MLFLOW_SOURCE_TYPE: "LOCAL",
            schema.MLFLOW_SOURCE_NAME: os.environ.get(COMMAND_ENV, "prove")}
    commit = code_version()
    if commit != "unknown":
        tags[schema.MLFLOW_SOURCE_COMMIT] = commit
    return tags


def standard_tags() -> dict[str, str]:
    """What every run prove writes records of where and with what it ran."""
    return {schema.HOST: socket.gethostname(), schema.GIT_COMMIT: code_version(), schema.VERSIONS: package_versions()}


def create_run(exp_id: str, run_name: str, tags: dict[str, str], params: dict[str, str],
               parent: str | None = None) -> str:
    """A new RUNNING run with its params and tags, a child of `parent` (else of the sweep this
    process works for); it may be the run `mlflow run` made for this process (see above)."""
    c = mlflow_client()
    all_tags = {**tags, schema.HEARTBEAT: str(time.time()), **standard_tags()}
    parent = parent or os.environ.get(schema.PARENT_RUN_ENV)
    adopted = _project_run(tags.get(schema.KIND, ""), exp_id, params)
    if parent and parent != adopted:
        all_tags[schema.MLFLOW_PARENT] = parent  # the MLflow UI nests a sweep's trainings, a training's tests
    if adopted:
        run_id = adopted  # MLflow Projects already set its source tags
        all_tags[schema.MLFLOW_RUN_NAME] = run_name
    else:
        all_tags.update(provenance_tags())
        run_id = c.create_run(exp_id, run_name=run_name).info.run_id
    existing = c.get_run(run_id).data.params
    new = [Param(k, v) for k, v in params.items() if k not in existing]
    c.log_batch(run_id, params=new[:100], tags=[RunTag(k, v) for k, v in all_tags.items()])
    for start in range(100, len(new), 100):  # MLflow takes at most 100 params per batch
        c.log_batch(run_id, params=new[start:start + 100])
    return run_id


def get_run(run_id: str):
    return mlflow_client().get_run(run_id)


def set_tags(run_id: str, tags: dict[str, str]) -> None:
    mlflow_client().log_batch(run_id, tags=[RunTag(k, str(v)) for k, v in tags.items()])


def log_params(run_id: str, params: dict[str, str]) -> None:
    c = mlflow_client()
    existing = c.get_run(run_id).data.params
    new = [Param(k, str(v)) for k, v in params.items() if k not in existing]
    for start in range(0, len(new), 100):
        c.log_batch(run_id, params=new[start:start + 100])


def log_metrics(run_id: str, metrics: Iterable[Metric]) -> None:
    batch = list(metrics)
    for start in range(0, len(batch), _BATCH):
        mlflow_client().log_batch(run_id, metrics=batch[start:start + _BATCH])


def metric(key: str, value: float, step: int = 0, timestamp_ms: int | None = None) -> Metric:
    return Metric(key, float(value), int(time.time() * 1000) if timestamp_ms is None else timestamp_ms, int(step))


def log_artifact(run_id: str, path: str | os.PathLike, artifact_path: str | None = None) -> None:
    mlflow_client().log_artifact(run_id, str(path), artifact_path)


def log_artifacts(run_id: str, folder: str | os.PathLike, artifact_path: str | None = None) -> None:
    mlflow_client().log_artifacts(run_id, str(folder), artifact_path)


def log_dataset(run_id: str, dataset, context: str) -> None:
    """Log an `mlflow.data` dataset (prove.data.provenance.Provenance.to_mlflow()) as an input.

    MLflow stores a dataset once per experiment, checking whether it exists before inserting it:
    two workers logging the same dataset at once both insert, and the second fails on the
    unique constraint. The dataset then exists, so that one failure is retried once."""
    inputs = [DatasetInput(dataset._to_mlflow_entity(), tags=[InputTag("mlflow.data.context", context)])]
    try:
        mlflow_client().log_inputs(run_id, datasets=inputs)
    except MlflowException as exc:
        if "UNIQUE constraint failed: datasets" not in str(exc) and "duplicate key" not in str(exc):
            raise
        mlflow_client().log_inputs(run_id, datasets=inputs)


@contextmanager
def system_metrics(run_id: str, enabled: bool = True):
    """MLflow's own system-metrics monitor (`system/cpu_utilization_percentage`, memory, disk,
    network; GPU utilisation and memory with nvidia-ml-py, the `gpu` extra) on `run_id` while
    the block runs. MLflow's MLFLOW_ENABLE_SYSTEM_METRICS_LOGGING=false turns it off too, and
    MLFLOW_SYSTEM_METRICS_SAMPLING_INTERVAL sets its period (default 10 s)."""
    if not enabled or os.environ.get("MLFLOW_ENABLE_SYSTEM_METRICS_LOGGING", "").lower() in ("false", "0"):
        yield
        return
    from mlflow.system_metrics.system_metrics_monitor import SystemMetricsMonitor

    monitor = SystemMetricsMonitor(run_id, resume_logging=True, tracking_uri=tracking_uri())
    monitor.start()
    try:
        yield
    finally:
        monitor.finish()


def end_run(run_id: str, status: str) -> None:
    mlflow_client().set_terminated(run_id, status=status)


def set_status(run_id: str, status: str) -> None:
    mlflow_client().update_run(run_id, status=status)


def delete_run(run_id: str) -> None:
    mlflow_client().delete_run(run_id)


def heartbeat(run_id: str) -> None:
    mlflow_client().set_tag(run_id, schema.HEARTBEAT, str(time.time()))


def server_gone(exc: BaseException) -> bool:
    """Whether `exc` says the tracking server did not answer (down, restarting, unreachable,
    overloaded), after MLflow's own retries: worth waiting for, unlike a refused request."""
    import requests

    if isinstance(exc, (requests.exceptions.ConnectionError, requests.exceptions.Timeout, ConnectionError,
                        TimeoutError)):
        return True
    if type(exc).__module__.startswith("mlflow"):
        text = str(exc)
        return ("failed with exception" in text and "API request to" in text) or any(
            code in text for code in ("TEMPORARILY_UNAVAILABLE", "502", "503", "504", "Max retries exceeded"))
    return False


def retrying(call, what: str, limit_s: float | None = None):
    """`call()`, retried while the tracking server is gone (`server_gone`) for up to
    PROVE_TRACKING_RETRY_S, with growing pauses; says once what it is waiting for."""
    from prove.settings import tracking_retry_s

    limit_s = tracking_retry_s() if limit_s is None else limit_s
    start, pause, said = time.monotonic(), 2.0, False
    while True:
        try:
            return call()
        except Exception as exc:
            if not server_gone(exc) or time.monotonic() - start > limit_s:
                raise
            if not said:
                import click

                click.echo(f"tracking server {tracking_uri()} not answering ({what}); retrying for up to "
                           f"{limit_s:.0f} s", err=True)
                said = True
            time.sleep(pause)
            pause = min(pause * 2, 30.0)


def metric_history(run_id: str, key: str) -> list[tuple[int, float]]:
    return [(m.step, m.value) for m in mlflow_client().get_metric_history(run_id, key)]
